"""The default store: files under ``storage.root``, in the layout they always had."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from archiver.errors import StoreError
from archiver.storage.base import ObjectInfo, ObjectMissing


class LocalStore:
    remote = False

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def description(self) -> str:
        return f"the storage folder {self.root}"

    def path(self, key: str) -> Path:
        root = self.root.resolve()
        path = (root / key).resolve()
        if not path.is_relative_to(root):
            raise ObjectMissing(f"{key}: not inside {self.root}")
        return path

    def probe(self) -> None:
        """The folder's own check is /readyz's write test."""

    def put_file(self, local: Path, key: str, *, sha256: str, size: int) -> ObjectInfo:
        # Snapshots are sealed in place (archiver.capture.warc.snapshot_file).
        if local.resolve() != self.path(key):
            raise StoreError(f"{local} is not {key} in {self.root}")
        info = self.stat(key)
        if info is None or info.size != size:
            raise StoreError(f"{key}: not in {self.root} at {size} bytes")
        return info

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            status = os.stat(self.path(key))
        except (FileNotFoundError, ObjectMissing):
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {key}: {exc.strerror or exc}") from exc
        return ObjectInfo(
            key, status.st_size, modified=datetime.fromtimestamp(status.st_mtime, UTC)
        )

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        try:
            handle = self.path(key).open("rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(f"{key} is missing from {self.root}") from exc
        except OSError as exc:
            raise StoreError(f"cannot read {key}: {exc.strerror or exc}") from exc
        with handle:
            yield handle

    @contextmanager
    def fetched(self, key: str, spool: Path) -> Iterator[Path]:
        path = self.path(key)
        if not path.is_file():
            raise ObjectMissing(f"{key} is missing from {self.root}")
        yield path

    def keys(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self.root / prefix
        for path in sorted(base.rglob("*")) if base.is_dir() else ():
            if path.is_file():
                info = self.stat(path.relative_to(self.root).as_posix())
                if info is not None:
                    yield info
