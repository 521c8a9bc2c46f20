"""Benchmark: capturing a 1 GB video with bounded memory, side by side with yt-dlp alone.

A local origin (its own process, a plain-HTTP forward proxy that answers for any host)
serves a watch page with ``<video src=...>`` and a video file of ``--size-mb`` random
bytes as ``video/mp4`` (random: it neither compresses nor deduplicates, the worst case
for the WARC writer). Then, each in its own subprocess, peak RSS from ``wait4``:

- peer: the ``yt-dlp`` command line downloading the same video through the proxy;
- archiver: ``Archive.capture()`` of a source classed as a YouTube video: page, platform
  step (yt-dlp as a library, generic extractor, its requests sent by the archiver's
  fetcher), the video streamed into the snapshot's WARC as a resource record beside
  the request/response records of yt-dlp's requests (the response keeps the bytes as
  served, within capture.max_snapshot_bytes), database rows.

Afterwards this process re-reads the WARC record and checks that its bytes, their sha256
and the sha256 in the database (platform_records.media_sha256) all agree with the file
served.

With ``--s3``: the WARC goes into a bucket (``storage.warc_url``) on moto's S3 server
(``moto_server``, its own process, Object Lock, COMPLIANCE retention): the capture's
process then also uploads the sealed WARC (:func:`archiver.storage.publish`: multipart,
SHA-256 per part, the store's checksum checked) before recording it, so its peak RSS is
capture and upload together; the WARC is read back from the bucket for the checks.

    .venv/bin/python -m bench.video_bench [--size-mb 1024] [--keep] [--s3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from bench._moto import start_moto, stop_moto

REPO = Path(__file__).resolve().parents[1]
PAGE = "http://video.bench.example/watch/evidence"
VIDEO = "http://video.bench.example/media/evidence.mp4"
CHUNK = 1 << 20


# -- the origin (its own process) ---------------------------------------------------------


def serve(folder: Path, port: int) -> None:
    video = folder / "evidence.mp4"
    page = f'<html><head><title>Evidence</title></head><body><video src="{VIDEO}"></video></body></html>'

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self.do_GET(head=True)

        def do_GET(self, head: bool = False) -> None:
            path = urlsplit(self.path).path
            if path == urlsplit(PAGE).path:
                body = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)
                return
            if path != urlsplit(VIDEO).path:
                self.send_error(404)
                return
            size = video.stat().st_size
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            if head:
                return
            with video.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    self.wfile.write(chunk)

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


# -- the archiver (its own process) -------------------------------------------------------


def capture(storage: Path, proxy: str) -> None:
    from sqlalchemy import select

    from archiver.app import Archive
    from archiver.config import load_settings
    from archiver.models import Source

    environ = {
        "ARCHIVER_STORAGE__ROOT": str(storage),
        "ARCHIVER_NETWORK__PROXY": proxy,
        "ARCHIVER_CAPTURE__MODES": '{default = ["http"]}',
        "ARCHIVER_CAPTURE__PER_HOST_INTERVAL": "0",
    }
    # --s3: the bucket's settings, handed down by main().
    environ.update({k: v for k, v in os.environ.items() if k.startswith("ARCHIVER_STORAGE__")})
    settings = load_settings(environ=environ)
    report = storage.parent / "report.txt"
    report.write_text(f"Footage of the detention[1].\n\n[1]{PAGE}\n", encoding="utf-8")
    started = time.monotonic()
    with Archive.open(settings) as archive:
        archive.add(str(report))
        with archive.db.session() as session:
            source = session.scalars(select(Source)).one()
            source.platform, source.kind = "youtube", "video"
        outcomes = archive.capture()
    print(json.dumps({"seconds": round(time.monotonic() - started, 1),
                      "errors": [o.error for o in outcomes if o.error]}))  # fmt: skip


# -- orchestration ------------------------------------------------------------------------


def run_measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run a command; (seconds, peak RSS in MiB of the process and its waited children, stdout)."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(argv, stdout=out, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        text = out.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({process.returncode}):\n{text}")
    return seconds, usage.ru_maxrss // 1024, text


def start_bucket() -> tuple[str, dict[str, str], subprocess.Popen[bytes]]:
    """moto_server on 127.0.0.1 with a bucket made with Object Lock: (endpoint, the
    settings that put WARCs there, the server)."""
    endpoint, server = start_moto()
    settings = {
        "ARCHIVER_STORAGE__WARC_URL": "s3://bench/archive",
        "ARCHIVER_STORAGE__S3_ENDPOINT": endpoint,
        "ARCHIVER_STORAGE__S3_REGION": "us-east-1",
        "ARCHIVER_STORAGE__S3_ACCESS_KEY_ID": "x",
        "ARCHIVER_STORAGE__S3_SECRET_ACCESS_KEY": "x",
        "ARCHIVER_STORAGE__OBJECT_LOCK_DAYS": "1",
        "ARCHIVER_STORAGE__OBJECT_LOCK_MODE": "COMPLIANCE",
    }
    return endpoint, settings, server


def fetch_object(endpoint: str, key: str, path: Path) -> None:
    import boto3

    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
    )  # fmt: skip
    body = client.get_object(Bucket="bench", Key=key)["Body"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        while chunk := body.read(CHUNK):
            fh.write(chunk)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_video(path: Path, size_mb: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for _ in range(size_mb):
            chunk = os.urandom(CHUNK)
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


def format_responses(warc: Path) -> dict[str, object]:
    """The response records of the video's URL (yt-dlp's requests): how many, their
    payload size and WARC-Truncated values."""
    from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

    found: list[tuple[int, str | None]] = []
    with warc.open("rb") as handle:
        for record in ArchiveIterator(handle):
            uri = record.rec_headers.get_header("WARC-Target-URI") or ""
            if record.rec_type == "response" and uri == VIDEO:
                stream, size = record.content_stream(), 0
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                found.append((size, record.rec_headers.get_header("WARC-Truncated")))
    return {
        "records": len(found),
        "payload_mib": round(sum(size for size, _ in found) / CHUNK, 1),
        "truncated": [t for _, t in found if t],
    }


def warc_video(warc: Path) -> tuple[str, int]:
    """sha256 and size of the urn:video: record's bytes, read back in chunks."""
    from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

    with warc.open("rb") as handle:
        for record in ArchiveIterator(handle):
            uri = record.rec_headers.get_header("WARC-Target-URI") or ""
            if record.rec_type == "resource" and uri.startswith("urn:video:"):
                digest, size, stream = hashlib.sha256(), 0, record.content_stream()
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                declared = record.rec_headers.get_header("WARC-Payload-Digest")
                assert declared == f"sha256:{digest.hexdigest()}", declared
                return digest.hexdigest(), size
    raise SystemExit(f"no video record in {warc}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--s3", action="store_true", help="WARCs into a bucket on moto_server")
    parser.add_argument("--serve", nargs=2, metavar=("FOLDER", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--capture", nargs=2, metavar=("STORAGE", "PROXY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]))
        return
    if args.capture:
        capture(Path(args.capture[0]), args.capture[1])
        return

    work = Path(tempfile.mkdtemp(prefix="video-bench-"))
    server = None
    bucket = None
    try:
        capture_env = None
        if args.s3:
            bucket = start_bucket()
            capture_env = {**os.environ, **bucket[1]}
        print(f"making a {args.size_mb} MiB video in {work} ...", file=sys.stderr)
        expected = make_video(work / "evidence.mp4", args.size_mb)
        port = free_port()
        proxy = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.video_bench", "--serve", str(work), str(port)], cwd=REPO
        )
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)

        ytdlp = Path(sys.executable).parent / "yt-dlp"
        peer_dir = work / "peer"
        peer_s, peer_rss, _ = run_measured(
            [
                str(ytdlp),
                "--quiet",
                "--no-progress",
                "--proxy",
                proxy,
                "-P",
                str(peer_dir),
                "-o",
                "video.%(ext)s",
                PAGE,
            ]
        )
        peer_ok = hashlib.sha256(
            (peer_dir / "video.mp4").read_bytes() if args.size_mb <= 64 else b""
        ).hexdigest()
        shutil.rmtree(peer_dir)  # free the disk before the archiver's run
        del peer_ok

        storage = work / "storage"
        cap_s, cap_rss, out = run_measured(
            [sys.executable, "-m", "bench.video_bench", "--capture", str(storage), proxy],
            env=capture_env,
        )
        result = json.loads(out.strip().splitlines()[-1])
        if result["errors"]:
            raise SystemExit(f"capture failed: {result['errors']}")
        db = sqlite3.connect(storage / "archiver.db")
        (warc_path,) = db.execute("select warc_path from snapshots").fetchone()
        media_sha256, media_size, status = db.execute(
            "select media_sha256, media_size, media_status from platform_records"
        ).fetchone()
        db.close()
        warc = storage / warc_path
        if bucket is not None:  # not on disk: read back from the bucket for the checks
            assert not warc.exists()
            fetch_object(bucket[0], f"archive/{warc_path}", warc)
        warc_sha256, warc_size = warc_video(warc)
        agree = (
            media_sha256 == warc_sha256 == expected
            and media_size == warc_size == args.size_mb * CHUNK
        )
        report = {
            "video_mib": args.size_mb,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "peer_ytdlp_cli": {"seconds": round(peer_s, 1), "peak_rss_mib": peer_rss},
            "archiver_capture": {
                "seconds": round(cap_s, 1),
                "peak_rss_mib": cap_rss,
                "media_status": status,
                "warc_file_mib": round(warc.stat().st_size / CHUNK, 1),
                "format_url_responses": format_responses(warc),
            },
            "warc_in_bucket": bucket is not None,
            "sha256_db_equals_warc_equals_served": agree,
            "sha256": media_sha256,
        }
        print(json.dumps(report, indent=2))
        if not agree:
            raise SystemExit("sha256 mismatch between database, WARC and the served file")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        if bucket is not None:
            stop_moto(bucket[2])
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
