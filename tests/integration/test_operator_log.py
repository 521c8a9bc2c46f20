"""An operator who knows (issue 17, 5): the daemon's plain-words lines and ``archiver
status``'s summary from real captures through the simulated web, the first start's
hint from ``archiver run`` itself, and third-party chatter kept at DEBUG."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.app import Archive
from archiver.capture.media import _Logger
from archiver.capture.session import NO_SECRETS
from archiver.cli import main
from archiver.cli._base import _cli_logging, setup_logging
from archiver.config import Settings
from archiver.models import CheckRun
from archiver.schedule.checks import CheckScheduler
from archiver.schedule.operator import command_path, stamp_trouble
from archiver.schedule.telling import Teller, log_start
from tests.conftest import REPO, FixedClock
from tests.simweb import SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401

OK_1 = "https://rus.azattyq.org/a/1.html"
OK_2 = "https://orda.kz/a/2/"
GONE = "https://kaztag.kz/ru/news/deleted"
NO_HOST_1 = "https://vanished-outlet.kz/a/1"
NO_HOST_2 = "https://vanished-outlet.kz/a/2"
LATER = "https://zakon.kz/later.html"
REPORT = f"""Monitoring digest

A trial began[1]. It was adjourned[2]. The story was deleted[3]. The outlet is gone[4].
Its other story too[5]. A later hearing[6]. The trial again[7].

[1] {OK_1}
[2] {OK_2}
[3] {GONE}
[4] {NO_HOST_1}
[5] {NO_HOST_2}
[6] {LATER}
[7] {OK_1}
"""
PAGE = b"<!doctype html><html><head><title>Court</title></head><body><p>Text.</p></body></html>"


@pytest.fixture
def web(simweb: SimulatedWeb) -> SimulatedWeb:  # noqa: F811
    simweb.page(OK_1, PAGE)
    simweb.page(OK_2, PAGE)
    simweb.page(LATER, PAGE)
    simweb.host("kaztag.kz")  # the host answers; the article is 404
    simweb.dns_failure("vanished-outlet.kz")
    return simweb


@pytest.fixture
def archive(
    web: SimulatedWeb, make_settings: Callable[..., Settings], clock: FixedClock, tmp_path: Path
) -> Iterator[Archive]:
    """Report 1: six sources; all but the later one captured (two preserved, one 404,
    two names that do not resolve), the later one still to go."""
    settings = make_settings(
        network__proxy=web.proxy_url,
        capture__extra_ca_file=str(web.ca_pem_path),
        capture__per_host_interval="0",
        # A TSA that refuses connections: stamps stay pending, with the reason.
        integrity__tsa_urls=json.dumps(["http://127.0.0.1:9/tsr"]),
    )
    # Plain HTTP only: the browser capture has its own (slow) tests.
    http_only = {"default": ("http",), "article": ("http",)}
    settings = settings.model_copy(
        update={"capture": settings.capture.model_copy(update={"modes": http_only})}
    )
    report = tmp_path / "digest.txt"
    report.write_text(REPORT, encoding="utf-8")
    with Archive.open(settings, clock=clock) as opened:
        opened.add(str(report))
        later = opened.find_sources([LATER])
        every = [s["id"] for s in opened.status()["sources"] if s["id"] not in later]
        outcomes = opened.capture(source_ids=every)
        assert len(outcomes) == 5 and not [o.error for o in outcomes if o.error]
        yield opened


LINE = "report 1 (digest.txt): 6 sources, 2 captured, 3 failed (dns 2, 404 1), 1 to go"


def test_status_on_a_terminal_shows_the_daemon_summary(archive: Archive) -> None:
    archive.stamp_pending()  # the TSA refuses: stamps stay pending, with why
    settings = archive.settings
    env = {
        "ARCHIVER_STORAGE__ROOT": str(settings.storage.root),
        "ARCHIVER_STORAGE__DATABASE_URL": settings.storage.database_url,
        "ARCHIVER_INTEGRITY__TSA_URLS": json.dumps(list(settings.integrity.tsa_urls)),
    }
    result = CliRunner(env=env).invoke(main, ["status"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert LINE in lines
    [trouble] = [line for line in lines if line.startswith("timestamps pending: ")]
    pending = stamp_trouble(archive.db)
    assert trouble == pending
    assert "authority 127.0.0.1: no token yet" in trouble and "(last error: " in trouble
    assert any(line.startswith("notifications off: ") for line in lines)
    # Scripts keep their formats.
    as_json = CliRunner(env=env).invoke(main, ["status", "--format", "json"])
    json.loads(as_json.output)


def test_the_daemon_tells_what_changed_in_plain_words(
    archive: Archive, web: SimulatedWeb, caplog: pytest.LogCaptureFixture
) -> None:
    teller = Teller(archive)
    with caplog.at_level(logging.INFO, logger="archiver.operator"):
        teller.start()
        assert [r.getMessage() for r in caplog.records] == [LINE]
        caplog.clear()
        teller.tell()  # nothing new: nothing said
        assert caplog.records == []
        archive.capture(source_ids=archive.find_sources([LATER]))
        web.offline()
        reports = archive.check(everything=True)
        assert reports and all(r.degraded for r in reports)
        teller.tell()
    said = [r.getMessage() for r in caplog.records]
    assert "report 1 (digest.txt): 6 sources, 3 captured, 3 failed (dns 2, 404 1), 0 to go" in said
    [degraded] = [line for line in said if " degraded: " in line]
    run = reports[0]
    assert degraded.startswith(f"re-check run {run.run_id} degraded: {run.degraded_reason}; ")
    assert "none changed state" in degraded


def test_stamp_trouble_is_said_once_until_it_changes(
    archive: Archive, caplog: pytest.LogCaptureFixture
) -> None:
    teller = Teller(archive)
    archive.stamp_pending()
    with caplog.at_level(logging.INFO, logger="archiver.operator"):
        teller.start()
        archive.integrity.stamp_all()  # the same failure again
        teller.tell()
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("timestamps")]
    assert len(said) == 1 and said[0] == stamp_trouble(archive.db)


def test_first_start_says_how_to_make_the_first_admin_token(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    with Archive.open(make_settings()) as archive, caplog.at_level(logging.INFO):
        log_start(archive, "my.toml")
    said = "\n".join(r.getMessage() for r in caplog.records)
    command = command_path()
    assert Path(command.split()[0]).is_absolute()
    assert (
        f"  {command} --config {Path('my.toml').absolute()} token create --role admin "
        "--name YOUR-NAME" in said
    )
    assert "notifications off" in said


def test_archiver_run_prints_where_the_pages_are_and_the_first_token_command(
    tmp_path: Path,
) -> None:
    """The real command, as an operator starts it: stopped by SIGTERM once it has said
    where the pages are and how to get in."""
    env = {
        **os.environ,
        "ARCHIVER_STORAGE__ROOT": str(tmp_path / "storage"),
        "ARCHIVER_WEB__PORT": "0",
        "ARCHIVER_DAEMON__CAPTURE": "false",
        "ARCHIVER_DAEMON__CHECK": "false",
        "ARCHIVER_WITNESSES__LOOKUP_UNPRESERVED": "false",
        "ARCHIVER_CONFIG": str(REPO / "config" / "archiver.toml"),
    }
    archiver = Path(sys.executable).parent / "archiver"
    proc = subprocess.Popen(
        [str(archiver), "run"], env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        for line in proc.stderr:
            seen.append(line)
            text = "".join(seen)
            if "web pages at http://127.0.0.1:" in text and "token create" in text:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=30)[1]
    text = "".join(seen)
    assert f"  {archiver} token create --role admin --name YOUR-NAME" in text, text + rest
    assert "re-checks off (daemon.check = false)" in text
    assert proc.returncode == 0


def test_third_party_chatter_is_debug_unless_an_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO")
        logging.getLogger("httpx").info("HTTP Request: POST https://timestamp.digicert.com 503")
        logging.getLogger("apscheduler.executors").warning("Run time of job was missed")
        _Logger(NO_SECRETS).warning("[youtube] Retrying (1/10)...")
        logging.getLogger("httpcore").error("connection pool broke")
        logging.getLogger("archiver.operator").info("report 1 (x): 1 sources")
        err = capsys.readouterr().err
    finally:
        root.handlers[:], root.level = saved
    assert "digicert" not in err and "missed" not in err and "Retrying" not in err
    assert "ERROR httpcore: connection pool broke" in err
    assert "INFO archiver.operator: report 1 (x): 1 sources" in err


def test_a_command_s_warning_never_lands_inside_its_progress_bar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    root = logging.getLogger()
    saved = root.handlers[:]
    try:
        _cli_logging()
        terminal.write("capturing  [#####-----]  50%")
        logging.getLogger("archiver.capture.media").warning("yt-dlp: video unavailable")
        logging.getLogger("yt_dlp").warning("chatter")
    finally:
        root.handlers[:] = saved
    assert terminal.getvalue() == "capturing  [#####-----]  50%\r\x1b[Kyt-dlp: video unavailable\n"


def test_a_degraded_daemon_check_run_is_said_once(
    archive: Archive, web: SimulatedWeb, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding: a degraded re-check in the daemon was logged three times: the runner's
    ERROR, the pass's summary at ERROR, and the operator's plain-words line."""
    archive.capture(source_ids=archive.find_sources([LATER]))
    clock.advance(days=60)  # every source due
    web.offline()
    teller = Teller(archive)
    teller.start()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        scheduler = CheckScheduler(archive, should_stop=lambda: False)
        assert asyncio.run(scheduler.check_pass()) > 0
        teller.tell()
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([line for line in loud if "degraded" in line.lower()]) == 1, loud
    assert any(" degraded: " in line for line in loud), loud


def test_a_degraded_run_finishing_after_a_later_one_is_still_said(
    archive: Archive, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding (review): the operator lines remembered the highest run id told, so a
    run with a lower id finishing later (check tasks of several partitions at once, on
    PostgreSQL) was never said, degraded or not."""
    teller = Teller(archive)
    teller.start()
    with archive.db.session() as session:
        slow = CheckRun(started_at=clock(), trigger="daemon", summary={})
        quick = CheckRun(started_at=clock(), trigger="daemon", summary={})
        session.add_all([slow, quick])
        session.flush()
        quick.finished_at = clock()
        slow_id = slow.id
    clock.advance(seconds=30)
    teller.tell()
    with archive.db.session() as session:
        run = session.get(CheckRun, slow_id)
        assert run is not None
        run.finished_at, run.degraded, run.degraded_reason = (
            clock(),
            True,
            "our proxy is unreachable",
        )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="archiver.operator"):
        teller.tell()
        teller.tell()  # said once
    said = [r.getMessage() for r in caplog.records if " degraded: " in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(f"re-check run {slow_id} degraded: our proxy")


@pytest.mark.parametrize("command", ["capture", "check"])
def test_the_commands_with_a_progress_bar_keep_the_line_safe_log(
    command: str, tmp_path: Path
) -> None:
    """Finding (review): capture and check replaced the line-safe handler main()
    installs with the daemon's, so their warnings still broke into the progress bar."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    env = {"ARCHIVER_STORAGE__ROOT": str(tmp_path / "storage")}
    try:
        result = CliRunner(env=env).invoke(main, [command])
        handlers = root.handlers[:]
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    assert result.exit_code == 0, result.output
    assert "_LineSafeHandler" in [type(h).__name__ for h in handlers]
