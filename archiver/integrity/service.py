"""The integrity services an :class:`archiver.app.Archive` offers: the signing keys
(created on first use and logged in custody), key rotation, the follow-up stamping
pass, and periodic signed custody heads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from archiver.config import Settings
from archiver.integrity import custody
from archiver.integrity.keys import KeyEvent, KeyStore
from archiver.integrity.seal import Sealer, seal_custody_head
from archiver.models import CustodyEvent, CustodyHead
from archiver.store.db import Database

if TYPE_CHECKING:
    from archiver.integrity.stamping import StampSummary


@dataclass(frozen=True)
class HeadInfo:
    id: int
    seq: int
    head_hash: str
    key_fingerprint: str


class Integrity:
    def __init__(self, settings: Settings, db: Database, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self._keys: KeyStore | None = None
        self._lock = threading.Lock()

    # -- keys ------------------------------------------------------------------------

    def keys(self, actor: str = "system") -> KeyStore:
        """The signing keys; the first key is generated (and logged) on first use."""
        with self._lock:
            if self._keys is None:
                store = KeyStore(self.settings.keys_dir, self.clock)
                event = store.load_or_create(actor=actor)
                if event is not None:
                    self._log_key_event(event)
                self._keys = store
            return self._keys

    def rotate_key(self, actor: str, reason: str | None = None) -> KeyEvent:
        """A new current key. Its first signature is a custody head covering its own
        ``key_rotated`` entry, stamped by the next pass: what the key signs later cannot
        claim a place in the log before it (archiver.integrity.pins)."""
        store = self.keys(actor)
        with self._lock:
            event = store.rotate(actor, reason)
        self._log_key_event(event)
        self.seal_custody_head()
        return event

    def _log_key_event(self, event: KeyEvent) -> None:
        with self.db.session() as session:
            custody.append(
                session,
                at=event.at,
                actor=event.actor,
                action=event.action,
                subject_type="key",
                subject_id=event.fingerprint,
                details=event.as_details(),
            )

    def sealer(self, actor: str = "system") -> Sealer:
        return Sealer(self.keys(actor), self.settings.integrity.tsa_urls, actor)

    # -- custody heads and stamps ------------------------------------------------------

    def seal_custody_head(self) -> HeadInfo | None:
        keys = self.keys()
        with self.db.session() as session:
            head = seal_custody_head(session, keys, self.settings.integrity.tsa_urls, self.clock())
            if head is None:
                return None
            info = HeadInfo(head.id, head.seq, head.head_hash, head.key_fingerprint)
        self.write_anchors()  # what fails to be written is retried by each stamping pass
        return info

    def write_anchors(self) -> list[str]:
        """Every sealed custody head, and its tokens, as files under the storage root
        (archiver.integrity.anchors); returns what could not be written."""
        from archiver.integrity.anchors import sync_head_files

        return sync_head_files(self.settings.storage.root, self.db)

    def custody_head_due(self) -> bool:
        """True when the log has grown since the last head and that head is older
        than ``integrity.custody_head_interval``."""
        with self.db.session() as session:
            last = session.scalars(
                select(CustodyHead).order_by(CustodyHead.id.desc()).limit(1)
            ).first()
            top = session.scalar(select(CustodyEvent.seq).order_by(CustodyEvent.seq.desc()))
        if top is None:
            return False
        if last is None:
            return True
        interval = timedelta(seconds=self.settings.integrity.custody_head_interval)
        return top > last.seq and self.clock() - last.sealed_at >= interval

    def stamp_pending(
        self, *, limit: int = 200, should_stop: Callable[[], bool] | None = None
    ) -> StampSummary:
        """The follow-up pass: seal a custody head when one is due, then ask the TSAs
        for every due pending stamp; once ``should_stop()`` is true the request in
        flight is abandoned and no other made (they stay due)."""
        # Loaded here: the TSA client (x509, http) is not needed to capture or check.
        from archiver.integrity.pending import retarget
        from archiver.integrity.stamping import stamp_due, timestamp_client

        if self.custody_head_due():
            self.seal_custody_head()
        # Stamps pending against TSAs no longer configured are asked of the current ones.
        retarget(self.db, self.settings.integrity.tsa_urls, self.clock())
        client = timestamp_client(self.settings, self.clock, should_stop=should_stop)
        try:
            summary = stamp_due(self.db, client, self.clock, limit=limit)
        finally:
            client.close()
        summary.errors += self.write_anchors()
        return summary

    def stamp_all(self, *, limit: int = 200) -> StampSummary:
        """``archiver stamp`` by hand: every pending stamp is asked for now, its back-off
        waived, in passes of ``limit`` until none is left or a pass obtains nothing."""
        from archiver.integrity.pending import make_due
        from archiver.integrity.stamping import StampSummary

        total = StampSummary()
        make_due(self.db, self.clock())
        while True:
            done = self.stamp_pending(limit=limit)
            total.granted += done.granted
            total.pending += done.pending
            total.errors += done.errors
            if not done.granted or done.granted + done.pending < limit:
                return total

    def stamp_subject(self, subject_type: str, subject_id: str) -> StampSummary:
        """Ask now for the pending stamps of one subject (an export's custody head)."""
        from archiver.integrity.pending import retarget
        from archiver.integrity.stamping import stamp_due, timestamp_client

        retarget(self.db, self.settings.integrity.tsa_urls, self.clock())
        client = timestamp_client(self.settings, self.clock)
        try:
            summary = stamp_due(self.db, client, self.clock, subject=(subject_type, subject_id))
        finally:
            client.close()
        if subject_type == "custody_head":
            summary.errors += self.write_anchors()
        return summary
