"""A real S3 API on 127.0.0.1: moto's server (``moto[server]``, installed by ./dev test),
one per test module, a fresh bucket per test with Object Lock enabled."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from moto.server import ThreadedMotoServer  # type: ignore[import-untyped]

# The local RFC 3161 TSA, for the export test.
from tests.integration.integrity.conftest import local_tsa, tsa_pki  # noqa: F401

KEY_ID = "AKIATESTSTORAGEKEY01"
SECRET = "tEsT/sEcReT+kEy-that-must-never-be-shown"


@dataclass
class S3:
    endpoint: str
    bucket: str
    client: Any

    def settings(self, prefix: str = "archive", **more: str) -> dict[str, str]:
        """``make_settings`` keyword arguments for this bucket."""
        return {
            "storage__warc_url": f"s3://{self.bucket}/{prefix}",
            "storage__s3_endpoint": self.endpoint,
            "storage__s3_region": "us-east-1",
            "storage__s3_access_key_id": KEY_ID,
            "storage__s3_secret_access_key": SECRET,
            **more,
        }


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(moto_endpoint: str) -> S3:
    client = boto3.client(
        "s3", endpoint_url=moto_endpoint, region_name="us-east-1",
        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
    )  # fmt: skip
    bucket = f"evidence-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    return S3(moto_endpoint, bucket, client)


def _serve_moto(conn: Connection) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()  # returns once the server answers
    conn.send(server.get_host_and_port())
    conn.recv()  # until the test says stop
    server.stop()


@pytest.fixture
def moto_process() -> Iterator[str]:
    """moto's S3 server in a spawned process of its own: the test process then runs no
    thread, so capture workers can fork (archiver.capture.workers.can_fork)."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_serve_moto, args=(theirs,), name="moto", daemon=True)
    process.start()
    theirs.close()
    try:
        if not ours.poll(60):
            raise AssertionError("moto's server did not start within 60 s")
        host, port = ours.recv()
        yield f"http://{host}:{port}"
    finally:
        ours.send("stop")
        process.join(10)
        if process.is_alive():
            process.kill()
