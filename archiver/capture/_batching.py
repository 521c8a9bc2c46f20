"""Group commit: many finished captures recorded in one database transaction.

Recording a capture is a few rows; what costs is the transaction around them (a
session, a commit, SQLite's lock). :class:`GroupCommit` hands each item to a single
writer thread, and items that arrive while that thread is busy wait and go together in
the next batch. When captures finish slowly each item is written at once, alone; when
they finish faster than one transaction per item can keep up with, batches grow (up to
``max_batch``) and the writer keeps up.

With ``linger`` (seconds) the writer, once an item is waiting, waits that long for more
before it starts a transaction. Captures made by worker processes arrive one by one
from pipes while the writer is idle, so without it each would cost a transaction of
its own (session, queries, commit: about as much CPU again as recording the rows).

``write_batch`` returns one result per item, in order: the item's outcome, or the
exception that recording that item raised (which is raised to the item's caller, as if
it had been recorded alone).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        write_batch: Callable[[Sequence[T]], Sequence[R | Exception]],
        executor: Executor,
        *,
        max_batch: int = 256,
        linger: float = 0.0,
    ) -> None:
        self._write_batch = write_batch
        self._executor = executor
        self._max_batch = max_batch
        self._linger = linger
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Record ``item`` (with whatever else is waiting); its result, or its error."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            if self._linger and len(self._pending) < self._max_batch:
                await asyncio.sleep(self._linger)
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            items = [item for item, _ in batch]
            results: Sequence[R | Exception]
            try:
                results = await loop.run_in_executor(self._executor, self._write_batch, items)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
