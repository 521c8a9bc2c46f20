"""Recognising a full disk in the errors of the database and of file writes.

A full disk reaches us in several disguises: ``OSError`` with ENOSPC (or EDQUOT, a
quota) from a file write, SQLite's "database or disk is full" (SQLITE_FULL), SQLite's
"disk I/O error" when the WAL index cannot grow (SQLITE_IOERR_SHMSIZE and friends: then
only the free space tells), and PostgreSQL's DiskFull (SQLSTATE 53100) from the
server. :func:`disk_full_error` turns any of them into one plain
:class:`~archiver.errors.DiskFullError` naming the place; callers raise it ``from`` the
original error.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from archiver.errors import DiskFullError

_SQLITE_FULL = 13
_SQLITE_IOERR = 10
_PG_DISK_FULL = "53100"
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
# An I/O error with less than this left free is taken for a full disk.
NEARLY_FULL = 1024 * 1024


def free_space(path: str | Path) -> int | None:
    """Bytes free for this user on the file system holding ``path`` (or its nearest
    existing parent); None when it cannot be told."""
    place = Path(path)
    while not place.exists() and place != place.parent:
        place = place.parent
    try:
        stat = os.statvfs(place)
    except (OSError, AttributeError):  # AttributeError: no statvfs (Windows)
        return None
    return stat.f_bavail * stat.f_frsize


def disk_full_error(
    exc: BaseException,
    where: str | Path,
    *,
    doing: str = "",
    free_bytes: Callable[[str | Path], int | None] = free_space,
) -> DiskFullError | None:
    """A :class:`DiskFullError` for ``where`` (the file, or the database) when ``exc``
    (or the driver error it wraps) means the disk is full; None otherwise. ``doing``
    says what failed, e.g. "database migration"."""
    cause = getattr(exc, "orig", None) or exc
    full = False
    if isinstance(cause, OSError):
        full = cause.errno in _NO_SPACE
    elif getattr(cause, "sqlstate", None) == _PG_DISK_FULL:
        full = True
    elif isinstance(code := getattr(cause, "sqlite_errorcode", None), int):
        if code & 0xFF == _SQLITE_FULL:
            full = True
        elif code & 0xFF == _SQLITE_IOERR:
            free = free_bytes(Path(where).parent)
            full = free is not None and free < NEARLY_FULL
    if not full:
        return None
    during = f" ({doing})" if doing else ""
    return DiskFullError(
        f"disk full: no space left to write {where}{during}; free some space (or give "
        "the storage more room) and try again"
    )
