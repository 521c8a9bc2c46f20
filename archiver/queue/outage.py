"""The database going away under ``archiver run`` and ``archiver worker`` (PostgreSQL
restarted, a fail-over, connections ended by an administrator): said in one line, not
a traceback per query in flight (docs/scale.md, "Faults").

What recovers it is elsewhere: SQLAlchemy's ``pool_pre_ping`` and the queue's pool
checking each connection before use (procrastinate sets psycopg_pool's check) replace
the dead connections; a query that was in flight fails, its task with it, and the next
scheduling pass defers the work again.
"""

from __future__ import annotations

import logging

import psycopg
import sqlalchemy.exc

_LOST = (
    psycopg.OperationalError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
)


def connection_lost(exc: BaseException | None) -> str | None:
    """The driver's first line when ``exc`` is, or was caused by, a lost or refused
    database connection; None for any other error."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, psycopg.OperationalError):
            return (str(exc).strip().splitlines() or ["connection lost"])[0]
        if isinstance(exc, _LOST) and exc.__cause__ is None:
            return (str(exc).strip().splitlines() or ["connection lost"])[0]
        exc = exc.__cause__ or exc.__context__
    return None


class OneLine(logging.Filter):
    """On a handler: a record whose exception is a lost database connection keeps its
    message and the driver's words, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            why = connection_lost(record.exc_info[1])
            if why is not None:
                record.msg = f"{record.getMessage()}: the database connection failed ({why})"
                record.args = None
                record.exc_info = None
                record.exc_text = None
        return True


def one_line_database_errors() -> None:
    """Every handler of the root logger (set up by the CLI) shortens such records."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, OneLine) for f in handler.filters):
            handler.addFilter(OneLine())
