"""The work queue (issue 19, docs/scale.md): who runs captures, re-checks, stamping and
notifications.

The work itself is the same functions whatever runs it (:mod:`archiver.queue.work`);
two dispatchers call them:

- **in-process** (SQLite, the embedded default): ``archiver run`` calls them itself,
  in its capture loop and its APScheduler jobs (:mod:`archiver.schedule.daemon`);
- **procrastinate** (PostgreSQL): ``archiver run`` decides what is due and defers
  procrastinate tasks (:mod:`archiver.queue.scheduler`), and any number of
  ``archiver worker`` processes on any machines run them
  (:mod:`archiver.queue.worker`).

Either way the per-source claims (:mod:`archiver.store.leases`) make one capture or
check of a source at a time hold, whatever runs.
"""

from __future__ import annotations

from archiver.config import Settings
from archiver.errors import ConfigError

# The queues a worker takes (``archiver worker --queues``): plain captures; captures
# that need a Chromium or a platform step (yt-dlp), which want more memory; re-check
# batches and notifications; timestamps and custody heads.
QUEUES = ("capture", "browser", "check", "stamp")


def is_postgresql(settings: Settings) -> bool:
    return settings.storage.resolved_database_url().startswith("postgresql")


def uses_procrastinate(settings: Settings) -> bool:
    """Whether ``archiver run`` hands its work to ``archiver worker`` processes
    (``daemon.queue``; "auto" means procrastinate on PostgreSQL)."""
    mode = settings.daemon.queue
    if mode == "procrastinate" and not is_postgresql(settings):
        raise ConfigError(
            'daemon.queue = "procrastinate" needs PostgreSQL (storage.database_url = '
            '"postgresql+psycopg://..."); the SQLite default runs everything in-process'
        )
    if mode == "auto":
        return is_postgresql(settings)
    return mode == "procrastinate"


def parse_queues(text: str | None) -> list[str]:
    """``--queues capture,browser``: the names, checked; None or empty: all."""
    if not text:
        return list(QUEUES)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in QUEUES]
    if unknown or not names:
        raise ConfigError(
            f"--queues: unknown queue {', '.join(unknown) or '(none)'}; "
            f"expected some of {', '.join(QUEUES)}"
        )
    return list(dict.fromkeys(names))
