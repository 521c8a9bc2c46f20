"""Retry-After values as servers send them (RFC 9110 10.2.3), and what they mean."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archiver.net.politeness import parse_retry_after

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 30 ", 30.0),
        ("86400", 86400.0),  # no cap here: the limiter caps
        ("Fri, 02 Jan 2026 03:05:05 GMT", 60.0),
        ("Fri, 02 Jan 2026 04:04:05 GMT", 3600.0),
        ("Fri, 02 Jan 2026 03:04:05 GMT", 0.0),  # now
        ("Thu, 01 Jan 2026 00:00:00 GMT", 0.0),  # in the past: go ahead
        ("Friday, 02-Jan-26 03:05:05 GMT", 60.0),  # obsolete RFC 850 form
        ("Fri Jan  2 03:05:05 2026", 60.0),  # asctime form, no zone: UTC
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("12 seconds", None),
    ],
)
def test_parse_retry_after(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds
