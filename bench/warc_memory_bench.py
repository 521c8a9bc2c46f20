"""Peak memory of a 1 GiB WARC going into the bucket and coming back out (issue 19:
"a 1 GB video WARC stays under 300 MB RSS").

Run: ``.venv/bin/python -m bench.warc_memory_bench [--mib 1024] [--repeat 1]``

Starts moto's S3 server (``moto_server``, a bucket with Object Lock) on 127.0.0.1 as a
separate process: it holds every object in its own memory, which is not counted. Writes
one file of random bytes (incompressible, like a video), then runs each client in a
fresh Python process of its own and reports that process's RSS before the transfer
(interpreter, libraries, client) and its peak (``VmHWM`` from ``/proc/self/status``:
the kernel's high-water mark of the whole process, the SHA-256 pass included):

- ``archiver publish``: what a capture does with a sealed WARC
  (:func:`archiver.storage.publish`): the file's SHA-256 read from disk in 1 MiB
  chunks, then :class:`archiver.storage.s3.S3Store` ``put_file`` with the defaults
  (multipart in 16 MiB parts, 4 in flight, a SHA-256 per part, ``If-None-Match`` on the
  completion, COMPLIANCE retention, HeadObject's composite checksum checked), then the
  local file removed;
- ``boto3 upload_file``: boto3's managed transfer with its defaults (8 MiB parts, 10
  threads, no checksum of our own), the same file;
- ``archiver download``: the WARC download route's own generator
  (``archiver.web.downloads._object_chunks``: ``store.open`` read in 1 MiB chunks) over
  the object ``archiver publish`` wrote, hashed as it goes and checked;
- ``boto3 download_fileobj``: boto3's managed download of the same object into a
  hashing sink (its defaults: 8 MiB parts, 10 threads).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._moto import start_moto, stop_moto

_CHILD = r"""
import hashlib, json, os, sys, time
from pathlib import Path

which, path, endpoint, bucket, key = sys.argv[1:6]
size = Path(path).stat().st_size

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB -> MiB
    raise KeyError(field)

class Sink:
    def __init__(self):
        self.h, self.n = hashlib.sha256(), 0
    def write(self, data):
        self.h.update(data)
        self.n += len(data)
        return len(data)

def archiver_store():
    from archiver.storage.s3 import S3Options, S3Store
    return S3Store(S3Options(bucket=bucket, prefix="a", endpoint_url=endpoint,
                             region="us-east-1", access_key_id="x", secret_access_key="x",
                             lock_days=1, lock_mode="COMPLIANCE"))

def boto3_client():
    import boto3
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="x")

if which == "archiver publish":
    from archiver.storage import publish
    store = archiver_store()
    root = Path(path).parent / f"root-{os.getpid()}"
    local = root / key
    local.parent.mkdir(parents=True)
    os.link(path, local)  # publish removes the file it was given
    before = status("VmRSS")
    t = time.perf_counter()
    digest = hashlib.sha256()  # the capture knows it from writing; here read once more
    with open(local, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    publish(store, root, key, sha256=digest.hexdigest(), size=size)
    assert not local.exists()
    result = {"sha256": digest.hexdigest()}
elif which == "boto3 upload_file":
    client = boto3_client()
    before = status("VmRSS")
    t = time.perf_counter()
    client.upload_file(path, bucket, "b/" + key)
    result = {}
elif which == "archiver download":
    from archiver.web.downloads import _object_chunks
    store = archiver_store()
    before = status("VmRSS")
    t = time.perf_counter()
    sink = Sink()
    for chunk in _object_chunks(store, key):
        sink.write(chunk)
    assert sink.n == size, sink.n
    result = {"sha256": sink.h.hexdigest()}
elif which == "boto3 download_fileobj":
    client = boto3_client()
    before = status("VmRSS")
    t = time.perf_counter()
    sink = Sink()
    client.download_fileobj(bucket, "a/" + key, sink)
    assert sink.n == size, sink.n
    result = {"sha256": sink.h.hexdigest()}
seconds = time.perf_counter() - t
result.update(seconds=seconds, before_mib=before, peak_mib=status("VmHWM"))
print(json.dumps(result))
"""

CLIENTS = ("archiver publish", "boto3 upload_file", "archiver download", "boto3 download_fileobj")


def _run(which: str, path: Path, endpoint: str, key: str) -> dict[str, float | str]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, which, str(path), endpoint, "bench", key],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{which} failed:\n{done.stderr[-2000:]}")
    answer: dict[str, float | str] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the WARC")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (each a new key)")
    args = parser.parse_args()
    endpoint, server = start_moto()
    try:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            path = Path(tmp) / "video.warc.gz"
            with path.open("wb") as fh:
                for _ in range(args.mib):
                    fh.write(os.urandom(1 << 20))
            print(f"{args.mib} MiB WARC to and from moto_server on 127.0.0.1")
            print(f"{'client':<24} {'seconds':>8} {'MiB/s':>7} {'RSS before':>11} {'peak RSS':>9}")
            for _ in range(args.repeat):
                key = f"warcs/2026/01/01/00/{os.urandom(6).hex()}.warc.gz"
                digests = set()
                for which in CLIENTS:
                    run = _run(which, path, endpoint, key)
                    if "sha256" in run:
                        digests.add(run["sha256"])
                    seconds, before, peak = (
                        float(run["seconds"]), float(run["before_mib"]), float(run["peak_mib"])
                    )  # fmt: skip
                    print(
                        f"{which:<24} {seconds:8.1f} {args.mib / seconds:7.1f} "
                        f"{before:7.0f} MiB {peak:5.0f} MiB"
                    )
                assert len(digests) == 1, "the object read back differs from the file"
    finally:
        stop_moto(server)


if __name__ == "__main__":
    main()
