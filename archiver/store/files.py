"""Files under the storage root, written so that a crash never leaves a half file.

A file is written under a temporary name in the same folder, flushed and fsynced, then
renamed into place, and the folder is fsynced so the rename itself survives a power cut.
Files are content-addressed (named by their sha256) and never overwritten: writing the
same bytes again finds them already there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path

from archiver.errors import StoreError
from archiver.store.space import disk_full_error


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_path(sha256: str, suffix: str = "") -> Path:
    """Relative path for content with this digest: two levels of fan-out, so a folder
    never holds more than a few thousand entries even with millions of files."""
    return Path(sha256[:2]) / sha256[2:4] / f"{sha256}{suffix}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via temp file + fsync + rename. Refuses to overwrite."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # os.link fails if the target exists: no silent overwrite even under a race.
        os.link(tmp, path)
        fsync_dir(path.parent)
    except FileExistsError:
        raise
    except OSError as exc:
        full = disk_full_error(exc, path)
        raise full or StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def store_content(root: Path, data: bytes, suffix: str = "") -> tuple[str, Path]:
    """Store ``data`` content-addressed under ``root``; return (sha256, relative path).

    Existing content with the same digest is verified, not rewritten.
    """
    digest = sha256_hex(data)
    relative = content_path(digest, suffix)
    target = root / relative
    if target.exists():
        if sha256_hex(target.read_bytes()) != digest:
            raise StoreError(
                f"stored file {target} does not match its sha256 name; not touching it"
            )
        return digest, relative
    # FileExistsError: another process stored the same bytes a moment ago.
    with contextlib.suppress(FileExistsError):
        write_atomic(target, data)
    return digest, relative


def fsync_dir(path: Path) -> None:
    """Make a rename or link inside ``path`` durable. Raises OSError; callers translate."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
