"""A real S3 API on 127.0.0.1: moto's server (``moto[server]``, installed by ./dev test),
one per test module, a fresh bucket per test with Object Lock enabled."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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
