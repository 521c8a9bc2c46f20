"""Pure decisions behind what the status says beyond a state: suspicion, capture
failure, baseline, missing parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from archiver.capture.completeness import describe, incomplete_parts
from archiver.store.source_facts import (
    Seen,
    baseline_id,
    last_capture_failure,
    preservation_text,
    suspected,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def seen(minutes: int, implied: str, resulting: str, *, via: str = "check", status: int | None = None,
         failure: str | None = None, reason: str = "why") -> Seen:  # fmt: skip
    return Seen(
        T0 + timedelta(minutes=minutes), via, implied, resulting, reason, status, failure, None
    )


def test_suspected_waits_for_confirmation_and_dates_the_run() -> None:
    history = [
        seen(30, "dead", "live", reason="HTTP 404"),
        seen(20, "dead", "live"),
        seen(10, "live", "live"),
    ]
    found = suspected("live", history, T0 + timedelta(hours=2), iso)
    assert found == {
        "state": "dead",
        "reason": "HTTP 404",
        "since": iso(T0 + timedelta(minutes=20)),
        "confirm_at": iso(T0 + timedelta(hours=2)),
    }
    # Confirmed (the state shows it), or not an accusation: nothing suspected.
    assert suspected("dead", [seen(40, "dead", "dead"), *history], None, iso) is None
    assert suspected("live", [seen(40, "unreachable", "unreachable")], None, iso) is None
    assert suspected("pending", [], None, iso) is None


def test_last_capture_failure_is_the_latest_capture_only() -> None:
    failed = seen(
        5, "dead", "pending", via="capture", failure="dns", reason="the host name does not resolve"
    )
    assert last_capture_failure([seen(9, "dead", "pending"), failed], iso) == {
        "at": iso(T0 + timedelta(minutes=5)),
        "reason": "the host name does not resolve",
        "failure": "dns",
        "http_status": None,
        "snapshot_id": None,
    }
    ok = seen(12, "live", "live", via="capture", status=200)
    assert last_capture_failure([ok, failed], iso) is None
    assert last_capture_failure([seen(3, "live", "live")], iso) is None


def test_baseline_is_the_first_preserved() -> None:
    snaps = [
        {"id": "a", "http_status": None},
        {"id": "b", "http_status": 200},
        {"id": "c", "http_status": 200},
    ]
    assert baseline_id(snaps) == "b"
    assert baseline_id([{"id": "a", "http_status": 404}]) is None


def test_preservation_text_never_rounds_a_failure_up() -> None:
    source = {"preserved": False, "capture_failure": {"reason": "HTTP 404"}, "suspected": None}
    assert preservation_text(source) == "not preserved: capture failed (HTTP 404)"
    assert preservation_text({"preserved": False}) == "not captured yet"


def test_incomplete_parts_name_each_missing_part_with_its_reason() -> None:
    parts = incomplete_parts(
        methods=("http", "browser"),
        page_shown=True,
        artefact_kinds=["dom"],
        limits_hit=["page_budget: screenshot not made within 2.0 s"],
        events=[{"type": "artefact_error", "artefact": "pdf", "message": "Printing failed"}],
        media={"status": "failed", "error": "HTTP Error 403: Forbidden"},
    )
    assert parts == [
        {"artefact": "screenshot", "reason": "page_budget: screenshot not made within 2.0 s"},
        {"artefact": "pdf", "reason": "the browser failed to make it: Printing failed"},
        {"artefact": "video", "reason": "HTTP Error 403: Forbidden"},
    ]
    assert describe(parts).startswith("screenshot missing (page_budget")
    # A failed navigation is a failed capture, not an incomplete one; http alone needs none.
    assert incomplete_parts(methods=("browser",), page_shown=False, artefact_kinds=[]) == []
    assert incomplete_parts(methods=("http",), page_shown=True, artefact_kinds=[]) == []
    assert describe([]) == "complete" and describe(None) == "not recorded"
