"""One snapshot = one WARC file, which appears under its final name complete or never.

Losing or overwriting a snapshot is among the worst failures this system can have, so:

- records go to ``.<name>.<random>.part`` in the final folder (same filesystem, so the
  last step is a link, not a copy; the leading dot keeps it out of casual listings);
- on success the file is flushed, fsynced, made read-only, then hard-linked to the
  final name; ``link`` fails if that name exists, so even two racing writers cannot
  overwrite a snapshot; the folder is fsynced so the new name survives a power cut;
- on an exception the temporary file is removed and nothing exists under the final
  name. A killed process leaves only a ``.part`` file, which `archiver verify --store` reports
  and `--quarantine-orphans` moves aside (never deletes);
- ``abandoned`` (asked at every write, before the fsync and before the link): once it
  says so, the file is given up (:class:`SnapshotAbandoned`) and its temporary file
  removed. A process that is stopping thus never finishes a file it would not record.

The file's sha256 and size are computed while the bytes are written (by the writer),
not by reading the file back, and checked against the file's size on disk.
"""

from __future__ import annotations

import errno
import os
import stat
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from archiver.clock import utc_now
from archiver.errors import DiskFullError, WarcError
from archiver.secrets import NO_SECRETS, Secrets
from archiver.store.files import fsync_dir
from archiver.store.space import disk_full_error

from ._gzip import COMPRESS_LEVEL
from .writer import Clock, IdFactory, WarcWriter

PART_SUFFIX = ".part"
# Filesystems without hard links (some FUSE and network mounts) answer these.
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


class SnapshotAbandoned(WarcError):
    """The snapshot was given up before it was complete (the process is stopping); its
    temporary file is removed and nothing exists under its final name."""


class _Abandonable:
    """The file as the writer sees it: every write first asks ``abandoned``."""

    def __init__(self, handle: BinaryIO, abandoned: Callable[[], bool], final: Path) -> None:
        self._handle = handle
        self._abandoned = abandoned
        self._final = final

    def check(self) -> None:
        if self._abandoned():
            raise SnapshotAbandoned(f"{self._final}: abandoned before it was complete")

    def write(self, data: bytes | memoryview) -> int:
        self.check()
        return self._handle.write(data)


@dataclass(frozen=True)
class SealedWarc:
    """A snapshot file that is complete under its final name."""

    path: Path
    sha256: str  # of the whole file, lowercase hex
    size: int


class SnapshotWriter(WarcWriter):
    """A :class:`WarcWriter` whose file is sealed when the ``with`` block ends."""

    def __init__(
        self,
        stream: BinaryIO,
        final_path: Path,
        *,
        clock: Clock = utc_now,
        id_factory: IdFactory = uuid.uuid4,
        spool_dir: str | os.PathLike[str] | None = None,
        compress_level: int = COMPRESS_LEVEL,
        secrets: Secrets = NO_SECRETS,
    ) -> None:
        super().__init__(
            stream, clock=clock, id_factory=id_factory, spool_dir=spool_dir,
            compress_level=compress_level, filename=final_path.name, secrets=secrets,
        )  # fmt: skip
        self.final_path = final_path
        self._sealed: SealedWarc | None = None

    @property
    def sealed(self) -> SealedWarc:
        """Path, sha256 and size of the finished file; only after the block succeeded."""
        if self._sealed is None:
            raise WarcError(f"{self.final_path} is not sealed (still open, or it failed)")
        return self._sealed


@contextmanager
def open_snapshot(
    final_path: str | os.PathLike[str],
    *,
    clock: Clock = utc_now,
    id_factory: IdFactory = uuid.uuid4,
    spool_dir: str | os.PathLike[str] | None = None,
    compress_level: int = COMPRESS_LEVEL,
    secrets: Secrets = NO_SECRETS,
    abandoned: Callable[[], bool] | None = None,
) -> Iterator[SnapshotWriter]:
    """Write one snapshot WARC to ``final_path`` atomically; refuse to overwrite.

    Usage: ``with open_snapshot(path) as w: w.write_warcinfo(...); ...``, then
    ``w.sealed.sha256``. The folder is created if missing. Streamed (iterable) bodies
    are spooled in ``spool_dir``, by default the snapshot's own folder: it is on the
    storage volume, which has room for big files, unlike a RAM-backed /tmp.
    """
    final = Path(final_path)
    if os.path.lexists(final):
        raise WarcError(f"{final} already exists; snapshots are never overwritten")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.with_name(f".{final.name}.{os.urandom(8).hex()}{PART_SUFFIX}")
        handle = open(temp, "xb")  # noqa: SIM115 - closed in the block below
    except OSError as exc:
        raise _failed(exc, final, f"cannot create a snapshot in {final.parent}") from exc
    guard = _Abandonable(handle, abandoned or (lambda: False), final)
    try:
        with _no_space_is_disk_full(final), handle:
            writer = SnapshotWriter(
                cast(BinaryIO, guard), final, clock=clock, id_factory=id_factory,
                spool_dir=final.parent if spool_dir is None else spool_dir,
                compress_level=compress_level, secrets=secrets,
            )  # fmt: skip
            yield writer
            if writer.bytes_written == 0:
                raise WarcError(f"{final}: no record was written; an empty snapshot is not kept")
            guard.check()
            _flush_to_disk(handle, writer.bytes_written, final)
        guard.check()  # the last moment: once linked, the file is complete and kept
        _link_no_replace(temp, final)
        temp.unlink(missing_ok=True)
        _fsync_dir(final.parent)
        writer._sealed = SealedWarc(final, writer.output_sha256(), writer.bytes_written)
    finally:
        temp.unlink(missing_ok=True)


def _failed(exc: OSError, final: Path, what: str) -> WarcError | DiskFullError:
    """The error to raise for ``exc``: "disk full" when it is, else ``what`` failed."""
    return disk_full_error(exc, final) or WarcError(f"{what}: {exc.strerror or exc}")


@contextmanager
def _no_space_is_disk_full(final: Path) -> Iterator[None]:
    """A full disk met while the records are written (or the file closed) is said as
    one: :class:`DiskFullError`, a store fault, not a fault of the capture."""
    try:
        yield
    except (OSError, WarcError) as exc:
        # The writer says "cannot write the ... record" (a WarcError from the OSError).
        cause = exc if isinstance(exc, OSError) else exc.__cause__
        full = disk_full_error(cause, final) if isinstance(cause, OSError) else None
        if full is None:
            raise
        raise full from exc


def _flush_to_disk(handle: BinaryIO, expected_size: int, final: Path) -> None:
    try:
        handle.flush()
        fd = handle.fileno()
        info = os.fstat(fd)
        if info.st_size != expected_size:
            # Someone else wrote to the stream: the digest would not describe the file.
            raise WarcError(f"{final}: {info.st_size} bytes on disk, {expected_size} written")
        # Read-only from now on: snapshots are never modified (umask still applies).
        os.fchmod(fd, stat.S_IMODE(info.st_mode) & ~0o222)
        os.fsync(fd)
    except OSError as exc:
        raise _failed(exc, final, f"cannot save {final}") from exc


def _link_no_replace(temp: Path, final: Path) -> None:
    try:
        os.link(temp, final)  # fails with EEXIST instead of replacing
    except FileExistsError as exc:
        raise WarcError(f"{final} appeared while writing; snapshots are never overwritten") from exc
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise _failed(exc, final, f"cannot name {final}") from exc
        # No hard links here: rename, after a last check (a narrow race remains).
        if os.path.lexists(final):
            raise WarcError(
                f"{final} appeared while writing; snapshots are never overwritten"
            ) from exc
        try:
            os.rename(temp, final)
        except OSError as rename_exc:
            raise _failed(rename_exc, final, f"cannot name {final}") from rename_exc


def _fsync_dir(folder: Path) -> None:
    try:
        fsync_dir(folder)
    except OSError as exc:
        raise _failed(exc, folder, f"cannot sync {folder}") from exc
