"""``archiver verify --store`` on WARCs in object storage (storage.warc_url): each
snapshot's object is there, under retention when ``storage.object_lock_days`` asks
for it, and its bytes, read back from the bucket (streamed to a temporary file, never
whole in memory), have the sha256 and size the row recorded and record digests that
verify; objects under warcs/ that no snapshot refers to are reported like stray files;
reports' originals (copied to the bucket when added) are there with their sha256.

The object's bytes are read back rather than trusting the store's checksum: an object
replaced by a new version (a bucket without Object Lock, or a GOVERNANCE bypass) would
carry a checksum of its own new bytes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from archiver.capture.warc.layout import WARCS_DIR
from archiver.errors import StoreError
from archiver.integrity.verify import Findings, _check_warc_against
from archiver.storage import ObjectInfo, ObjectStore, object_sha256

if TYPE_CHECKING:
    from archiver.config import Settings
    from archiver.models import Report, Snapshot


def check_snapshot_object(
    found: Findings, store: ObjectStore, settings: Settings, snap: Snapshot
) -> None:
    item = snap.warc_path
    what = f"WARC object of snapshot {snap.id}"
    info = _present(found, store, item, what)
    if info is None:
        return
    _check_retention(found, item, info, settings.storage.object_lock_days)
    try:
        with store.fetched(snap.warc_path, settings.storage.root / "tmp") as path:
            _check_warc_against(path, snap.warc_sha256, snap.warc_size, None, found, item)
    except StoreError as exc:
        found.fail(item, f"cannot be read: {exc}")


def check_report_objects(
    found: Findings, store: ObjectStore, settings: Settings, reports: Sequence[Report]
) -> None:
    """Each report's original in the bucket (a copy of <root>/reports/...): there,
    under retention, and its bytes (read back, streamed) the sha256 the row has."""
    for report in reports:
        item = report.stored_path
        info = _present(found, store, report.stored_path, f"report {report.id}'s original")
        if info is None:
            continue
        _check_retention(found, item, info, settings.storage.object_lock_days)
        try:
            digest = object_sha256(store, report.stored_path)
        except StoreError as exc:
            found.fail(item, f"cannot be read: {exc}")
            continue
        found.check(
            item,
            digest == report.sha256 and info.size == report.size_bytes,
            f"report {report.id}'s original: sha256 {digest} as recorded",
            f"report {report.id}'s original: sha256 {digest}, not the recorded {report.sha256}",
        )


def _present(found: Findings, store: ObjectStore, key: str, what: str) -> ObjectInfo | None:
    try:
        info = store.stat(key)
    except StoreError as exc:
        found.fail(key, f"cannot be read: {exc}")
        return None
    if info is None:
        found.fail(key, f"{what} is missing from {store.description}")
    return info


def _check_retention(found: Findings, item: str, info: ObjectInfo, days: int) -> None:
    if info.retain_until is not None:
        until = info.retain_until.astimezone(UTC)
        if until > datetime.now(UTC):
            found.ok(item, f"under {info.lock_mode} retention until {until:%Y-%m-%dT%H:%M:%SZ}")
        else:
            found.warn(item, f"retention ended {until:%Y-%m-%dT%H:%M:%SZ}: it can be deleted now")
    elif days > 0:
        found.fail(item, f"not under Object Lock retention (storage.object_lock_days = {days})")


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
