"""The date a report speaks of (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from archiver.witnesses.dates import report_date, target_moment
from tests.conftest import REPORT_001


def test_report_001_names_the_end_of_its_month() -> None:
    text = REPORT_001.read_text(encoding="utf-8")
    assert report_date(None, text) == date(2022, 10, 31)


def test_forms_of_dates() -> None:
    assert report_date("Digest 2022-10-05", None) == date(2022, 10, 5)
    assert report_date(None, "Отчёт за 05.10.2022") == date(2022, 10, 5)
    assert report_date(None, "5 October 2022, Almaty") == date(2022, 10, 5)
    assert report_date(None, "Мониторинг: 1 октября 2022") == date(2022, 10, 1)
    assert report_date(None, "Monthly digest, October 2022") == date(2022, 10, 31)
    # The title wins over the text; within one, the latest date.
    assert report_date("Report of 3 March 2021", "1 January 2020 and 2 February 2020") == date(
        2021, 3, 3
    )
    assert report_date(None, "31.02.2022 is no date") is None


def test_dates_far_down_are_events_not_the_report_date() -> None:
    text = "No date up here. " + "x" * 3000 + " 5 October 2022"
    assert report_date(None, text) is None


def test_no_date_falls_back_to_intake() -> None:
    intake = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert target_moment(None, "nothing", intake) == (intake, "intake")
    assert target_moment("October 31, 2022", None, intake) == (
        datetime(2022, 10, 31, 12, tzinfo=UTC),
        "report_text",
    )
