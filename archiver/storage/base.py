"""The small interface both stores implement: the storage folder and an S3 bucket.

Keys are the POSIX paths relative to ``storage.root`` that the database already keeps
(``warcs/2026/03/12/ab/<source>-<uuid>.warc.gz``), so a row means the same object on
either store. A WARC is always written and sealed in the storage folder first
(:mod:`archiver.capture.warc.snapshot_file`); a remote store then takes it with
:meth:`ObjectStore.put_file`, and only after that returns may the row be written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from archiver.errors import StoreError


class ObjectMissing(StoreError):
    """No object under this key."""


class StoreRefused(StoreError):
    """The store refused the request (write refused, object under retention, denied)."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    # The store's own checksum as it reports it (S3: base64 SHA-256, "-N" appended for
    # a multipart object); None where the store keeps none (the local folder).
    checksum: str | None = None
    # S3 Object Lock: "COMPLIANCE" or "GOVERNANCE" and until when; None: not locked.
    lock_mode: str | None = None
    retain_until: datetime | None = None
    modified: datetime | None = None


class ObjectStore(Protocol):
    @property
    def description(self) -> str:
        """Where the objects are, for messages and logs (never a credential)."""
        ...

    @property
    def remote(self) -> bool:
        """False for the storage folder itself: files are already where they belong."""
        ...

    def probe(self) -> None:
        """The store answers (a remote one: with these credentials); raises StoreError."""
        ...

    def put_file(self, local: Path, key: str, *, sha256: str, size: int) -> ObjectInfo:
        """Store the sealed file ``local`` under ``key`` (never over another object),
        its checksum checked by the store; raises StoreError."""
        ...

    def stat(self, key: str) -> ObjectInfo | None:
        """Size, checksum and retention of the object; None when it does not exist."""
        ...

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """The object's bytes as a stream, read as they are used (never whole)."""
        ...

    def fetched(self, key: str, spool: Path) -> AbstractContextManager[Path]:
        """The object as a local file for code that needs a path: the file itself, or
        a copy streamed into ``spool`` and removed afterwards."""
        ...

    def keys(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``."""
        ...
