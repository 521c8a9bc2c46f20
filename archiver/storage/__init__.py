"""Where snapshots' WARC files are kept: the storage folder (the default) or an
S3-compatible bucket (``storage.warc_url = "s3://bucket/prefix"``), see docs/storage.md.

:func:`open_store` gives the store the settings name; :func:`publish` hands a sealed
WARC to it before the snapshot's row is written.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from archiver.errors import StoreError
from archiver.storage.base import ObjectInfo, ObjectMissing, ObjectStore, StoreRefused
from archiver.storage.local import LocalStore

if TYPE_CHECKING:
    from archiver.config import Settings
    from archiver.storage.s3 import S3Options

__all__ = [
    "LocalStore",
    "ObjectInfo",
    "ObjectMissing",
    "ObjectStore",
    "StoreRefused",
    "keep_copy",
    "object_sha256",
    "open_store",
    "publish",
]

log = logging.getLogger(__name__)


def open_store(settings: Settings) -> ObjectStore:
    storage = settings.storage
    if not storage.warc_url:
        return LocalStore(storage.root)
    from archiver.storage.s3 import S3Options, parse_url

    bucket, prefix = parse_url(storage.warc_url)
    return _s3(
        S3Options(
            bucket=bucket,
            prefix=prefix,
            endpoint_url=storage.s3_endpoint or os.environ.get("AWS_ENDPOINT_URL") or None,
            region=storage.s3_region or None,
            access_key_id=storage.s3_access_key_id or None,
            secret_access_key=storage.s3_secret_access_key or None,
            lock_days=storage.object_lock_days,
            lock_mode=storage.object_lock_mode,
            part_size=storage.s3_part_size,
            timeout=settings.network.timeout,
        ),
        os.getpid(),
    )


@functools.lru_cache(maxsize=8)
def _s3(options: S3Options, pid: int) -> ObjectStore:
    # One client per configuration and process: boto3 clients are thread-safe and
    # keep their connections, but a forked capture worker (archiver.capture.workers)
    # must not share its parent's sockets, hence the process id in the key.
    from archiver.storage.s3 import S3Store

    return S3Store(options)


def publish(store: ObjectStore, root: Path, key: str, *, sha256: str, size: int) -> None:
    """Hand a WARC sealed at ``root/key`` to a remote store; the caller writes the row
    only after this returns. The local file is removed either way: once in the bucket
    it is kept there, and a capture whose upload failed is not recorded and is done
    again (a WARC no row names must not stay behind as a stray)."""
    if not store.remote:
        return
    local = root / key
    try:
        store.put_file(local, key, sha256=sha256, size=size)
    finally:
        local.unlink(missing_ok=True)
    log.debug("%s stored in %s", key, store.description)


def object_sha256(store: ObjectStore, key: str) -> str:
    """The sha256 of the object's bytes as the store gives them now (streamed)."""
    digest = hashlib.sha256()
    with store.open(key) as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def keep_copy(store: ObjectStore, local: Path, folder: str) -> str | None:
    """A copy of a file that stays where it is (an exported package) in a remote store,
    as ``<folder>/<its name>``, under retention where configured; returns the key, or
    None for the storage folder itself. Raises StoreError."""
    if not store.remote:
        return None
    try:
        with local.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256")
        size = local.stat().st_size
    except OSError as exc:
        raise StoreError(f"cannot read {local}: {exc.strerror or exc}") from exc
    key = f"{folder}/{local.name}"
    store.put_file(local, key, sha256=digest.hexdigest(), size=size)
    return key
