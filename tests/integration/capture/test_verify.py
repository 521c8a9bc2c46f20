"""verify_warc and list_records on good and damaged snapshot files; never raising."""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
from pathlib import Path

import pytest

from archiver.capture.warc import list_records, verify_warc
from archiver.errors import WarcError
from tests.integration.capture.conftest import HTML, URL, WARCIO, Snapshot


def test_a_good_file_verifies(snapshot: Snapshot) -> None:
    sealed = snapshot.sealed
    report = verify_warc(sealed.path, expected_sha256=sealed.sha256, expected_size=sealed.size)
    assert report.ok, report.failures()
    assert report.failures() == []
    assert report.sha256 == sealed.sha256 == hashlib.sha256(sealed.path.read_bytes()).hexdigest()
    assert [r.info.record_id for r in report.records] == [w.record_id for w in snapshot.records]
    for check, written in zip(report.records, snapshot.records, strict=True):
        assert check.block.ok and check.block.actual == written.block_digest
        assert check.info.offset == written.offset and check.info.length == written.length
        if written.payload_digest:
            assert check.payload is not None and check.payload.actual == written.payload_digest
        else:
            assert check.payload is None
    assert report.records[1].payload_length == len(HTML)


def test_list_records_describes_each_record(snapshot: Snapshot) -> None:
    listed = list_records(snapshot.sealed.path)
    assert [(r.warc_type, r.target_uri) for r in listed][:3] == [
        ("warcinfo", None),
        ("response", URL),
        ("request", URL),
    ]
    response = listed[1]
    assert response.content_type == "application/http;msgtype=response"
    assert response.ip_address == "203.0.113.5"
    assert response.payload_digest == snapshot.records[1].payload_digest
    assert listed[2].concurrent_to == (response.record_id,)
    assert listed[5].refers_to == response.record_id
    assert listed[-1].content_length == 5 << 20


def rewrite_member(path: Path, offset: int, length: int, change: bytes, to: bytes) -> None:
    """Decompress one record's gzip member, replace bytes, recompress it validly: the
    kind of tampering a CRC cannot see and only the digests can."""
    data = path.read_bytes()
    record = gzip.decompress(data[offset : offset + length])
    assert record.count(change) == 1
    member = gzip.compress(record.replace(change, to), mtime=0)
    path.chmod(0o644)
    path.write_bytes(data[:offset] + member + data[offset + length :])


def test_one_changed_payload_byte_is_caught_by_us_and_by_warcio(snapshot: Snapshot) -> None:
    response = snapshot.records[1]
    # "12 марта" -> "13 марта": one byte of the entity body.
    rewrite_member(snapshot.sealed.path, response.offset, response.length, b"12 ", b"13 ")

    report = verify_warc(snapshot.sealed.path)
    assert not report.ok
    bad = [r for r in report.records if not r.ok]
    assert [r.info.record_id for r in bad] == [response.record_id]
    assert bad[0].block.status == "mismatch" and bad[0].payload is not None
    assert bad[0].payload.status == "mismatch"
    assert bad[0].payload.expected == response.payload_digest
    assert report.problems == ()  # the file's structure is intact: only the content changed
    assert len(report.failures()) == 2

    run = subprocess.run(
        [str(WARCIO), "check", str(snapshot.sealed.path)], capture_output=True, text=True
    )
    assert run.returncode == 1
    assert "payload digest failed" in run.stdout and "block digest failed" in run.stdout
    assert response.record_id in run.stdout


def test_a_changed_header_byte_is_caught(snapshot: Snapshot) -> None:
    gz_response = snapshot.records[3]
    rewrite_member(
        snapshot.sealed.path,
        gz_response.offset,
        gz_response.length,
        b"application/javascript",
        b"application/javascripT",
    )
    report = verify_warc(snapshot.sealed.path)
    bad = [r for r in report.records if not r.ok]
    assert [r.info.record_id for r in bad] == [gz_response.record_id]
    assert bad[0].block.status == "mismatch"
    assert bad[0].payload is not None and bad[0].payload.ok  # the body is untouched


@pytest.mark.parametrize("keep", [0.999, 0.5, 0.01])
def test_a_truncated_file_is_reported_not_raised(snapshot: Snapshot, keep: float) -> None:
    path = snapshot.sealed.path
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[: int(len(data) * keep)])
    report = verify_warc(path)
    assert not report.ok
    assert any("truncated" in line for line in report.failures()), report.failures()
    with pytest.raises(WarcError, match="damaged"):
        list_records(path)


def test_a_cut_between_records_needs_the_sealed_size_to_be_seen(snapshot: Snapshot) -> None:
    path = snapshot.sealed.path
    last = snapshot.records[-1]
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[: last.offset])
    # Every remaining record is intact, so only the sealed size and digest tell.
    assert verify_warc(path).ok
    report = verify_warc(
        path, expected_sha256=snapshot.sealed.sha256, expected_size=snapshot.sealed.size
    )
    assert not report.ok
    assert any("expected" in p for p in report.problems)


def test_corrupt_compressed_data_is_skipped_and_later_records_still_verified(
    snapshot: Snapshot,
) -> None:
    path = snapshot.sealed.path
    response = snapshot.records[1]
    data = bytearray(path.read_bytes())
    data[response.offset + response.length // 2] ^= 0xFF  # deflate data or CRC now wrong
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    report = verify_warc(path)
    assert not report.ok
    assert any("resumed" in p for p in report.problems)
    good = {r.info.record_id for r in report.records if r.ok}
    # Every record after the damaged one was still found and verified.
    assert {w.record_id for w in snapshot.records[2:]} <= good


def test_files_that_are_not_snapshots(tmp_path: Path) -> None:
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    assert verify_warc(empty).failures() == ["no WARC record could be read"]
    plain = tmp_path / "plain.warc"
    plain.write_bytes(b"WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 0\r\n\r\n\r\n\r\n")
    assert not verify_warc(plain).ok
    assert not verify_warc(tmp_path / "missing.warc.gz").ok
    two_in_one = tmp_path / "two.warc.gz"
    record = b"WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 0\r\n\r\n\r\n\r\n"
    two_in_one.write_bytes(gzip.compress(record * 2, mtime=0))
    report = verify_warc(two_in_one)
    assert any("one record per member" in line for line in report.failures())
    trailing = tmp_path / "trailing.warc.gz"
    trailing.write_bytes(gzip.compress(record, mtime=0) + b"junk")
    assert any("unreadable gzip data" in p for p in verify_warc(trailing).problems)


def test_files_from_other_tools_verify_with_their_own_algorithms(tmp_path: Path) -> None:
    from warcio.warcwriter import WARCWriter  # type: ignore[import-untyped]

    path = tmp_path / "warcio.warc.gz"
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        record = writer.create_warc_record(
            "urn:dom:https://example.org/", "resource", payload=io.BytesIO(b"<p>x</p>"),
            warc_content_type="text/html",
        )  # fmt: skip
        writer.write_record(record)
    report = verify_warc(path)
    assert report.ok, report.failures()
    check = report.records[0]
    assert check.block.expected is not None and check.block.expected.startswith("sha1:")
    assert check.block.actual is not None and check.block.actual.startswith("sha1:")


def test_missing_and_unknown_digests_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "x.warc.gz"
    no_digest = b"WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 1\r\n\r\nx\r\n\r\n"
    odd = b"WARC/1.1\r\nWARC-Type: metadata\r\nWARC-Block-Digest: crc99:zz\r\nContent-Length: 0\r\n\r\n\r\n\r\n"
    path.write_bytes(gzip.compress(no_digest, mtime=0) + gzip.compress(odd, mtime=0))
    first, second = verify_warc(path).records
    assert first.block.status == "missing" and first.payload is not None
    assert first.payload.status == "missing"
    assert second.block.status == "unsupported" and second.payload is None


def test_a_record_over_a_megabyte_followed_by_others_is_read_through(tmp_path: Path) -> None:
    """A member that inflates to more than the reader's 1 MiB step, with more members
    after it: its end is where the next member starts (zlib then reports the bytes after
    it both as unused data and as an unconsumed tail; counted twice, the next member was
    looked for too early and a good 1 MiB page failed as "damaged", so that its export
    had no package)."""
    import base64
    import os

    from warcio.warcwriter import WARCWriter  # type: ignore[import-untyped]

    path = tmp_path / "big.warc.gz"
    page = b"<p>" + base64.b64encode(os.urandom(768 << 10)) + b"</p>"  # 1 MiB, 25% smaller
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for uri, payload in (("urn:big", page), ("urn:after", b"<p>x</p>")):
            writer.write_record(
                writer.create_warc_record(
                    uri, "resource", payload=io.BytesIO(payload), warc_content_type="text/html"
                )
            )
    assert [r.target_uri for r in list_records(path)] == ["urn:big", "urn:after"]
    report = verify_warc(path)
    assert report.ok, report.failures()
