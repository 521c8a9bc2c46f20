"""A snapshot file as other tools see it: ``warcio check`` and warcio's ArchiveIterator."""

from __future__ import annotations

import hashlib
import re
import subprocess

from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from tests.integration.capture.conftest import GZ_URL, HTML, SCRIPT, URL, WARCIO, Snapshot

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_warcio_check_verifies_every_sha256_digest(snapshot: Snapshot) -> None:
    run = subprocess.run(
        [str(WARCIO), "check", "-v", str(snapshot.sealed.path)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    # One "offset ... WARC-Record-ID ..." line per record, each followed by "digest pass":
    # warcio recomputed our sha256 digests (it would say "no digest to check" otherwise).
    assert sum("WARC-Record-ID" in line for line in lines) == len(snapshot.records) == 8
    assert [line.strip() for line in lines[2::2]] == ["digest pass"] * 8
    assert "no digest" not in run.stdout and "failed" not in run.stdout


def test_every_promised_header_via_archive_iterator(snapshot: Snapshot) -> None:
    seen = []
    with snapshot.sealed.path.open("rb") as fh:
        iterator = ArchiveIterator(fh, check_digests=True)
        for record in iterator:
            payload = record.raw_stream.read()
            seen.append((record, payload))
            assert record.digest_checker.passed is not False, record.digest_checker.problems
    by_type = [record.rec_type for record, _ in seen]
    assert by_type == [
        "warcinfo", "response", "request", "response", "request", "metadata", "resource", "resource",
    ]  # fmt: skip
    ids = [record.rec_headers.get_header("WARC-Record-ID") for record, _ in seen]
    assert ids == [written.record_id for written in snapshot.records]
    assert len(set(ids)) == 8 and all(re.match(r"^<urn:uuid:[0-9a-f-]{36}>$", i) for i in ids)
    warcinfo_id = ids[0]
    for record, payload in seen:
        headers = record.rec_headers
        assert record.rec_headers.protocol == "WARC/1.1"
        assert DATE.match(headers.get_header("WARC-Date"))
        assert SHA256.match(headers.get_header("WARC-Block-Digest"))
        if record.rec_type in ("response", "resource"):
            assert headers.get_header("WARC-Payload-Digest") == sha256(payload)
        if record.rec_type != "warcinfo":
            assert headers.get_header("WARC-Warcinfo-ID") == warcinfo_id

    (info, info_block), (resp, resp_body), (req, _), (gz_resp, gz_body), (gz_req, _) = seen[:5]
    (meta, meta_block), (shot, shot_body), (film, film_body) = seen[5:]

    assert info.rec_headers.get_header("WARC-Filename") == snapshot.sealed.path.name
    assert b"format: WARC File Format 1.1" in info_block and b"secret" not in info_block
    assert info.rec_headers.get_header("WARC-Block-Digest") == sha256(info_block)

    # Sent chunked, stored de-chunked, and the head says so.
    assert resp.rec_headers.get_header("WARC-Target-URI") == URL
    assert resp.rec_headers.get_header("WARC-IP-Address") == "203.0.113.5"
    assert resp.rec_headers.get_header("WARC-Date") == "2026-01-02T03:04:05.123456Z"
    assert resp.http_headers.get_statuscode() == "200"
    assert resp.http_headers.get_header("Transfer-Encoding") is None
    assert resp.http_headers.get_header("X-Archiver-Original-Transfer-Encoding") == "chunked"
    assert resp.http_headers.get_header("Content-Length") == str(len(HTML))
    assert resp_body == HTML
    assert req.rec_headers.get_header("WARC-Concurrent-To") == ids[1]
    assert req.http_headers.protocol == "GET"
    assert req.rec_headers.get_header("WARC-Payload-Digest") is None

    # Content-Encoding kept as sent: the stored payload is the gzip bytes, and the
    # payload digest is over those bytes; a replay tool can still decode them.
    assert gz_resp.rec_headers.get_header("WARC-Target-URI") == GZ_URL
    assert gz_body == snapshot.gzip_body
    assert gz_resp.rec_headers.get_header("WARC-Payload-Digest") == sha256(snapshot.gzip_body)
    assert gz_resp.http_headers.get_header("Content-Encoding") == "gzip"
    assert gz_req.rec_headers.get_header("WARC-Concurrent-To") == ids[3]

    assert meta.rec_headers.get_header("WARC-Refers-To") == ids[1]
    assert meta.rec_headers.get_header("WARC-Target-URI") == URL
    assert meta.rec_headers.get_header("Content-Type") == "application/json"
    assert meta_block == b'{"http_status":200,"redirects":[],"tls":null}'

    assert shot.rec_headers.get_header("WARC-Target-URI") == f"urn:screenshot:{URL}"
    assert shot.rec_headers.get_header("Content-Type") == "image/png"
    assert shot.rec_headers.get_header("WARC-Concurrent-To") == ids[1]
    assert shot_body == snapshot.png
    assert film.rec_headers.get_header("WARC-Target-URI") == f"urn:video:{URL}"
    assert film_body == snapshot.video.read_bytes()
    assert film.rec_headers.get_header("WARC-Block-Digest") == sha256(film_body)


def test_replay_view_decodes_the_content_encoding(snapshot: Snapshot) -> None:
    with snapshot.sealed.path.open("rb") as fh:
        bodies = [
            r.content_stream().read() for r in ArchiveIterator(fh) if r.rec_type == "response"
        ]
    assert bodies == [HTML, SCRIPT]


def test_offsets_reported_by_the_writer_are_where_warcio_finds_records(snapshot: Snapshot) -> None:
    with snapshot.sealed.path.open("rb") as fh:
        iterator = ArchiveIterator(fh)
        offsets = []
        for _ in iterator:
            offsets.append((iterator.get_record_offset(), iterator.get_record_length()))
    assert offsets == [(r.offset, r.length) for r in snapshot.records]
