"""``archiver run`` as a subprocess: inbox intake, clean stop on signals, restart."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.conftest import REPORT_001, REPORTS
from tests.e2e.conftest import CliRunner
from tests.e2e.daemon import daemon_process, drop_into_inbox, stop, wait_for


def _env(cli_env: dict[str, str]) -> dict[str, str]:
    return {
        **cli_env,
        "ARCHIVER_DAEMON__INBOX_POLL_INTERVAL": "0.2",
        # Intake only: capture is tested against the simulated web elsewhere.
        "ARCHIVER_DAEMON__CAPTURE": "false",
    }


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_inbox_intake_and_clean_stop(
    cli: CliRunner, cli_env: dict[str, str], tmp_path: Path, sig: signal.Signals
) -> None:
    inbox = Path(cli_env["ARCHIVER_STORAGE__ROOT"]) / "inbox"
    with daemon_process(_env(cli_env), tmp_path) as daemon:
        wait_for(inbox.is_dir)
        drop_into_inbox(inbox, REPORT_001, "october.txt")
        bad = inbox / "broken.docx"
        bad.write_bytes(b"PK\x03\x04 this is not a word file")
        wait_for(lambda: not (inbox / "october.txt").exists() and not bad.exists())
        done = list((inbox / "done").iterdir())
        failed = sorted(p.name for p in (inbox / "failed").iterdir())
        assert [p.name.endswith("-october.txt") for p in done] == [True]
        assert len(failed) == 2 and failed[1] == failed[0] + ".error.txt"
        stderr = stop(daemon, sig, timeout=30)
    assert daemon.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "stopping" in stderr and "archiver daemon stopped" in stderr
    assert "127 citations, 118 sources (118 new)" in stderr
    status = json.loads(cli("status", "--format", "json").stdout)
    assert status["summary"]["citations"] == 127

    # A restart picks up where it stopped: a new file is taken in, nothing is duplicated.
    with daemon_process(_env(cli_env), tmp_path) as daemon:
        drop_into_inbox(inbox, REPORT_001, "october-again.txt")
        drop_into_inbox(inbox, REPORTS / "003_9814d44c06e8cb4f.txt", "case.txt")
        wait_for(lambda: len(list((inbox / "done").iterdir())) == 3)
        stderr = stop(daemon, signal.SIGTERM, timeout=30)
    assert daemon.returncode == 0
    assert "already stored" in stderr
    status = json.loads(cli("status", "--format", "json").stdout)
    assert status["summary"]["reports"] == 2
    assert status["summary"]["citations"] == 127
    assert status["summary"]["sources"] == 118


@pytest.mark.slow
def test_daemon_captures_new_sources(
    cli: CliRunner, cli_env: dict[str, str], tmp_path: Path
) -> None:
    from tests.simweb import SimulatedWeb

    with SimulatedWeb() as web:
        web.page("https://rus.azattyq.org/a/7.html", "<title>Seven</title><p>Detained.</p>")
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
        with daemon_process(env, tmp_path) as daemon:
            wait_for(inbox.is_dir)
            report = tmp_path / "r.md"
            report.write_text(
                "Detained [^1]. The report [^2].\n\n"
                "[^1]: https://rus.azattyq.org/a/7.html\n[^2]: https://www.adilsoz.kz/7.pdf\n",
                encoding="utf-8",
            )
            drop_into_inbox(inbox, report, "r.md")

            def preserved() -> bool:
                out = cli("status", "--format", "json", env=env).stdout
                return json.loads(out)["summary"]["preserved"] == 2

            wait_for(preserved, timeout=120)
            stderr = stop(daemon, signal.SIGTERM, timeout=60)
    assert daemon.returncode == 0, stderr
    assert "captured 2 sources: 2 preserved" in stderr
    assert "Traceback" not in stderr
