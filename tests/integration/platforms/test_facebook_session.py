"""A Facebook post captured in a real Chromium with an operator's session: the session is
sent to Facebook, and afterwards no cookie value is anywhere under storage/ (every byte
searched, gzip members decompressed), nor in the logs; the snapshot says what was
redacted."""

from __future__ import annotations

import json
import logging
import secrets
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from archiver.app import Archive
from archiver.config import Settings
from archiver.models import PlatformRecord, Snapshot
from tests.conftest import FixedClock
from tests.simweb import SimulatedWeb
from tests.simweb.corpus import read_manifest

pytestmark = pytest.mark.slow

POST = next(
    e for e in read_manifest() if e.path.name == "fb-www-dag-permalink-827163017327807-2020.html"
)
XS = "47%3A" + secrets.token_urlsafe(24)  # the session token
C_USER = "1000" + str(secrets.randbelow(10**11)).zfill(11)  # the account id
DATR = secrets.token_urlsafe(18)


def _state() -> dict[str, object]:
    def cookie(name: str, value: str) -> dict[str, object]:
        return {
            "name": name, "value": value, "domain": ".facebook.com", "path": "/",
            "expires": -1, "httpOnly": True, "secure": True, "sameSite": "None",
        }  # fmt: skip

    return {
        "cookies": [cookie("c_user", C_USER), cookie("xs", XS), cookie("datr", DATR)],
        "origins": [],
    }


def _cookies_txt() -> str:
    lines = ["# Netscape HTTP Cookie File"]
    for name, value in (("c_user", C_USER), ("xs", XS), ("datr", DATR)):
        lines.append(f"#HttpOnly_.facebook.com\tTRUE\t/\tTRUE\t0\t{name}\t{value}")
    return "\n".join(lines) + "\n"


def _all_bytes(root: Path) -> list[tuple[Path, bytes]]:
    """Every file under ``root``, and for gzip data every member decompressed."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found.append((path, data))
        start = data.find(b"\x1f\x8b")
        while start >= 0:
            inflater = zlib.decompressobj(wbits=31)
            try:
                plain = inflater.decompress(data[start:])
            except zlib.error:
                start = data.find(b"\x1f\x8b", start + 2)
                continue
            found.append((path, plain))
            used = len(data) - start - len(inflater.unused_data)
            start = data.find(b"\x1f\x8b", start + max(used, 2))
    return found


@pytest.mark.parametrize("form", ["storage-state", "cookies.txt"])
def test_no_session_value_reaches_storage_or_logs(
    form: str,
    simweb: SimulatedWeb,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert POST.url is not None
    # A logged-in page names the account (as Facebook's do) and refreshes the token.
    body = POST.body().replace(
        b"</body>", f'<script>var env={{"USER_ID":"{C_USER}"}};</script></body>'.encode(), 1
    )
    simweb.page(POST.url, body, headers={"Set-Cookie": f"xs={XS}; Path=/; Secure; HttpOnly"})
    session_file = tmp_path / ("session.json" if form == "storage-state" else "cookies.txt")
    session_file.write_text(
        json.dumps(_state()) if form == "storage-state" else _cookies_txt(), "utf-8"
    )
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        capture__page_budget="25",
        capture__max_resources="60",
        platforms__facebook_session=str(session_file),
    )
    report = tmp_path / "report.txt"
    report.write_text(f"The association posted photos[1].\n\n[1]{POST.url}\n", "utf-8")
    caplog.set_level(logging.DEBUG)
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        outcomes = archive.capture()
        assert [o.error for o in outcomes] == [None]
        with archive.db.session() as session:
            snapshot = session.scalars(select(Snapshot)).one()
            record = session.scalars(select(PlatformRecord)).one()

    # The session was used: Chromium sent it to Facebook through the archiver's client.
    sent = [h.get("cookie", "") for _, url, h in simweb.requests if "facebook.com" in url]
    assert any(XS in cookie and C_USER in cookie for cookie in sent), sent
    assert record.session_used and record.detail == "available"
    assert "Aquí vos deixamos" in (record.extracted["text"] or "")

    # Nothing of it under storage/: WARC (raw and decompressed), database, anything else.
    secrets_ = [XS.encode(), C_USER.encode(), DATR.encode()]
    files = _all_bytes(settings.storage.root)
    assert any(p.name.endswith(".warc.gz") for p, _ in files)
    leaks = [(str(p), s) for p, data in files for s in secrets_ if s in data]
    assert leaks == []
    assert not [s for s in secrets_ if s.decode() in caplog.text]

    # The snapshot says what was redacted (where, never what).
    warc = settings.storage.root / snapshot.warc_path
    with warc.open("rb") as handle:
        provenance = next(
            json.loads(r.content_stream().read())
            for r in ArchiveIterator(handle)
            if r.rec_type == "metadata"
        )
    wheres = {item["where"] for item in provenance["platform"]["redactions"]}
    assert {"request headers", "response head", "response body"} <= wheres
    assert provenance["platform"]["session"]["cookies"] == ["c_user", "xs", "datr"]
