"""Check runs left unfinished by a process that ended (killed, crashed, power cut).

A run's row is written when its batch starts and finished when the batch is recorded,
in one transaction; a process that dies in between leaves ``finished_at`` NULL for
ever (a process that is asked to stop closes its own run, :func:`close_stopped_run`,
with the same effect). Every run records who runs it (``owner``: host, pid and a
random token of the process), and at the start of each run and daemon pass the
unfinished runs whose process is gone are closed: ``finished_at`` set,
``abandoned_reason`` saying why. Their checks were never recorded, so nothing else
needs mending.

Whether a run's process is gone:

- same host, same pid as ours, another token: an earlier process had our pid (a
  container restarts with the same pid);
- same host, no process with that pid: it ended;
- same host, a live process with that pid: it is running (or the pid was reused);
- another host, or no owner recorded (a run from before this was): only age tells,
  a run unfinished ``STALE_AFTER`` after it started is taken for abandoned.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from archiver.models import CheckRun
from archiver.store.db import Database

log = logging.getLogger(__name__)

# Far longer than a batch takes (check.batch_size probes plus re-captures).
STALE_AFTER = timedelta(hours=24)
_TOKEN = secrets.token_hex(6)


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    token: str

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}"

    @classmethod
    def parse(cls, text: str | None) -> Owner | None:
        if not text:
            return None
        host, _, rest = text.rpartition(":")
        host, _, pid = host.rpartition(":")
        if not host or not pid.isdigit():
            return None
        return cls(host, int(pid), rest)


def current_owner() -> Owner:
    return Owner(socket.gethostname(), os.getpid(), _TOKEN)


def this_process() -> str:
    """What a run started by this process records as its owner."""
    return str(current_owner())


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, as another user
        return True
    return True


def abandoned_reason(
    owner: str | None,
    started_at: datetime,
    now: datetime,
    *,
    me: Owner,
    alive: Callable[[int], bool] = pid_alive,
    stale_after: timedelta = STALE_AFTER,
) -> str | None:
    """Why the unfinished run is taken for abandoned, or None while it may be running."""
    found = Owner.parse(owner)
    if found is not None and found.host == me.host:
        if found == me:
            return None  # running here
        # Our own pid under another token was an earlier process's.
        if found.pid == me.pid or not alive(found.pid):
            return (
                f"abandoned: its process (pid {found.pid} on {found.host}) ended before "
                "the run finished"
            )
    if now - started_at >= stale_after:
        who = "no process recorded" if found is None else f"pid {found.pid} on {found.host}"
        hours = (now - started_at).total_seconds() / 3600
        return f"abandoned: still unfinished {hours:.0f} h after it started ({who})"
    return None


STOPPED = "abandoned: its process was stopping (SIGTERM or SIGINT) before the run finished"


def close_stopped_run(db: Database, run_id: int, now: datetime) -> None:
    """Close the run this process abandons because it is stopping: its checks are not
    recorded (the sources are checked again when due)."""
    with db.session() as session:
        run = session.get(CheckRun, run_id)
        if run is not None and run.finished_at is None:
            run.finished_at = now
            run.abandoned_reason = STOPPED
    log.info("check run %d abandoned: stopping; its sources are checked again when due", run_id)


def close_abandoned_runs(
    db: Database, now: datetime, *, alive: Callable[[int], bool] = pid_alive
) -> list[int]:
    """Close the unfinished check runs whose process is gone; returns their ids."""
    me = current_owner()
    closed = []
    with db.session() as session:
        for run in session.scalars(select(CheckRun).where(CheckRun.finished_at.is_(None))):
            reason = abandoned_reason(run.owner, run.started_at, now, me=me, alive=alive)
            if reason is None:
                continue
            run.finished_at = now
            run.abandoned_reason = reason
            closed.append(run.id)
            log.warning("check run %d (started %s) closed: %s", run.id, run.started_at, reason)
    return closed
