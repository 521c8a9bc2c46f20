"""Who captured, from which server, and what is missing: in the signed manifest, the
WARC's warcinfo record and the certificate of an exported package."""

from __future__ import annotations

import getpass
import json
import zipfile
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.integration.integrity.package_fixtures import sealed_archive

WHO = {"organisation": "Example Monitor", "operator": "Documentation team"}


def test_manifest_warcinfo_and_certificate_name_who_and_where(
    tmp_path: Path, clock: FixedClock, local_tsa: LocalTsa
) -> None:
    database_url = f"sqlite:///{tmp_path / 'a.db'}"
    with sealed_archive(tmp_path, database_url, clock, local_tsa, integrity=WHO) as done:
        package = done.archive.export(str(done.source_id), tmp_path / "p.zip", actor="cli:t")
    with zipfile.ZipFile(package) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        html = zf.read("certificate.html").decode()
    account = getpass.getuser()
    assert manifest["captured_by"] == {**WHO, "os_account": account}
    assert manifest["network"] == {"server_ip": "127.0.0.1", "proxy": None}
    assert manifest["incomplete"] == []  # a plain capture makes no other parts
    assert (
        f"organisation Example Monitor; operator Documentation team; OS account {account}" in html
    )
    assert "<th>Server address</th><td>127.0.0.1</td>" in html
    assert "<th>Parts missing</th><td>none: every part" in html
    warc = next((tmp_path / "storage").rglob("*.warc.gz"))
    with warc.open("rb") as fh:
        info = next(iter(ArchiveIterator(fh)))
        block = info.content_stream().read().decode()
    assert info.rec_type == "warcinfo"
    assert "operator: Documentation team\r\norganisation: Example Monitor\r\n" in block
    assert f"os-account: {account}\r\n" in block
