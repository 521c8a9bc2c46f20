"""Sealing evidence as it is recorded: manifest -> Ed25519 signature -> pending RFC 3161
stamps -> custody entry, all in the transaction that records the snapshot rows.

Signing is cheap (tens of microseconds) and local, so it happens at once; asking a TSA
is a network round trip that may fail, so stamps start as ``pending`` rows that
:mod:`.stamping` fills in later (the daemon does it between capture batches). A seal is
written once and never updated.

The same applies to the custody log's head (:func:`seal_custody_head`): a signed
statement "the log had ``seq`` entries ending in ``head_hash``", so entries cut off the
end of the chain are detectable once a head has been sealed and stamped.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.errors import CustodyError
from archiver.integrity import custody
from archiver.integrity.canonical import canonical_json
from archiver.integrity.keys import KeyStore
from archiver.integrity.manifest import snapshot_manifest, utc_text, with_custody
from archiver.models import CustodyHead, SnapshotSeal, TimestampRecord
from archiver.store.db import insert_rows

if TYPE_CHECKING:
    from archiver.capture.snapshot import WrittenSnapshot

HEAD_FORMAT = "evidence-archiver/custody-head/1"


@dataclass(frozen=True)
class SealedSnapshot:
    snapshot_id: str
    manifest_sha256: str
    key_fingerprint: str


def pending_stamps(
    subject_type: str, subject_id: str, digest: str, tsa_urls: Sequence[str], now: datetime
) -> list[dict[str, Any]]:
    """One pending timestamp row per configured TSA, due at once."""
    return [
        dict(
            subject_type=subject_type,
            subject_id=subject_id,
            digest=digest,
            tsa_url=url,
            status="pending",
            token=None,
            gen_time=None,
            serial=None,
            tsa_certificate_sha256=None,
            requested_at=now,
            received_at=None,
            attempts=0,
            next_attempt_at=now,
            last_error=None,
        )
        for url in dict.fromkeys(tsa_urls)
    ]


class Sealer:
    """Seals snapshots in the caller's transaction (CaptureRunner._record_in)."""

    def __init__(self, keys: KeyStore, tsa_urls: Sequence[str], actor: str) -> None:
        self.keys = keys
        self.tsa_urls = tuple(tsa_urls)
        self.actor = actor

    @staticmethod
    def prepare(written: WrittenSnapshot) -> WrittenSnapshot:
        """``written`` with its manifest bytes, built where the snapshot was written
        (a WARC thread or a worker process) instead of in the recording transaction,
        which every capture of a run waits for. The bytes are the same either way."""
        return dataclasses.replace(written, manifest=snapshot_manifest(written))

    def seal(
        self,
        session: Session,
        snapshots: Sequence[tuple[int, WrittenSnapshot]],
        now: datetime,
        *,
        details: Mapping[str, Any] | None = None,
    ) -> list[SealedSnapshot]:
        """Manifest, signature, pending stamps and a "capture" custody entry for each
        ``(source_id, written)``; rows go in as bulk inserts, like the snapshots.
        ``details`` are added to every custody entry (a third-party copy says whose
        copy it is there too)."""
        seals: list[dict[str, Any]] = []
        stamps: list[dict[str, Any]] = []
        sealed: list[SealedSnapshot] = []
        # The custody position every manifest of the batch is sealed at (under the
        # append lock, held until the batch's entries follow it in this transaction).
        seq, head_hash = custody.chain_end(session)
        for _source_id, written in snapshots:
            data = with_custody(written.manifest or snapshot_manifest(written), seq, head_hash)
            digest = hashlib.sha256(data).hexdigest()
            signature = self.keys.sign(data)
            seals.append(
                dict(
                    snapshot_id=written.id,
                    manifest=data,
                    manifest_sha256=digest,
                    signature=signature.signature,
                    key_fingerprint=signature.fingerprint,
                    sealed_at=now,
                )
            )
            stamps += pending_stamps("snapshot", written.id, digest, self.tsa_urls, now)
            sealed.append(SealedSnapshot(written.id, digest, signature.fingerprint))
        insert_rows(session, SnapshotSeal, seals)
        insert_rows(session, TimestampRecord, stamps)
        # One custody entry per snapshot, chained in one go (custody.append_many).
        custody.append_many(
            session,
            [
                custody.NewEntry(
                    action="capture",
                    subject_type="snapshot",
                    subject_id=written.id,
                    details={
                        "source_id": source_id,
                        "url": str(written.provenance.get("source", {}).get("url", "")),
                        "warc_path": written.relpath.as_posix(),
                        "warc_sha256": written.sha256,
                        "manifest_sha256": seal.manifest_sha256,
                        "key": seal.key_fingerprint,
                        **(details or {}),
                    },
                )
                for (source_id, written), seal in zip(snapshots, sealed, strict=True)
            ],
            at=now,
            actor=self.actor,
        )
        return sealed


def head_document(seq: int, head_hash: str, at: datetime) -> bytes:
    """The canonical bytes of a custody head statement (what is signed and stamped)."""
    return canonical_json(
        {"format": HEAD_FORMAT, "seq": seq, "head_hash": head_hash, "at": utc_text(at)}
    )


def seal_custody_head(
    session: Session, keys: KeyStore, tsa_urls: Sequence[str], now: datetime
) -> CustodyHead | None:
    """Sign the current head of the custody log (None when the log is empty). Refuses
    to vouch for a chain that does not verify."""
    report = custody.verify_stored_chain(session)
    if report.entries == 0:
        return None
    problem = report.first_problem
    if problem is not None:
        raise CustodyError(f"custody log does not verify, head not sealed: {problem.message}")
    last = session.scalars(select(CustodyHead).order_by(CustodyHead.id.desc()).limit(1)).first()
    if last is not None and last.head_hash == report.head_hash:
        return last
    document = head_document(report.entries, report.head_hash, now)
    digest = hashlib.sha256(document).hexdigest()
    signature = keys.sign(document)
    head = CustodyHead(
        seq=report.entries,
        head_hash=report.head_hash,
        document=document,
        document_sha256=digest,
        signature=signature.signature,
        key_fingerprint=signature.fingerprint,
        sealed_at=now,
    )
    session.add(head)
    session.flush()
    stamps = pending_stamps("custody_head", str(head.id), digest, tsa_urls, now)
    if stamps:
        insert_rows(session, TimestampRecord, stamps)
    return head
