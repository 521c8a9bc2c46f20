"""Record bodies that are read twice: once to compute digests, once to write.

WARC puts Content-Length and the digests *before* the block, so a writer must know
them before it writes the first byte of the block. Reading the body twice, in chunks,
keeps memory bounded whatever its size (a video can be gigabytes):

- ``bytes``: already in memory; both passes slice it.
- a path (``os.PathLike``): read from disk in both passes; never loaded whole.
- any other iterable of byte chunks (e.g. a network stream): spooled to a temporary
  file during the first pass, since an iterator cannot be rewound.

The second pass recomputes the digest and the writer compares it with the first, so a
file modified between the passes is caught instead of producing a record whose
headers lie about its block.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Protocol, TypeAlias, runtime_checkable

from archiver.errors import WarcError

CHUNK_SIZE = 1 << 20
# Iterable bodies up to this size stay in memory; larger ones go to disk.
SPOOL_IN_MEMORY = 8 << 20


class BodySource(Protocol):
    size: int
    # True when the bytes cannot change between the writer's two passes (bytes in
    # memory, a captured body the archiver owns); the second-pass re-hash is skipped.
    immutable: bool

    def chunks(self) -> Iterator[bytes | memoryview]: ...


@runtime_checkable
class RereadableBody(Protocol):
    """A body that can be read from the start again and knows its size (such as a
    captured response spooled to disk): written without another spool copy."""

    @property
    def size(self) -> int: ...

    def chunks(self) -> Iterator[bytes]: ...


Body: TypeAlias = (
    bytes | bytearray | memoryview | os.PathLike[str] | RereadableBody | Iterable[bytes]
)


class _BytesSource:
    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self.immutable = isinstance(data, bytes)
        self._data = memoryview(data).cast("B")
        self.size = len(self._data)

    def chunks(self) -> Iterator[memoryview]:
        for start in range(0, self.size, CHUNK_SIZE):
            yield self._data[start : start + CHUNK_SIZE]


class _FileSource:
    """A regular file read by position; its size is fixed when it is opened."""

    immutable = False

    def __init__(self, handle: IO[bytes], name: str, size: int) -> None:
        self._handle = handle
        self._name = name
        self.size = size

    def chunks(self) -> Iterator[bytes]:
        self._handle.seek(0)
        left = self.size
        while left:
            piece = self._handle.read(min(CHUNK_SIZE, left))
            if not piece:
                raise WarcError(f"{self._name} shrank while it was being written")
            left -= len(piece)
            yield piece
        if self._handle.read(1):
            raise WarcError(f"{self._name} grew while it was being written")


class _Rereadable:
    immutable = True

    def __init__(self, body: RereadableBody) -> None:
        self._body = body
        self.size = body.size

    def chunks(self) -> Iterator[bytes]:
        seen = 0
        for piece in self._body.chunks():
            seen += len(piece)
            yield piece
        if seen != self.size:
            raise WarcError(f"a body of {self.size} bytes gave {seen} bytes when read")


def bytes_source(data: bytes | bytearray | memoryview) -> BodySource:
    return _BytesSource(data)


@contextmanager
def open_body(body: Body, spool_dir: str | os.PathLike[str] | None = None) -> Iterator[BodySource]:
    """A re-readable view of ``body`` with its size known up front."""
    if isinstance(body, bytes | bytearray | memoryview):
        yield _BytesSource(body)
    elif isinstance(body, os.PathLike):
        name = os.fspath(body)
        try:
            handle = open(name, "rb")  # noqa: SIM115 - closed below, after both passes
        except OSError as exc:
            raise WarcError(f"cannot read {name}: {exc.strerror or exc}") from exc
        with handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                # A pipe or device cannot be read twice.
                raise WarcError(f"{name} is not a regular file")
            yield _FileSource(handle, name, info.st_size)
    elif isinstance(body, RereadableBody):
        yield _Rereadable(body)
    elif isinstance(body, str):
        raise WarcError("a body must be bytes, a path object or an iterable of bytes, not str")
    else:
        folder = None if spool_dir is None else os.fspath(spool_dir)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=folder) as spool:
            for piece in body:
                if not isinstance(piece, bytes | bytearray | memoryview):
                    raise WarcError(f"body chunks must be bytes, got {type(piece).__name__}")
                spool.write(piece)
            # tell(), not fstat(): fileno() would force an in-memory spool onto disk.
            yield _FileSource(spool, "the spooled body", spool.tell())
