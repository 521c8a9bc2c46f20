"""Which S3 client library uploads a large WARC fastest and with least memory.

Run: ``.venv/bin/python -m bench.object_store_bench [--mib 512]``

Starts moto's S3 server (``moto_server``) on 127.0.0.1 as a separate process (its
memory is not counted), writes one file of random bytes, and uploads it once with each
candidate, each in a fresh Python process whose peak RSS (ru_maxrss) is reported next
to its baseline (the interpreter with the library imported, before the upload):

- ``archiver``: the archiver's own store (archiver.storage.s3: boto3's low-level client,
  its own multipart with a SHA-256 checksum per part, 4 parts of 16 MiB in flight);
  ``archiver-1``: the same, one part at a time;
- ``boto3-transfer``: boto3's managed ``upload_file`` (s3transfer, 10 threads);
- ``obstore``: obstore's ``put`` from an open file (Rust, multipart);
- ``s3fs``: fsspec's S3 file system (``put_file``), when it is installed.

One run, the same file, the same server; times are wall-clock of the upload alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._moto import start_moto, stop_moto

_CHILD = r"""
import json, os, resource, sys, time
name = os.urandom(6).hex() + ".warc.gz"  # a new key each run: nothing is skipped
which, path, endpoint, bucket = sys.argv[1:5]
from pathlib import Path
if which.startswith("archiver"):
    from archiver.storage.s3 import S3Store, S3Options
    from archiver.store.files import sha256_hex
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    digest = h.hexdigest()
    store = S3Store(S3Options(bucket=bucket, prefix="a", endpoint_url=endpoint,
                              region="us-east-1", access_key_id="x", secret_access_key="x",
                              parallel_parts=1 if which == "archiver-1" else 4))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    store.put_file(Path(path), name, sha256=digest, size=Path(path).stat().st_size)
elif which == "boto3-transfer":
    import boto3
    from boto3.s3.transfer import TransferConfig
    c = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="x", aws_secret_access_key="x")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    c.upload_file(path, bucket, f"b/{name}", Config=TransferConfig(
        multipart_chunksize=16 << 20, max_concurrency=10))
elif which == "obstore":
    from obstore.store import S3Store
    import obstore
    s = S3Store(bucket, endpoint=endpoint, region="us-east-1", access_key_id="x",
                secret_access_key="x", client_options={"allow_http": True})
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    with open(path, "rb") as fh:
        obstore.put(s, f"c/{name}", fh, chunk_size=16 << 20)
elif which == "s3fs":
    import s3fs
    fs = s3fs.S3FileSystem(key="x", secret="x", client_kwargs={
        "endpoint_url": endpoint, "region_name": "us-east-1"})
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    fs.put_file(path, f"{bucket}/d/{name}")
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "base_mib": base / 1024, "peak_mib": peak / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512, help="size of the file uploaded")
    parser.add_argument("--repeat", type=int, default=3, help="uploads per client (median)")
    args = parser.parse_args()
    endpoint, server = start_moto()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "big.bin"
            with path.open("wb") as fh:
                for _ in range(args.mib):
                    fh.write(os.urandom(1 << 20))
            print(f"upload of {args.mib} MiB to moto_server on 127.0.0.1, median of {args.repeat}")
            print(f"{'client':<16} {'seconds':>8} {'MiB/s':>8} {'RSS before':>11} {'peak RSS':>9}")
            clients = ("archiver", "archiver-1", "boto3-transfer", "obstore", "s3fs")
            runs: dict[str, list[dict[str, float]]] = {c: [] for c in clients}
            skipped: dict[str, str] = {}
            for _ in range(args.repeat):  # interleaved: a busy moment hits every client
                for which in clients:
                    if which in skipped:
                        continue
                    done = subprocess.run(
                        [sys.executable, "-c", _CHILD, which, str(path), endpoint, "bench"],
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    if done.returncode != 0:
                        skipped[which] = (done.stderr.strip().splitlines() or ["?"])[-1][:90]
                        continue
                    runs[which].append(json.loads(done.stdout.strip().splitlines()[-1]))
            for which in clients:
                if which in skipped:
                    print(f"{which:<16} not run: {skipped[which]}")
                    continue
                seconds = statistics.median(r["seconds"] for r in runs[which])
                base = max(r["base_mib"] for r in runs[which])
                peak = max(r["peak_mib"] for r in runs[which])
                print(
                    f"{which:<16} {seconds:8.2f} {args.mib / seconds:8.1f} "
                    f"{base:8.0f} MiB {peak:5.0f} MiB"
                )
    finally:
        stop_moto(server)


if __name__ == "__main__":
    main()
