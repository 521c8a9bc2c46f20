"""Files under warcs/ that no snapshot refers to, and moving them to quarantine.

Two kinds (docs/integrity.md, "archiver verify"):

- **orphan**: a complete ``.warc.gz`` under its final name with no snapshot row. Its
  capture stopped between sealing the file and recording it: the process was killed, or
  a worker process outlived its parent. Nothing refers to it, so no manifest, signature,
  timestamp or custody entry vouches for it, and its source is captured again.
- **temporary**: a ``.<name>.<random>.part`` file, a WARC being written when its capture
  was killed (complete or not; never under a final name, see
  :mod:`archiver.capture.warc.snapshot_file`).

Both fail ``archiver verify --store`` once older than :data:`GRACE_SECONDS`; younger
ones are warnings, since a capture running now writes its file a moment before its row.
``archiver verify --store --quarantine-orphans`` (:func:`quarantine_strays`) moves them,
never deletes them: the archiver deletes no file that might be evidence. Each move is
a custody entry (action ``quarantine``) with the file's sha256 and size.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from archiver.capture.warc.layout import SUFFIX, WARCS_DIR
from archiver.capture.warc.snapshot_file import PART_SUFFIX
from archiver.errors import ArchiverError
from archiver.integrity import custody
from archiver.integrity.verify import walk_store_files
from archiver.models import Snapshot
from archiver.store.files import fsync_dir

if TYPE_CHECKING:
    from archiver.app import Archive
    from archiver.integrity.verify import Findings

# A file this recent may belong to a capture still running (its row follows within a
# second or so): reported as a warning, and not moved.
GRACE_SECONDS = 300.0
QUARANTINE_DIR = "quarantine"
QUARANTINE_COMMAND = "archiver verify --store --quarantine-orphans"
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


class QuarantineError(ArchiverError):
    """A file could not be moved to quarantine (it stays where it was)."""


@dataclass(frozen=True)
class Stray:
    path: Path
    rel: str  # relative to the storage root, POSIX
    kind: str  # "orphan" or "temporary"
    age: float  # seconds since it was last written
    recent: bool  # younger than the grace period
    second_name_of: str | None = None  # a .part that is a hard link of this file


@dataclass(frozen=True)
class Moved:
    rel: str
    to: str
    kind: str
    sha256: str
    size: int


@dataclass
class QuarantineResult:
    moved: list[Moved]
    skipped: list[Stray]  # too recent: a running capture may still record them
    errors: list[str]  # files that could not be moved (they stay where they were)


def find_strays(
    root: Path,
    referenced: Collection[str],
    *,
    now: float | None = None,
    grace: float = GRACE_SECONDS,
) -> list[Stray]:
    """Every orphan and temporary file under ``root``/warcs, in path order.
    ``referenced``: the ``warc_path`` of every snapshot row."""
    now = time.time() if now is None else now
    found: list[Stray] = []
    for path in walk_store_files(root / WARCS_DIR):
        rel = path.relative_to(root).as_posix()
        if path.name.endswith(PART_SUFFIX):
            kind = "temporary"
        elif path.name.endswith(SUFFIX) and rel not in referenced:
            kind = "orphan"
        else:
            continue
        try:
            info = path.stat()
        except OSError:  # gone meanwhile (a capture finished it)
            continue
        age = max(0.0, now - info.st_mtime)
        found.append(
            Stray(path, rel, kind, age, age < grace, _linked_final(path, info, root, kind))
        )
    return found


def _linked_final(path: Path, info: os.stat_result, root: Path, kind: str) -> str | None:
    """For ``.<name>.<random>.part``: ``<name>`` when it is the same file (a capture
    killed between linking the final name and removing the temporary one)."""
    if kind != "temporary" or not path.name.startswith("."):
        return None
    final = path.with_name(path.name[1 : -len(PART_SUFFIX)].rpartition(".")[0])
    try:
        other = final.stat()
    except (OSError, ValueError):
        return None
    if (other.st_dev, other.st_ino) != (info.st_dev, info.st_ino):
        return None
    return final.relative_to(root).as_posix()


def report_strays(found: Findings, strays: Collection[Stray], grace: float) -> None:
    """Add one finding per stray file to ``found`` (``archiver verify --store``)."""
    for stray in strays:
        if stray.kind == "orphan":
            what = "WARC file no snapshot refers to (its capture stopped before recording it)"
        else:
            what = "leftover temporary file (a capture killed while writing it)"
            if stray.second_name_of is not None:
                what += f"; a second name of {stray.second_name_of}"
        if stray.recent:
            found.warn(
                stray.rel,
                f"{what}? Written {stray.age:.0f} s ago: a capture running now may still "
                f"record it; if none is, it fails after {grace / 60:.0f} minutes",
            )
        else:
            found.fail(stray.rel, f"{what}; move it to quarantine with: {QUARANTINE_COMMAND}")


def quarantine_strays(
    archive: Archive, *, actor: str, grace: float = GRACE_SECONDS, now: float | None = None
) -> QuarantineResult:
    """Move every orphan and temporary file older than ``grace`` to
    ``<root>/quarantine/<UTC time>/<its path>``, one custody entry per file."""
    root = archive.settings.storage.root
    with archive.db.session() as session:
        referenced = set(session.scalars(select(Snapshot.warc_path)))
    strays = find_strays(root, referenced, now=now, grace=grace)
    folder = Path(QUARANTINE_DIR, archive.clock().strftime("%Y%m%dT%H%M%SZ"))
    result = QuarantineResult([], [s for s in strays if s.recent], [])
    for stray in strays:
        if stray.recent:
            continue
        try:
            moved = _quarantine_one(archive, stray, folder, actor)
        except QuarantineError as exc:
            result.errors.append(f"{stray.rel}: {exc}")
            continue
        if moved is not None:
            result.moved.append(moved)
    return result


def _quarantine_one(archive: Archive, stray: Stray, folder: Path, actor: str) -> Moved | None:
    """Move one file and log it, in one transaction (no entry if the move fails)."""
    root = archive.settings.storage.root
    with archive.db.session() as session:
        recorded = select(Snapshot.id).where(Snapshot.warc_path == stray.rel).limit(1)
        if stray.kind == "orphan" and session.scalars(recorded).first() is not None:
            return None  # recorded since it was listed
        sha256, size = _digest(stray.path)
        target = folder / stray.rel
        _move_no_replace(stray.path, root / target)
        moved = Moved(stray.rel, target.as_posix(), stray.kind, sha256, size)
        custody.append(
            session,
            at=archive.clock(),
            actor=actor,
            action="quarantine",
            subject_type="file",
            subject_id=stray.rel,
            details={"to": moved.to, "kind": moved.kind, "sha256": sha256, "size": size},
        )
    return moved


def _digest(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise QuarantineError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return digest.hexdigest(), size


def _move_no_replace(source: Path, target: Path) -> None:
    """Link ``target`` (never replacing a file there), then unlink ``source``; both
    folders fsynced. Where hard links are not supported: rename after a check."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            if os.path.lexists(target):
                raise FileExistsError(errno.EEXIST, "already in quarantine", str(target)) from exc
            os.rename(source, target)
        else:
            source.unlink()
        fsync_dir(target.parent)
        fsync_dir(source.parent)
    except OSError as exc:
        raise QuarantineError(f"cannot move {source} to {target}: {exc.strerror or exc}") from exc
