"""WarcWriter: exact bytes, digests, linking fields, bodies of every shape, failures."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archiver.capture.warc import Truncated, WarcWriter
from archiver.errors import WarcError
from tests.conftest import FixedClock
from tests.unit.capture.conftest import SequentialIds
from tests.unit.capture.warcbytes import members, records, rid

MakeWriter = Callable[[], tuple[WarcWriter, io.BytesIO]]
URL = "https://example.org/news/1"
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 14\r\n\r\n"
BODY = b"<p>evidence</p>"[:14]
REQUEST = b"GET /news/1 HTTP/1.1\r\nHost: example.org\r\nUser-Agent: test\r\n\r\n"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def started(make_writer: MakeWriter) -> tuple[WarcWriter, io.BytesIO]:
    writer, out = make_writer()
    writer.write_warcinfo(operator="test")
    return writer, out


def test_resource_record_bytes_exactly(make_writer: MakeWriter) -> None:
    writer, out = started(make_writer)
    png = b"\x89PNG\r\n\x1a\nfake"
    writer.write_resource("urn:screenshot:" + URL, "image/png", png)
    header, block = list(members(out.getvalue()))[1].split(b"\r\n\r\n", 1)
    digest = "sha256:" + hashlib.sha256(png).hexdigest()  # computed here, independently
    assert header.decode() == (
        "WARC/1.1\r\n"
        "WARC-Type: resource\r\n"
        "WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000002>\r\n"
        "WARC-Date: 2026-01-02T03:04:05.000000Z\r\n"
        "WARC-Target-URI: urn:screenshot:https://example.org/news/1\r\n"
        "WARC-Warcinfo-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
        f"WARC-Block-Digest: {digest}\r\n"
        f"WARC-Payload-Digest: {digest}\r\n"
        "Content-Type: image/png\r\n"
        f"Content-Length: {len(png)}"
    )
    assert block == png + b"\r\n\r\n"


def test_response_digests_known_answer(make_writer: MakeWriter) -> None:
    writer, out = started(make_writer)
    written = writer.write_response(URL, HEAD, BODY, ip_address="192.0.2.7")
    fields, block = records(out.getvalue())[1]
    assert block == HEAD + BODY
    assert fields["WARC-Block-Digest"] == sha256(HEAD + BODY)
    # The payload is the entity body only, after the head's blank line.
    assert fields["WARC-Payload-Digest"] == sha256(BODY)
    assert fields["Content-Type"] == "application/http;msgtype=response"
    assert fields["WARC-IP-Address"] == "192.0.2.7"
    assert fields["WARC-Target-URI"] == URL
    assert written.block_digest == fields["WARC-Block-Digest"]
    assert written.payload_digest == fields["WARC-Payload-Digest"]
    assert written.content_length == len(HEAD + BODY)


def test_dechunked_response_keeps_a_note_and_a_true_content_length(make_writer: MakeWriter) -> None:
    writer, out = started(make_writer)
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    writer.write_response(URL, head, b"hello world")
    fields, block = records(out.getvalue())[1]
    stored_head = (
        b"HTTP/1.1 200 OK\r\n"
        b"X-Archiver-Original-Transfer-Encoding: chunked\r\n"
        b"Content-Length: 11\r\n\r\n"
    )
    assert block == stored_head + b"hello world"
    assert fields["WARC-Payload-Digest"] == sha256(b"hello world")
    assert fields["WARC-Block-Digest"] == sha256(stored_head + b"hello world")


def test_request_links_to_response_and_has_payload_digest_only_with_a_body(
    make_writer: MakeWriter,
) -> None:
    writer, out = started(make_writer)
    response = writer.write_response(URL, HEAD, BODY)
    writer.write_request(URL, REQUEST, concurrent_to=response.record_id)
    post = b"POST /f HTTP/1.1\r\nHost: example.org\r\nContent-Length: 3\r\n\r\n"
    writer.write_request(URL, post, b"a=1", concurrent_to=response.record_id)
    _, (_, _), (get_fields, get_block), (post_fields, _) = records(out.getvalue())
    assert get_fields["WARC-Concurrent-To"] == response.record_id == rid(2)
    assert get_fields["Content-Type"] == "application/http;msgtype=request"
    assert get_fields["WARC-Block-Digest"] == sha256(get_block)
    assert "WARC-Payload-Digest" not in get_fields
    assert post_fields["WARC-Payload-Digest"] == sha256(b"a=1")


def test_truncation_is_recorded(make_writer: MakeWriter) -> None:
    writer, out = started(make_writer)
    writer.write_response(URL, HEAD, BODY[:5], truncated=Truncated.LENGTH)
    writer.write_resource("urn:video:" + URL, "video/mp4", b"\0" * 10, truncated=Truncated.TIME)
    writer.write_response(URL, HEAD, BODY)
    (_, _), (response, block), (resource, _), (whole, _) = records(out.getvalue())
    assert response["WARC-Truncated"] == "length"
    assert block == HEAD + BODY[:5]  # the received head is kept, its Content-Length too
    assert resource["WARC-Truncated"] == "time"
    assert "WARC-Truncated" not in whole
    with pytest.raises(WarcError, match="WARC-Truncated"):
        writer.write_response(URL, HEAD, BODY, truncated="because")  # type: ignore[arg-type]


def test_metadata_is_canonical_json_referring_to_the_response(make_writer: MakeWriter) -> None:
    writer, out = started(make_writer)
    response = writer.write_response(URL, HEAD, BODY)
    data = {"redirects": [URL], "user_agent": "ua", "b": {"é": 1.5}}
    writer.write_metadata(URL, data, refers_to=response.record_id)
    fields, block = records(out.getvalue())[2]
    assert (
        block
        == b'{"b":{"\xc3\xa9":1.5},"redirects":["https://example.org/news/1"],"user_agent":"ua"}'
    )
    assert json.loads(block) == data
    assert fields["Content-Type"] == "application/json"
    assert fields["WARC-Refers-To"] == response.record_id
    assert fields["WARC-Target-URI"] == URL
    assert fields["WARC-Block-Digest"] == sha256(block)
    assert "WARC-Payload-Digest" not in fields
    with pytest.raises(WarcError, match="JSON"):
        writer.write_metadata(URL, {"when": datetime.now(UTC)}, refers_to=response.record_id)


def test_warcinfo_first_once_and_named_by_every_record(make_writer: MakeWriter) -> None:
    writer, out = make_writer()
    with pytest.raises(WarcError, match="warcinfo record first"):
        writer.write_resource("urn:dom:" + URL, "text/html", b"x")
    info = writer.write_warcinfo(operator="op", filename="x.warc.gz", settings={"k": 1})
    with pytest.raises(WarcError, match="first record"):
        writer.write_warcinfo(operator="op")
    writer.write_resource("urn:dom:" + URL, "text/html", b"x")
    (warcinfo, block), (resource, _) = records(out.getvalue())
    assert warcinfo["WARC-Type"] == "warcinfo"
    assert warcinfo["WARC-Filename"] == "x.warc.gz"
    assert warcinfo["Content-Type"] == "application/warc-fields"
    assert "WARC-Target-URI" not in warcinfo and "WARC-Warcinfo-ID" not in warcinfo
    assert warcinfo["WARC-Block-Digest"] == sha256(block)
    assert b"format: WARC File Format 1.1\r\n" in block and b"k: 1\r\n" in block
    assert resource["WARC-Warcinfo-ID"] == info.record_id == writer.warcinfo_id


def test_same_inputs_give_identical_bytes(clock: FixedClock, tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(bytes(range(256)) * 5000)

    def write() -> bytes:
        out = io.BytesIO()
        writer = WarcWriter(out, clock=clock, id_factory=SequentialIds())
        writer.write_warcinfo(operator="op", settings={"a": 1})
        response = writer.write_response(URL, HEAD, iter([BODY[:3], BODY[3:]]))
        writer.write_request(URL, REQUEST, concurrent_to=response.record_id)
        writer.write_metadata(URL, {"x": 1}, refers_to=response.record_id)
        writer.write_resource("urn:video:" + URL, "video/mp4", video)
        return out.getvalue()

    first, second = write(), write()
    assert first == second
    # gzip headers carry no time and no name: mtime 0, no FNAME flag, OS "unknown".
    assert first.count(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff") == 5
    clock.advance(microseconds=1)
    assert write() != first


def test_dates_come_from_the_clock_or_the_caller(
    make_writer: MakeWriter, clock: FixedClock
) -> None:
    writer, out = started(make_writer)
    clock.advance(seconds=1, microseconds=250)
    writer.write_resource("urn:dom:" + URL, "text/html", b"a")
    when = datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    writer.write_resource("urn:dom:" + URL, "text/html", b"b", date=when, record_id=rid(99))
    (info, _), (first, _), (second, _) = records(out.getvalue())
    assert info["WARC-Date"] == "2026-01-02T03:04:05.000000Z"
    assert first["WARC-Date"] == "2026-01-02T03:04:06.000250Z"
    assert second["WARC-Date"] == "2025-12-31T23:59:59.999999Z"
    assert second["WARC-Record-ID"] == rid(99)


def test_bodies_as_bytes_chunks_or_path_give_the_same_record(
    make_writer: MakeWriter, tmp_path: Path
) -> None:
    data = b"0123456789" * 300_000  # 3 MB: more than one read chunk
    path = tmp_path / "body"
    path.write_bytes(data)
    blocks = []
    for body in (data, bytearray(data), memoryview(data), iter([data[:7], data[7:]]), path):
        writer, out = started(make_writer)
        writer.write_resource("urn:video:" + URL, "video/mp4", body)
        blocks.append(list(members(out.getvalue()))[1])
    assert all(block == blocks[0] for block in blocks)
    assert f"WARC-Payload-Digest: {sha256(data)}".encode() in blocks[0]


def test_bad_bodies_are_refused(make_writer: MakeWriter, tmp_path: Path) -> None:
    writer, _ = started(make_writer)
    with pytest.raises(WarcError, match="not str"):
        writer.write_resource("urn:dom:" + URL, "text/html", "text")  # type: ignore[arg-type]
    with pytest.raises(WarcError, match="must be bytes"):
        writer.write_resource("urn:dom:" + URL, "text/html", iter(["text"]))  # type: ignore[arg-type]
    with pytest.raises(WarcError, match="cannot read"):
        writer.write_resource("urn:dom:" + URL, "text/html", tmp_path / "missing")
    with pytest.raises(WarcError, match="cannot read"):
        writer.write_resource("urn:dom:" + URL, "text/html", tmp_path)
    with pytest.raises(WarcError, match="not a regular file"):  # cannot be read twice
        writer.write_resource("urn:dom:" + URL, "text/html", Path("/dev/null"))


def test_invalid_fields_are_refused_before_anything_is_written(make_writer: MakeWriter) -> None:
    writer, out = started(make_writer)
    size = len(out.getvalue())
    with pytest.raises(WarcError):
        writer.write_response("not a uri", HEAD, BODY)
    with pytest.raises(WarcError):
        writer.write_response(URL, HEAD, BODY, ip_address="999.1.1.1")
    with pytest.raises(WarcError):
        writer.write_request(URL, REQUEST, concurrent_to="urn:uuid:no-brackets")
    with pytest.raises(WarcError):
        writer.write_resource(URL, "no media type", b"x")
    with pytest.raises(WarcError):
        writer.write_response(URL, b"HTTP/1.1 200 OK\r\n", BODY)
    assert len(out.getvalue()) == size
    writer.write_resource("urn:dom:" + URL, "text/html", b"still usable")


def test_offsets_lengths_and_file_digest_describe_the_output(make_writer: MakeWriter) -> None:
    writer, out = make_writer()
    written = [writer.write_warcinfo(operator="op"), writer.write_response(URL, HEAD, BODY)]
    data = out.getvalue()
    assert writer.bytes_written == len(data)
    assert writer.output_sha256() == hashlib.sha256(data).hexdigest()
    assert written[0].offset == 0 and written[1].offset == written[0].length
    assert written[1].offset + written[1].length == len(data)
    assert next(members(data[written[1].offset :])).startswith(b"WARC/1.1\r\nWARC-Type: response")


class FailingStream(io.BytesIO):
    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.fail_after = fail_after

    def write(self, data: object) -> int:
        if self.tell() > self.fail_after:
            raise OSError(28, "No space left on device")
        return super().write(data)  # type: ignore[arg-type]


def test_a_failed_record_makes_the_writer_refuse_further_records(clock: FixedClock) -> None:
    writer = WarcWriter(FailingStream(600), clock=clock, id_factory=SequentialIds())
    writer.write_warcinfo(operator="op")
    with pytest.raises(WarcError, match="No space left"):
        writer.write_resource("urn:video:" + URL, "video/mp4", bytes(range(256)) * 4096)
    with pytest.raises(WarcError, match="cannot continue"):
        writer.write_resource("urn:dom:" + URL, "text/html", b"x")


class Tamper(io.BytesIO):
    """Runs ``action`` once, at the first write after ``armed`` is set: i.e. after the
    digest pass of the next record, when its gzip header is written."""

    def __init__(self, action: Callable[[], object]) -> None:
        super().__init__()
        self.action: Callable[[], object] | None = action
        self.armed = False

    def write(self, data: object) -> int:
        if self.armed and self.action:
            self.action()
            self.action = None
        return super().write(data)  # type: ignore[arg-type]


def test_a_file_changed_between_digest_and_write_is_caught(
    clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "video"
    path.write_bytes(b"a" * 1000)
    stream = Tamper(lambda: path.write_bytes(b"b" * 1000))
    writer = WarcWriter(stream, clock=clock, id_factory=SequentialIds())
    writer.write_warcinfo(operator="op")
    stream.armed = True
    with pytest.raises(WarcError, match="changed while it was being written"):
        writer.write_resource("urn:video:" + URL, "video/mp4", path)


def test_a_file_that_grows_is_caught(clock: FixedClock, tmp_path: Path) -> None:
    path = tmp_path / "video"
    path.write_bytes(b"a" * 1000)

    def append() -> None:
        with path.open("ab") as fh:
            fh.write(b"more")

    stream = Tamper(append)
    writer = WarcWriter(stream, clock=clock, id_factory=SequentialIds())
    writer.write_warcinfo(operator="op")
    stream.armed = True
    with pytest.raises(WarcError, match="grew"):
        writer.write_resource("urn:video:" + URL, "video/mp4", path)
