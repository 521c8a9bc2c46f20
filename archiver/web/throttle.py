"""Failed sign-ins per client: a few mistakes are free, then each failure makes the
client wait longer (1 s, 2 s, 4 s ... up to 5 minutes) before a token is looked at again.

Tokens have 256 bits of entropy, so guessing one is hopeless anyway; the wait keeps a
client that tries thousands from loading the database and filling the logs. While a
client waits, every token it presents is answered 429 with ``Retry-After``, a right one
too: answering a right token would tell a guesser it was right. Requests with a login
session present no token and are never held up.

Clients are told apart by their address. Behind a reverse proxy every client has the
proxy's address (X-Forwarded-For is not trusted) and they share one allowance. Counts
are kept in this process's memory, for at most ``max_clients`` addresses (the oldest
are forgotten first), and a client's failures are forgotten after ``forget_after``
seconds without one.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int
    last_failure: float
    blocked_until: float


class LoginThrottle:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        free_failures: int = 10,
        first_delay: float = 1.0,
        max_delay: float = 300.0,
        forget_after: float = 900.0,
        max_clients: int = 10_000,
    ) -> None:
        self.clock = clock
        self.free_failures = free_failures
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_clients = max_clients
        self._records: OrderedDict[str, _Record] = OrderedDict()
        # Page and API handlers run in a thread pool.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def _current(self, client: str, now: float) -> _Record | None:
        record = self._records.get(client)
        if record is not None and now - record.last_failure >= self.forget_after:
            del self._records[client]
            return None
        return record

    def wait(self, client: str) -> float:
        """Seconds ``client`` must wait before presenting a token again (0: go ahead)."""
        with self._lock:
            now = self.clock()
            record = self._current(client, now)
            if record is None:
                return 0.0
            return max(0.0, record.blocked_until - now)

    def failed(self, client: str) -> float:
        """Count a wrong token from ``client``; returns the wait this imposes."""
        with self._lock:
            now = self.clock()
            record = self._current(client, now)
            if record is None:
                record = _Record(0, now, now)
                self._records[client] = record
            self._records.move_to_end(client)
            record.failures += 1
            record.last_failure = now
            over = record.failures - self.free_failures
            delay = 0.0
            if over > 0:
                delay = min(self.first_delay * 2.0 ** min(over - 1, 62), self.max_delay)
            record.blocked_until = now + delay
            while len(self._records) > self.max_clients:
                self._records.popitem(last=False)
            return delay
