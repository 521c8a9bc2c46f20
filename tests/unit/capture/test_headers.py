"""WARC field formatting: dates, ids, URIs, and refusing values that would forge fields."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from archiver.capture.warc import artefact_uri, format_record_id, format_warc_date
from archiver.capture.warc._headers import check_uri, encode_fields
from archiver.errors import ArchiverError, WarcError


def test_warc_date_has_microseconds_and_z() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert format_warc_date(moment) == "2026-01-02T03:04:05.123456Z"


def test_warc_date_is_fixed_width_even_on_whole_seconds() -> None:
    assert (
        format_warc_date(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    )


def test_warc_date_converts_other_zones_to_utc() -> None:
    almaty = timezone(timedelta(hours=5))
    moment = datetime(2026, 1, 2, 8, 4, 5, 7, tzinfo=almaty)
    assert format_warc_date(moment) == "2026-01-02T03:04:05.000007Z"


def test_warc_date_refuses_naive_datetimes() -> None:
    with pytest.raises(WarcError, match="timezone-aware"):
        format_warc_date(datetime(2026, 1, 2, 3, 4, 5))


def test_record_id_is_an_angle_bracketed_urn() -> None:
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert format_record_id(value) == "<urn:uuid:12345678-1234-5678-1234-567812345678>"


def test_fields_are_encoded_in_order_with_crlf() -> None:
    block = encode_fields([("WARC-Type", "resource"), ("Content-Length", "0")])
    assert block == b"WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 0\r\n\r\n"


def test_non_ascii_values_are_utf8() -> None:
    block = encode_fields([("WARC-Filename", "қазақ.warc.gz")])
    assert "қазақ".encode() in block


@pytest.mark.parametrize("value", ["a\r\nWARC-Type: forged", "a\nb", "nul\x00"])
def test_values_with_line_breaks_or_controls_are_refused(value: str) -> None:
    with pytest.raises(WarcError):
        encode_fields([("WARC-Filename", value)])


def test_field_names_must_be_tokens() -> None:
    with pytest.raises(WarcError):
        encode_fields([("Bad Name", "x")])


@pytest.mark.parametrize("uri", ["http://example.org/a b", "example.org/a", "", "http://x/\t"])
def test_target_uris_must_be_absolute_and_unspaced(uri: str) -> None:
    with pytest.raises(WarcError):
        check_uri(uri)


def test_artefact_uri_style() -> None:
    assert (
        artefact_uri("screenshot", "https://example.org/") == "urn:screenshot:https://example.org/"
    )
    assert artefact_uri("video-info", "https://y.example/v") == "urn:video-info:https://y.example/v"
    with pytest.raises(WarcError):
        artefact_uri("Screen Shot", "https://example.org/")


def test_warc_errors_belong_to_the_project_tree() -> None:
    assert issubclass(WarcError, ArchiverError)
