"""The inbox folder: operators drop report files into <storage>/inbox/.

Each file is harvested once and then moved, never deleted: into ``inbox/done/`` when it
was stored, or ``inbox/failed/`` with a ``.error.txt`` beside it saying why. Hidden
files and names ending in .tmp/.part are skipped so a copy in progress is not read half
written; so are files modified in the last ``settle_seconds``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archiver.errors import ArchiverError
from archiver.harvest.ingest import IngestOutcome

log = logging.getLogger(__name__)

_IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp")


@dataclass(frozen=True)
class InboxResult:
    path: Path
    moved_to: Path
    outcome: IngestOutcome | None
    error: str | None


def pending_files(inbox: Path, *, now: float, settle_seconds: float = 1.0) -> list[Path]:
    """Report files ready to be read, oldest first."""
    ready = []
    for path in inbox.iterdir():
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.name.lower().endswith(_IN_PROGRESS_SUFFIXES):
            continue
        if now - path.stat().st_mtime < settle_seconds:
            continue
        ready.append(path)
    return sorted(ready, key=lambda p: (p.stat().st_mtime, p.name))


def _destination(folder: Path, name: str, stamp: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    candidate = folder / f"{stamp}-{name}"
    counter = 1
    while candidate.exists():
        candidate = folder / f"{stamp}-{counter}-{name}"
        counter += 1
    return candidate


def _fail(inbox: Path, path: Path, stamp: str, message: str) -> InboxResult:
    target = _destination(inbox / "failed", path.name, stamp)
    path.rename(target)
    target.with_name(target.name + ".error.txt").write_text(message + "\n", encoding="utf-8")
    log.warning("inbox: %s not added: %s (moved to %s)", path.name, message, target)
    return InboxResult(path, target, None, message)


def process_inbox(
    inbox: Path,
    add_file: Callable[[Path, str], IngestOutcome],
    clock: Callable[[], datetime],
    *,
    settle_seconds: float = 1.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[InboxResult]:
    """Harvest every ready file in ``inbox`` and move it to done/ or failed/."""
    results = []
    for path in pending_files(inbox, now=time.time(), settle_seconds=settle_seconds):
        if should_stop():
            break
        stamp = clock().strftime("%Y%m%dT%H%M%SZ")
        try:
            outcome = add_file(path, f"inbox:{path.name}")
        except ArchiverError as exc:
            results.append(_fail(inbox, path, stamp, str(exc)))
            continue
        except Exception as exc:
            log.exception("inbox: unexpected error on %s", path.name)
            results.append(
                _fail(inbox, path, stamp, f"internal error: {type(exc).__name__}: {exc}")
            )
            continue
        target = _destination(inbox / "done", path.name, stamp)
        path.rename(target)
        if outcome.already_stored:
            log.info("inbox: %s is report %d, already stored", path.name, outcome.report_id)
        else:
            log.info(
                "inbox: %s added as report %d: %d citations, %d sources (%d new)",
                path.name,
                outcome.report_id,
                outcome.citations,
                outcome.sources,
                outcome.new_sources,
            )
        results.append(InboxResult(path, target, outcome, None))
    return results
