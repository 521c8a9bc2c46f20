"""Save Page Now's answers, read (pure)."""

from __future__ import annotations

from datetime import timedelta

from archiver.witnesses.spn import Answer, backoff, memento_url, read_answer


def test_answers() -> None:
    assert read_answer(200, '{"url": "u", "job_id": "spn2-1"}', None) == Answer("job", "spn2-1")
    assert read_answer(200, '{"status": "pending"}', None).kind == "pending"
    done = read_answer(200, '{"status": "success", "timestamp": "20221005140211", '
                            '"original_url": "https://a.kz/"}', None)  # fmt: skip
    assert (done.kind, done.timestamp, done.original_url) == (
        "success",
        "20221005140211",
        "https://a.kz/",
    )
    assert read_answer(429, "", 120.0) == Answer(
        "retry", message="HTTP 429: rate limited", retry_after=120.0
    )
    assert read_answer(503, "<html>busy</html>", None).kind == "retry"
    assert read_answer(401, "", None).kind == "failed"
    limit = read_answer(200, '{"status": "error", "status_ext": "error:user-session-limit", '
                             '"message": "busy"}', None)  # fmt: skip
    assert limit == Answer("retry", message="error:user-session-limit: busy")
    blocked = read_answer(200, '{"status": "error", "status_ext": "error:blocked-url"}', None)
    assert blocked.kind == "failed"
    assert read_answer(200, "not json", None).kind == "retry"
    assert read_answer(None, "", None).kind == "retry"


def test_backoff_doubles_respects_retry_after_and_is_capped() -> None:
    assert [backoff(n, None) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (1, 2, 4)]
    assert backoff(1, 600) == timedelta(minutes=10)
    assert backoff(30, None) == timedelta(days=1)


def test_memento_url() -> None:
    assert memento_url("https://web.archive.org/save", "20221005140211", "https://a.kz/x") == (
        "https://web.archive.org/web/20221005140211/https://a.kz/x"
    )
