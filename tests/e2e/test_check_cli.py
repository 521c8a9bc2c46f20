"""``archiver check`` as an operator runs it, against the simulated web."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import CliRunner
from tests.integration.check import pages
from tests.simweb import CANARY_URL, SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401

LIVE = "https://rus.azattyq.org/a/1.html"
DELETED = "https://kaztag.kz/ru/news/2"


def test_check_confirms_a_deletion(cli: CliRunner, simweb: SimulatedWeb, tmp_path: Path) -> None:  # noqa: F811
    simweb.page(LIVE, pages.rotating())
    simweb.page(DELETED, pages.article(noise=2))
    report = tmp_path / "r.md"
    report.write_text(f"A [^1]. B [^2].\n\n[^1]: {LIVE}\n[^2]: {DELETED}\n", encoding="utf-8")
    env = {
        "ARCHIVER_NETWORK__PROXY": simweb.proxy_url,
        "ARCHIVER_CAPTURE__PER_HOST_INTERVAL": "0",
        "ARCHIVER_CAPTURE__EXTRA_CA_FILE": str(simweb.ca_pem_path),
        "ARCHIVER_CAPTURE__MODES": '{default = ["http"]}',
        "ARCHIVER_CHECK__CONFIRM_AFTER": "0",
        "ARCHIVER_CHECK__CANARY_URLS": f'["{CANARY_URL}"]',
    }
    assert cli("add", str(report), env=env).returncode == 0
    assert cli("capture", env=env).returncode == 0
    assert cli("check", env=env).stdout.startswith("nothing to check")
    simweb.remove(DELETED)

    first = cli("check", "--all", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "checked 2 sources: live 2",
        f"to confirm: {DELETED}: looks dead (dead not yet confirmed (HTTP 404: the server says the page is gone))",
    ]
    second = cli("check", "--json", "--source", DELETED, env=env)
    line = json.loads(second.stdout)
    assert line["state_before"] == "live" and line["state"] == "dead"
    assert line["http_status"] == 404
    status = json.loads(cli("status", "--format", "json", env=env).stdout)
    assert {s["url"]: s["state"] for s in status["sources"]} == {LIVE: "live", DELETED: "dead"}
    usage = cli("check", "--all", "--source", "1", env=env)
    assert usage.returncode == 2 and "one of --all, --due, --source" in usage.stderr


def test_check_all_includes_a_captured_source_still_pending(
    cli: CliRunner,
    simweb: SimulatedWeb,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The capture saw the page gone already: the source stays pending until a check
    confirms it, and ``check --all`` is what an operator runs to have that done."""
    simweb.page(LIVE, pages.rotating())
    simweb.host("kaztag.kz")  # up, without the page
    report = tmp_path / "r.md"
    report.write_text(f"A [^1]. B [^2].\n\n[^1]: {LIVE}\n[^2]: {DELETED}\n", encoding="utf-8")
    env = {
        "ARCHIVER_NETWORK__PROXY": simweb.proxy_url,
        "ARCHIVER_CAPTURE__PER_HOST_INTERVAL": "0",
        "ARCHIVER_CAPTURE__EXTRA_CA_FILE": str(simweb.ca_pem_path),
        "ARCHIVER_CAPTURE__MODES": '{default = ["http"]}',
        "ARCHIVER_CHECK__CONFIRM_AFTER": "0",
        "ARCHIVER_CHECK__CANARY_URLS": f'["{CANARY_URL}"]',
    }
    assert cli("add", str(report), env=env).returncode == 0
    assert cli("capture", env=env).returncode == 0
    checked = cli("check", "--all", "--json", env=env)
    assert checked.returncode == 0, checked.stderr
    lines = {o["url"]: o for o in map(json.loads, checked.stdout.splitlines())}
    assert set(lines) == {LIVE, DELETED}
    assert lines[DELETED]["state_before"] == "pending" and lines[DELETED]["state"] == "dead"
