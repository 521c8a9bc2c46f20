"""Where snapshot files live under the storage root.

    warcs/YYYY/MM/DD/<bb>/<source_id>-<snapshot_uuid>.warc.gz

- **Date first** (UTC capture date): a day's folder stops changing once the day is
  over, so backups, rsync, S3 lifecycle rules and periodic re-verification can work
  day by day, and an operator can find "what we captured on 12 March" by eye.
- **<bb>**, two hex digits of sha256(snapshot uuid): 256 buckets per day, so even a
  bulk import of a million captures in one day leaves ~4,000 files per folder, and an
  ordinary day a handful. Hashing the id (rather than taking its first digits) keeps
  buckets even for time-ordered ids such as UUIDv7.
- **File name**: the source id makes a file recognisable without the database; the
  snapshot uuid makes it unique. Paths are POSIX and relative, so the same string is
  an object key on S3-compatible storage.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from pathlib import PurePosixPath

from archiver.errors import WarcError

WARCS_DIR = "warcs"
SUFFIX = ".warc.gz"

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def snapshot_relpath(
    source_id: str | int, snapshot_id: uuid.UUID, captured_at: datetime
) -> PurePosixPath:
    """Relative path (under the storage root) for one snapshot's WARC file."""
    source = str(source_id)
    if not _SAFE_ID.match(source):
        raise WarcError(f"source id {source!r} is not safe in a file name")
    if captured_at.tzinfo is None or captured_at.utcoffset() is None:
        raise WarcError("captured_at must be timezone-aware")
    day = captured_at.astimezone(UTC)
    bucket = hashlib.sha256(str(snapshot_id).encode("ascii")).hexdigest()[:2]
    return PurePosixPath(
        WARCS_DIR,
        f"{day.year:04d}",
        f"{day.month:02d}",
        f"{day.day:02d}",
        bucket,
        f"{source}-{snapshot_id}{SUFFIX}",
    )
