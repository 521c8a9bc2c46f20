"""The ``archiver`` command as an operator runs it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.conftest import REPO, REPORT_001, REPORTS
from tests.e2e.conftest import CliRunner


def test_add_then_status_in_three_formats(cli: CliRunner) -> None:
    added = cli("add", str(REPORT_001))
    assert added.returncode == 0, added.stderr
    assert (
        "127 citations, 118 unique sources (facebook 32, news 78, youtube 8), 118 new"
        in added.stdout
    )

    as_json = cli("status", "--format", "json")
    status = json.loads(as_json.stdout)
    assert status["summary"]["sources"] == 118
    assert len(status["reports"][0]["citations"]) == 127

    as_csv = cli("status", "--format", "csv")
    # A UTF-8 byte order mark first, so a spreadsheet reads Cyrillic as it is.
    assert as_csv.stdout.startswith("\ufeffreport_id,")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout.removeprefix("\ufeff"))))
    assert len(rows) == 127
    assert rows[0]["marker"] == "1"
    assert rows[0]["platform"] == "facebook"
    assert "Baimagambetov" in rows[0]["context"]

    table = cli("status")
    assert table.returncode == 0
    assert "1 reports, 127 citations, 118 sources" in table.stdout
    assert "rus.azattyq.org/a/32064219.html" in table.stdout


def test_add_json_and_idempotence(cli: CliRunner) -> None:
    first = json.loads(cli("add", "--json", str(REPORT_001)).stdout)
    second_run = cli("add", "--json", str(REPORT_001))
    second = json.loads(second_run.stdout)
    assert first["already_stored"] is False and second["already_stored"] is True
    assert second["report_id"] == first["report_id"]
    assert second["citations"] == 127 and second["new_sources"] == 0
    assert cli("add", str(REPORT_001)).stdout.count("already stored") == 1


def test_bad_inputs_give_one_line_errors_and_keep_going(cli: CliRunner, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "scan.pdf"
    binary.write_bytes(b"\x00\x01\x02garbage" * 100)
    result = cli("add", str(empty), str(tmp_path / "missing.docx"), str(binary), str(REPORT_001))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3, result.stderr
    assert "missing.docx: no such file" in result.stderr
    # the good report after the bad ones still went in
    assert "127 citations" in result.stdout
    assert json.loads(cli("status", "--format", "json").stdout)["summary"]["reports"] == 1


def test_bad_configuration_is_a_usage_error(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("status", env={"ARCHIVER_NETWORK__TIMEOUT": "forever"})
    assert result.returncode == 2
    assert "network.timeout" in result.stderr and "ARCHIVER_NETWORK__TIMEOUT" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_option_before_or_after_the_command(cli: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "other.toml"
    # storage.root comes from the environment (which wins); the database from the file.
    config.write_text(f'[storage]\ndatabase_url = "sqlite:///{tmp_path / "elsewhere.db"}"\n')
    assert (
        cli("--config", str(config), "add", str(REPORTS / "003_9814d44c06e8cb4f.txt")).returncode
        == 0
    )
    after = json.loads(cli("status", "--format", "json", "--config", str(config)).stdout)
    assert after["summary"]["reports"] == 1
    assert (tmp_path / "elsewhere.db").exists()
    assert json.loads(cli("status", "--format", "json").stdout)["summary"]["reports"] == 0


def test_default_config_file_is_found_in_the_working_directory(
    cli: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "archiver.toml").write_text(
        (REPO / "config" / "archiver.toml").read_text().replace('root = "storage"', 'root = "data"')
    )
    env = {"ARCHIVER_STORAGE__ROOT": str(tmp_path / "data")}
    assert cli("status", env=env).returncode == 0
    assert (tmp_path / "data" / "archiver.db").exists()


def test_200_mb_report_refused_quickly_without_reading_it(cli: CliRunner, tmp_path: Path) -> None:
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as fh:  # sparse: costs no disk
        fh.truncate(200 * 1024 * 1024)
    result = cli("add", str(huge))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "over the 52428800 byte limit (harvest.max_report_bytes)" in result.stderr
