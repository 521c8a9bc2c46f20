"""``archiver run`` serves the pages: start it, log in over HTTP, drop a report into the
inbox and see its sources on the page, SIGTERM, exit 0; and it refuses to listen on a
public address without any token."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import socket
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPORT_001
from tests.e2e.conftest import CliRunner
from tests.e2e.daemon import daemon_process, drop_into_inbox, free_port, stop, wait_for


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_daemon_serves_pages_and_stops_on_sigterm(
    cli: CliRunner, cli_env: dict[str, str], tmp_path: Path
) -> None:
    created = cli("token", "create", "--role", "viewer", "--name", "monitor")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("arch_") and token not in created.stderr
    port = free_port()
    env = {
        **cli_env,
        "ARCHIVER_WEB__PORT": str(port),
        "ARCHIVER_DAEMON__INBOX_POLL_INTERVAL": "0.2",
        "ARCHIVER_DAEMON__CAPTURE": "false",
    }
    base = f"http://127.0.0.1:{port}"
    with daemon_process(env, tmp_path) as daemon:
        wait_for(lambda: _answers(f"{base}/healthz"))
        assert httpx.get(f"{base}/").status_code == 401
        with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as browser:
            login = browser.post("/login", data={"token": token, "next": "/"})
            assert login.status_code == 200 and "Evidence status" in login.text
            assert "0 reports, 0 citations" in login.text

            inbox = Path(cli_env["ARCHIVER_STORAGE__ROOT"]) / "inbox"
            drop_into_inbox(inbox, REPORT_001, "october.txt")

            def listed() -> bool:
                return "1 report, 127 citations, 118 sources" in browser.get("/").text

            wait_for(listed)
            page = browser.get("/reports/1").text
            assert "Showing 127 of 127 citations." in page
            assert len(re.findall(r'class="footnote"', page)) == 127
        stderr = stop(daemon, signal.SIGTERM, timeout=30)
    assert daemon.returncode == 0, stderr
    assert f"web pages at http://127.0.0.1:{port}/" in stderr
    assert "archiver daemon stopped" in stderr and "Traceback" not in stderr
    assert token not in stderr


def test_public_bind_without_tokens_is_refused(cli: CliRunner) -> None:
    done = cli("run", env={"ARCHIVER_WEB__HOST": "0.0.0.0", "ARCHIVER_WEB__PORT": "0"})
    assert done.returncode == 1
    assert "no access token exists" in done.stderr and "Traceback" not in done.stderr


def test_daemon_harvests_a_feed_once_across_restarts(
    cli: CliRunner, cli_env: dict[str, str], tmp_path: Path
) -> None:
    from tests.support.httpserver import Response, serve

    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Digest</title>
<item><title>October</title><link>/october.txt</link></item></channel></rss>"""
    routes = {
        "/feed.xml": Response(200, rss, {"Content-Type": "application/rss+xml"}),
        "/october.txt": Response(200, REPORT_001.read_bytes(), {"Content-Type": "text/plain"}),
    }
    env = {
        **cli_env,
        "ARCHIVER_NETWORK__ALLOW_PRIVATE_NETWORKS": "true",
        "ARCHIVER_DAEMON__CAPTURE": "false",
    }
    token = cli("token", "create", "--role", "viewer", "--name", "ci", env=env).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    with serve(routes) as server:
        assert cli("feed", "add", server.url("/feed.xml"), env=env).returncode == 0
        last_polled: str | None = None
        # The second run polls the feed again (a short interval), and takes nothing twice.
        for interval in ("1h", "1"):
            port = free_port()
            with daemon_process(
                {
                    **env,
                    "ARCHIVER_WEB__PORT": str(port),
                    "ARCHIVER_WEB__FEED_POLL_INTERVAL": interval,
                },
                tmp_path,
            ) as daemon:
                api = f"http://127.0.0.1:{port}/api/v1"

                def polled(api: str = api, before: str | None = last_polled) -> bool:
                    try:
                        feeds = httpx.get(f"{api}/feeds", headers=headers, timeout=2).json()
                    except httpx.HTTPError:
                        return False
                    return feeds[0]["last_polled_at"] not in (None, before)

                wait_for(polled)
                last_polled = httpx.get(f"{api}/feeds", headers=headers).json()[0]["last_polled_at"]
                summary = httpx.get(f"{api}/status", headers=headers).json()["summary"]
                assert (summary["reports"], summary["sources"]) == (1, 118)
                stderr = stop(daemon, signal.SIGTERM, timeout=30)
            assert daemon.returncode == 0, stderr
    # The report was fetched once; the second run only read the feed.
    assert server.requests.count("/october.txt") == 1
    assert server.requests.count("/feed.xml") >= 2


def test_token_commands(cli: CliRunner) -> None:
    first = cli("token", "create", "--role", "lawyer", "--name", "alice")
    second = cli("token", "create", "--role", "viewer", "--name", "bob")
    assert first.returncode == second.returncode == 0
    alice, bob = first.stdout.strip(), second.stdout.strip()
    assert alice != bob and len(alice) > 40
    assert "not shown again" in first.stderr and alice not in first.stderr
    listed = cli("token", "list")
    assert alice not in listed.stdout and bob not in listed.stdout
    lines = listed.stdout.splitlines()
    assert "lawyer" in lines[0] and "alice" in lines[0] and alice[:9] in lines[0]
    assert "active" in lines[0] and "viewer" in lines[1]
    revoked = cli("token", "revoke", "alice")
    assert revoked.returncode == 0 and "revoked token 1 of alice (lawyer)" in revoked.stdout
    assert "revoked" in cli("token", "list").stdout.splitlines()[0]
    again = cli("token", "revoke", "alice")
    assert again.returncode == 1 and again.stderr.startswith("error: alice: no active token")
    bad = cli("token", "create", "--role", "owner", "--name", "x")
    assert bad.returncode == 2 and "owner" in bad.stderr


@pytest.mark.slow
def test_daemon_captures_and_a_lawyer_downloads(
    cli: CliRunner, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Report in the inbox, sources captured through the simulated web, the WARC and
    the screenshot downloaded through the daemon's API; a restart duplicates nothing."""
    from tests.simweb import SimulatedWeb

    token = cli("token", "create", "--role", "lawyer", "--name", "counsel").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    with SimulatedWeb() as web:
        web.page(
            "https://rus.azattyq.org/a/7.html",
            "<title>Seven</title><article><p>Задержан журналист.</p></article>",
        )
        web.page(
            "https://www.adilsoz.kz/7.pdf", b"%PDF-1.4\n%%EOF\n", content_type="application/pdf"
        )
        env = {
            **cli_env,
            "ARCHIVER_DAEMON__INBOX_POLL_INTERVAL": "0.2",
            "ARCHIVER_NETWORK__PROXY": web.proxy_url,
            "ARCHIVER_CAPTURE__PER_HOST_INTERVAL": "0",
        }
        inbox = Path(cli_env["ARCHIVER_STORAGE__ROOT"]) / "inbox"
        snapshots_seen: list[int] = []
        for run in range(2):
            port = free_port()
            api = f"http://127.0.0.1:{port}/api/v1"
            with daemon_process({**env, "ARCHIVER_WEB__PORT": str(port)}, tmp_path) as daemon:
                wait_for(lambda api=api: _answers(api.replace("/api/v1", "/healthz")))
                if run == 0:
                    report = tmp_path / "r.md"
                    report.write_text(
                        "Detained [^1]. The report [^2].\n\n"
                        "[^1]: https://rus.azattyq.org/a/7.html\n"
                        "[^2]: https://www.adilsoz.kz/7.pdf\n",
                        encoding="utf-8",
                    )
                    drop_into_inbox(inbox, report, "r.md")

                def preserved(api: str = api) -> bool:
                    status = httpx.get(f"{api}/status", headers=headers, timeout=5).json()
                    return bool(status["summary"]["preserved"] == 2)

                wait_for(preserved, timeout=120)
                status = httpx.get(f"{api}/status", headers=headers).json()
                snapshots = [snap for s in status["sources"] for snap in s["snapshots"]]
                snapshots_seen.append(len(snapshots))
                article = next(s for s in status["sources"] if s["url"].endswith("/a/7.html"))
                snap = article["snapshots"][-1]
                warc = httpx.get(f"{api}/snapshots/{snap['id']}/warc", headers=headers)
                assert warc.status_code == 200
                assert hashlib.sha256(warc.content).hexdigest() == snap["warc_sha256"]
                shot = httpx.get(f"{api}/snapshots/{snap['id']}/screenshot", headers=headers)
                assert shot.status_code == 200 and shot.content.startswith(b"\x89PNG")
                assert hashlib.sha256(shot.content).hexdigest() == next(
                    a["sha256"] for a in snap["artefacts"] if a["kind"] == "screenshot"
                )
                stderr = stop(daemon, signal.SIGTERM, timeout=90)
            assert daemon.returncode == 0, stderr
            assert "Traceback" not in stderr and token not in stderr
    # The restart captured nothing again: both sources were preserved.
    assert snapshots_seen[0] == snapshots_seen[1] >= 2
    status = json.loads(cli("status", "--format", "json").stdout)
    assert status["summary"]["reports"] == 1 and status["summary"]["sources"] == 2


def test_port_in_use_is_a_clear_error(cli: CliRunner) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli(
            "run", env={"ARCHIVER_WEB__PORT": str(port), "ARCHIVER_DAEMON__CAPTURE": "false"}
        )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"error: cannot listen on 127.0.0.1:{port} (web.host, web.port)" in done.stderr
