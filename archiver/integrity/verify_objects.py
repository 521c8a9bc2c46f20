"""``archiver verify --store`` on WARCs in object storage (storage.warc_url): each
snapshot's object is there, under retention when ``storage.object_lock_days`` asks
for it, and its bytes, read back from the bucket (streamed to a temporary file, never
whole in memory), have the sha256 and size the row recorded and record digests that
verify; objects under warcs/ that no snapshot refers to are reported like stray files.

The object's bytes are read back rather than trusting the store's checksum: an object
replaced by a new version (a bucket without Object Lock, or a GOVERNANCE bypass) would
carry a checksum of its own new bytes."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from archiver.capture.warc.layout import WARCS_DIR
from archiver.errors import StoreError
from archiver.integrity.verify import Findings, _check_warc_against
from archiver.storage import ObjectStore

if TYPE_CHECKING:
    from archiver.config import Settings
    from archiver.models import Snapshot


def check_snapshot_object(
    found: Findings, store: ObjectStore, settings: Settings, snap: Snapshot
) -> None:
    item = snap.warc_path
    try:
        info = store.stat(snap.warc_path)
    except StoreError as exc:
        found.fail(item, f"cannot be read: {exc}")
        return
    if info is None:
        found.fail(item, f"WARC object of snapshot {snap.id} is missing from {store.description}")
        return
    days = settings.storage.object_lock_days
    if info.retain_until is not None:
        until = info.retain_until.astimezone(UTC)
        if until > datetime.now(UTC):
            found.ok(item, f"under {info.lock_mode} retention until {until:%Y-%m-%dT%H:%M:%SZ}")
        else:
            found.warn(item, f"retention ended {until:%Y-%m-%dT%H:%M:%SZ}: it can be deleted now")
    elif days > 0:
        found.fail(item, f"not under Object Lock retention (storage.object_lock_days = {days})")
    try:
        with store.fetched(snap.warc_path, settings.storage.root / "tmp") as path:
            _check_warc_against(path, snap.warc_sha256, snap.warc_size, None, found, item)
    except StoreError as exc:
        found.fail(item, f"cannot be read: {exc}")


def check_bucket_strays(
    found: Findings, store: ObjectStore, referenced: Collection[str], grace: float
) -> None:
    """Objects under warcs/ with no snapshot row: an upload whose row was never written
    (the process died between the two). Younger than ``grace``: a capture running now."""
    now = datetime.now(UTC)
    try:
        for info in store.keys(f"{WARCS_DIR}/"):
            if info.key in referenced:
                continue
            age = (now - info.modified).total_seconds() if info.modified else grace
            what = "object no snapshot refers to (its capture stopped before recording it)"
            if age < grace:
                found.warn(info.key, f"{what}? Written {age:.0f} s ago: a capture may record it")
            else:
                found.fail(info.key, f"{what}; its source is captured again")
    except StoreError as exc:
        found.fail(store.description, f"cannot be listed: {exc}")
