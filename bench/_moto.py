"""moto's S3 server for the object-storage benchmarks: its own process on 127.0.0.1
(its memory is not the uploader's), a bucket ``bench`` made with Object Lock."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

BUCKET = "bench"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto() -> tuple[str, subprocess.Popen[bytes]]:
    """(endpoint URL, the server process), the bucket made; stop with :func:`stop_moto`."""
    import boto3  # type: ignore[import-untyped]
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
    )  # fmt: skip
    for _ in range(100):
        try:
            client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
            break
        except (BotoCoreError, ClientError):  # the server is still starting
            time.sleep(0.1)
    else:
        stop_moto(server)
        raise SystemExit("moto_server did not start within 10 s")
    return endpoint, server


def stop_moto(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=10)
