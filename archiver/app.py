"""``Archive``: the library object behind the CLI and the daemon.

It owns the settings, the database and the clock; the CLI and the daemon are thin
layers over it. Tests build one with a fixed clock and a temporary storage root.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select

from archiver.clock import utc_now
from archiver.config import Settings
from archiver.errors import ArchiverError, FetchError, ReportTooLargeError, StoreError
from archiver.secrets import redact_logs, settings_secrets
from archiver.store.db import Database
from archiver.store.status import build_status

if TYPE_CHECKING:
    from archiver.capture.runner import CaptureOutcome, CaptureRunner
    from archiver.check.classify import Recognizer
    from archiver.check.runner import CheckOutcome, CheckRunner, RunReport
    from archiver.harvest.ingest import IngestOutcome
    from archiver.integrity.service import Integrity
    from archiver.integrity.stamping import StampSummary
    from archiver.witnesses.service import Witnesses
    from archiver.witnesses.spn import SavePageNow

# The harvest (lxml, pypdf) and capture (playwright) stacks are imported where used, so
# a command that needs one does not pay for loading the other.


def is_url(target: str) -> bool:
    return urlsplit(target).scheme.lower() in {"http", "https"}


class Archive:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self._integrity: Integrity | None = None

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> Archive:
        """Create the storage folders, open the database and apply migrations. From now
        on no log record of the process shows a credential of the settings."""
        redact_logs(settings_secrets(settings))
        root = settings.storage.root
        try:
            for folder in (root, settings.reports_dir, settings.inbox_dir):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create storage folder under {root}: {exc.strerror}") from exc
        db = Database.open(settings.storage.resolved_database_url())
        return cls(settings, db, clock=clock)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reports -------------------------------------------------------------------

    def add(self, target: str, *, actor: str = "system") -> IngestOutcome:
        """Add a report given as a file path or an http(s) URL. ``actor`` is who added it,
        for the custody log."""
        if is_url(target):
            return self.add_url(target, actor=actor)
        return self.add_file(Path(target), actor=actor)

    def add_file(
        self, path: Path, *, origin: str | None = None, actor: str = "system"
    ) -> IngestOutcome:
        limit = self.settings.harvest.max_report_bytes
        try:
            size = path.stat().st_size
            if size > limit:
                raise ReportTooLargeError(
                    f"{path}: {size} bytes, over the {limit} byte limit (harvest.max_report_bytes)"
                )
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise FetchError(f"{path}: no such file") from exc
        except IsADirectoryError as exc:
            raise FetchError(f"{path}: is a folder, not a report file") from exc
        except OSError as exc:
            raise FetchError(f"{path}: cannot read: {exc.strerror}") from exc
        return self.add_bytes(data, origin=origin or str(path), filename=path.name, actor=actor)

    def add_url(self, url: str, *, actor: str = "system") -> IngestOutcome:
        from archiver.harvest.fetch import fetch_report

        fetched = fetch_report(
            url,
            self.settings.network,
            max_bytes=self.settings.harvest.max_report_bytes,
            deadline=self.settings.harvest.fetch_deadline,
        )
        name = Path(urlsplit(fetched.final_url).path).name or None
        return self.add_bytes(
            fetched.data,
            origin=url,
            filename=name,
            content_type=fetched.content_type,
            fetched_url=fetched.final_url,
            actor=actor,
        )

    def add_bytes(
        self,
        data: bytes,
        *,
        origin: str,
        filename: str | None = None,
        content_type: str | None = None,
        fetched_url: str | None = None,
        actor: str = "system",
    ) -> IngestOutcome:
        from archiver.harvest.ingest import ingest_report
        from archiver.storage import open_store

        return ingest_report(
            self.db,
            self.settings.reports_dir,
            data,
            origin=origin,
            clock=self.clock,
            filename=filename,
            content_type=content_type,
            fetched_url=fetched_url,
            max_bytes=self.settings.harvest.max_report_bytes,
            actor=actor,
            replica=open_store(self.settings),
        )

    # -- capture -------------------------------------------------------------------

    def capture_runner(self, actor: str = "system") -> CaptureRunner:
        from archiver.capture.runner import CaptureRunner

        # The signing key is generated here on first start, before anything is captured.
        sealer = self.integrity.sealer(actor)
        return CaptureRunner(self.settings, self.db, clock=self.clock, sealer=sealer)

    def find_sources(self, refs: Sequence[str]) -> list[int]:
        """Source ids for references given as ids or URLs (as cited or normalized)."""
        from archiver.harvest import normalize_url
        from archiver.harvest.ingest import url_key
        from archiver.models import Source

        ids: list[int] = []
        with self.db.session() as session:
            for ref in refs:
                if ref.isdigit():
                    found = session.get(Source, int(ref))
                elif is_url(ref):
                    try:
                        key = url_key(normalize_url(ref))
                    except ValueError as exc:
                        raise ArchiverError(f"{ref}: not a usable URL ({exc})") from exc
                    found = session.scalars(select(Source).where(Source.url_sha256 == key)).first()
                else:
                    found = None
                if found is None:
                    raise ArchiverError(f"{ref}: no such source (give a source id or a cited URL)")
                ids.append(found.id)
        return ids

    def capture(
        self,
        *,
        source_ids: Sequence[int] | None = None,
        limit: int | None = None,
        progress: Callable[[CaptureOutcome], None] | None = None,
        on_start: Callable[[int], None] | None = None,
        on_skipped: Callable[[int], None] | None = None,
        actor: str = "system",
    ) -> list[CaptureOutcome]:
        """Capture the named sources, or those due (not yet preserved); not those
        another runner holds (``on_skipped`` is told how many)."""
        runner = self.capture_runner(actor)
        due, skipped = runner.take(limit=limit, source_ids=source_ids)
        if skipped and on_skipped is not None:
            on_skipped(skipped)
        if on_start is not None:
            on_start(len(due))
        if not due:
            return []
        return asyncio.run(runner.run(due, progress=progress))

    # -- re-check (issue 5) ----------------------------------------------------------

    def check_runner(
        self, *, recognizer: Recognizer | None = None, actor: str = "system"
    ) -> CheckRunner:
        from archiver.check.runner import CheckRunner

        return CheckRunner(
            self.settings,
            self.db,
            clock=self.clock,
            recognizer=recognizer,
            actor=actor,
            capture_runner=lambda: self.capture_runner(actor),
        )

    def check(
        self,
        *,
        source_ids: Sequence[int] | None = None,
        everything: bool = False,
        limit: int | None = None,
        progress: Callable[[CheckOutcome], None] | None = None,
        on_start: Callable[[int], None] | None = None,
        on_skipped: Callable[[int], None] | None = None,
        recognizer: Recognizer | None = None,
        actor: str = "system",
    ) -> list[RunReport]:
        """Re-check the named sources, all captured ones (``everything``), or those due;
        then send the operator's notifications. Sources another runner holds are
        skipped (``on_skipped`` is told how many)."""
        from archiver.check.notify import Notifier

        runner = self.check_runner(recognizer=recognizer, actor=actor)
        due = runner.due(limit=limit, source_ids=source_ids, everything=everything)
        busy = runner.busy(source_ids=source_ids, everything=everything)
        if on_start is not None:
            on_start(len(due))
        reports = asyncio.run(runner.run(due, progress=progress)) if due else []
        skipped = len(busy | runner.claims.refused)
        if skipped and on_skipped is not None:
            on_skipped(skipped)
        Notifier(self.settings.notify, self.db, clock=self.clock).flush(force=True)
        return reports

    # -- status --------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return build_status(self.db, self.clock)

    # -- integrity (docs/integrity.md) ---------------------------------------------------

    @property
    def integrity(self) -> Integrity:
        """Signing keys, stamps and custody heads (archiver.integrity.service)."""
        if self._integrity is None:
            from archiver.integrity.service import Integrity

            self._integrity = Integrity(self.settings, self.db, self.clock)
        return self._integrity

    def stamp_pending(self) -> StampSummary:
        """Follow-up integrity pass (the daemon runs it between capture batches): seal
        a custody head when one is due, then fetch every due pending RFC 3161 stamp."""
        return self.integrity.stamp_pending()

    # -- witnesses (issue 18): copies held by public web archives ------------------------

    @property
    def witnesses(self) -> Witnesses:
        """Earlier copies from public web archives (archiver.witnesses, docs/witnesses.md)."""
        from archiver.witnesses.service import Witnesses

        return Witnesses(
            self.settings,
            self.db,
            clock=self.clock,
            sealer=lambda: self.integrity.sealer("witnesses"),
        )

    @property
    def save_page_now(self) -> SavePageNow:
        """The Wayback Machine's Save Page Now asked after our captures (docs/witnesses.md)."""
        from archiver.witnesses.spn import SavePageNow

        return SavePageNow(self.settings, self.db, clock=self.clock)

    def export(
        self, source_ref: str, out: Path, *, snapshot_id: str | None = None, actor: str = "system"
    ) -> Path:
        """Write the evidence package of a source (id or URL) to ``out`` (a .zip)."""
        from archiver.integrity.export import export_package

        [source_id] = self.find_sources([source_ref])
        return export_package(self, source_id, snapshot_id, out, actor)
