"""``archiver export``: one zip that proves what was captured, when, that it is unchanged,
and who handled it, checkable with standard tools only (VERIFY.md in the package).

Package layout (every file except the two SHA256SUMS files is listed in SHA256SUMS, and
SHA256SUMS is signed, so changing any byte of any file is detectable)::

    VERIFY.md                  the exact commands (sha256sum, openssl, warcio, wacz)
    SHA256SUMS                 sha256sum -c format
    SHA256SUMS.sig             Ed25519 signature of SHA256SUMS
    export.json                who exported what, when
    snapshot.wacz              the WARC as WACZ 1.1.1 (ReplayWeb.page, pywb)
    manifest.json              the signed manifest, canonical JSON (RFC 8785)
    manifest.sig               its Ed25519 signature (64 raw bytes)
    key/public.pem             the signing key (SubjectPublicKeyInfo PEM)
    key/fingerprint.txt        sha256 of the 32 raw public key bytes
    timestamps/timestamps.json every stamp asked for: granted (file) or pending
    timestamps/*.tsr           RFC 3161 tokens (DER); *-certs.pem the certificates in them
    custody/chain.jsonl        {"seq", "prev_hash", "entry_hash"} of every entry up to the head
    custody/entries/<seq>.json this source's and its reports' entries, the exact bytes hashed
    custody/entries.sha256     sha256sum -c lines tying each entry file to the chain
    custody/head.json|.sig     the signed custody head covering this export
    certificate.html|.pdf      the Berkeley Protocol items, readable
    screenshot.png             when the capture made one
    claims.json                the citing reports and the claims quoted, as sealed
    reports/report-<id>.*      each citing report's original file, and its sealed citations

The export is itself a custody event ("export"), appended before the package is built,
so the package carries the record of its own making.
"""

from __future__ import annotations

import dataclasses
import getpass
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from archiver import __version__
from archiver.capture.warc import list_records
from archiver.errors import ArchiverError, IntegrityError
from archiver.integrity import custody
from archiver.integrity._certificate import render_html, render_pdf
from archiver.integrity._claims import (
    ReportEvidence,
    certificate_citations,
    gather_reports,
    is_report_entry,
    write_reports,
)
from archiver.integrity._package import (
    CHAIN,
    ENTRIES_DIR,
    ENTRIES_SUMS,
    FINGERPRINT,
    HEAD,
    HEAD_SIG,
    MANIFEST,
    MANIFEST_FINGERPRINT,
    MANIFEST_KEY,
    MANIFEST_SIG,
    PUBLIC_KEY,
    SUMS,
    SUMS_SIG,
    WACZ,
    entry_document,
    file_sha256,
    read_resource,
    sums_text,
    zip_folder,
)
from archiver.integrity._verify_doc import verify_md
from archiver.integrity._wacz import WaczPage, write_wacz
from archiver.integrity.keys import KeyStore
from archiver.integrity.manifest import utc_text
from archiver.integrity.tsa_roots import write_timestamps
from archiver.models import (
    CustodyHead,
    Observation,
    Snapshot,
    SnapshotSeal,
    Source,
    TimestampRecord,
)
from archiver.storage import keep_copy, object_sha256, open_store
from archiver.store.files import fsync_dir
from archiver.witnesses.facts import snapshot_witnesses

if TYPE_CHECKING:
    from archiver.app import Archive


def default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _choose_snapshot(session: Any, source_id: int, snapshot_id: str | None) -> Snapshot:
    if snapshot_id is not None:
        snap = session.get(Snapshot, snapshot_id)
        if snap is None or snap.source_id != source_id:
            raise ArchiverError(f"source {source_id} has no snapshot {snapshot_id}")
        return snap  # type: ignore[no-any-return]
    snaps = session.scalars(
        select(Snapshot).where(Snapshot.source_id == source_id).order_by(Snapshot.started_at)
    ).all()
    if not snaps:
        raise ArchiverError(f"source {source_id} has no snapshot yet (run archiver capture)")
    # The first snapshot that preserved the page (the baseline), else the latest attempt.
    good = [s for s in snaps if s.http_status is not None and 200 <= s.http_status < 300]
    return good[0] if good else snaps[-1]  # type: ignore[no-any-return]


def _target(out: Path, source_id: int, snapshot_id: str) -> Path:
    if out.is_dir():
        out = out / f"evidence-source{source_id}-{snapshot_id[:8]}.zip"
    if out.exists():
        raise ArchiverError(f"{out} exists; an export never overwrites a file")
    if not out.parent.is_dir():
        raise ArchiverError(f"{out.parent}: no such folder")
    return out


@dataclass(frozen=True)
class Prepared:
    """A snapshot checked and ready to be packaged (nothing logged yet)."""

    source_id: int
    snapshot_id: str
    manifest_sha256: str
    target: Path
    reports: list[ReportEvidence]


def prepare_export(
    archive: Archive, source_id: int, snapshot_id: str | None, out: Path
) -> Prepared:
    """Choose and check the snapshot to package: it must be sealed and its WARC still
    the file that was captured; its citing reports must match what was sealed."""
    with archive.db.session() as session:
        snap = _choose_snapshot(session, source_id, snapshot_id)
        seal = session.get(SnapshotSeal, snap.id)
        if seal is None:
            raise IntegrityError(f"snapshot {snap.id} has no signed manifest; cannot export it")
        snap_id, manifest_sha256 = snap.id, seal.manifest_sha256
        warc, warc_sha256 = archive.settings.storage.root / snap.warc_path, snap.warc_sha256
    target = _target(out, source_id, snap_id)
    # A damaged file is refused before anything is logged (write_wacz checks it again
    # while copying, in case it changes meanwhile). Read from the store (a bucket too).
    key = warc.relative_to(archive.settings.storage.root).as_posix()
    if object_sha256(open_store(archive.settings), key) != warc_sha256:
        raise IntegrityError(
            f"{warc}: not the file that was captured (sha256 differs); nothing exported. "
            "Run archiver verify --store."
        )
    # The citing reports, checked against what was sealed when they were added.
    reports = gather_reports(archive, source_id)
    return Prepared(source_id, snap_id, manifest_sha256, target, reports)


def export_entry(prepared: Prepared, **extra: Any) -> custody.NewEntry:
    """The "export" custody entry of a package, appended before it is built."""
    return custody.NewEntry(
        action="export",
        subject_type="snapshot",
        subject_id=prepared.snapshot_id,
        details={
            "source_id": prepared.source_id,
            "manifest_sha256": prepared.manifest_sha256,
            "package": prepared.target.name,
            **extra,
        },
    )


def export_package(
    archive: Archive, source_id: int, snapshot_id: str | None, out: Path, actor: str
) -> Path:
    """Write the evidence package of one snapshot of a source; return its path."""
    integrity = archive.integrity
    keys = integrity.keys(actor)
    prepared = prepare_export(archive, source_id, snapshot_id, out)
    # Stamps still pending get one more try now: a package with a token beats one without.
    integrity.stamp_subject("snapshot", prepared.snapshot_id)
    with archive.db.session() as session:
        custody.append_many(session, [export_entry(prepared)], at=archive.clock(), actor=actor)
    head = integrity.seal_custody_head()
    assert head is not None  # the export entry was just appended
    integrity.stamp_subject("custody_head", str(head.id))
    package = build_package(archive, prepared, head.id, keys, actor)
    # With storage.warc_url: a copy in the bucket, under retention (docs/storage.md).
    keep_copy(open_store(archive.settings), package, f"exports/{prepared.snapshot_id}")
    return package


def build_package(
    archive: Archive, prepared: Prepared, head_id: int, keys: KeyStore, actor: str
) -> Path:
    """Write the package of ``prepared`` whose export entry the custody head ``head_id``
    covers: built in a folder beside the target, zipped to a ``.part``, then linked to
    the target name (never replacing a file)."""
    target = prepared.target
    work = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    work.mkdir()
    try:
        evidence = _gather(
            archive, prepared.source_id, prepared.snapshot_id, head_id, prepared.reports
        )
        key = evidence.warc.relative_to(archive.settings.storage.root).as_posix()
        # The WARC itself, or with storage.warc_url a copy streamed from the bucket.
        with open_store(archive.settings).fetched(key, target.parent) as warc:
            _write_package(
                work,
                dataclasses.replace(evidence, warc=warc),
                keys,
                archive.clock(),
                actor,
                package=target.name,
                tsa_roots=archive.settings.integrity.tsa_roots,
            )
        part = target.parent / f".{target.name}.{secrets.token_hex(4)}.part"
        zip_folder(work, part)
        try:
            os.link(part, target)  # never replaces an existing file
        except FileExistsError as exc:
            raise ArchiverError(f"{target} exists; an export never overwrites a file") from exc
        finally:
            part.unlink(missing_ok=True)
        fsync_dir(target.parent)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _write(work: Path, name: str, data: bytes) -> None:
    path = work / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@dataclass(frozen=True)
class _Evidence:
    """Everything the package is made of, read in one transaction."""

    source_id: int
    source_url: str
    snapshot: dict[str, Any]
    started_at: datetime
    warc: Path
    manifest: bytes
    signature: bytes
    manifest_key: str
    head_document: bytes
    head_signature: bytes
    stamps: list[dict[str, Any]]
    citations: list[dict[str, Any]]
    observations: list[dict[str, Any]]
    chain: list[custody.CustodyEntry]  # the whole log up to the head
    entries: list[custody.CustodyEntry]  # this source's (and the keys') entries
    reports: list[ReportEvidence]  # the citing reports, as sealed (archiver.integrity._claims)


def _gather(
    archive: Archive, source_id: int, snap_id: str, head_id: int, reports: list[ReportEvidence]
) -> _Evidence:
    with archive.db.session() as session:
        source = session.get(Source, source_id)
        snap = session.get(Snapshot, snap_id)
        seal = session.get(SnapshotSeal, snap_id)
        head = session.get(CustodyHead, head_id)
        assert source is not None and snap is not None and seal is not None and head is not None
        of_snapshot = (TimestampRecord.subject_type == "snapshot") & (
            TimestampRecord.subject_id == snap_id
        )
        of_head = (TimestampRecord.subject_type == "custody_head") & (
            TimestampRecord.subject_id == str(head_id)
        )
        # Not retired ones: their TSA is no longer configured and was replaced.
        stamps = session.scalars(
            select(TimestampRecord)
            .where(of_snapshot | of_head, TimestampRecord.status != "retired")
            .order_by(TimestampRecord.id)
        ).all()
        observations = session.scalars(
            select(Observation)
            .where(Observation.source_id == source_id)
            .order_by(Observation.observed_at, Observation.id)
        ).all()
        snapshot_ids = set(
            session.scalars(select(Snapshot.id).where(Snapshot.source_id == source_id))
        )
        chain = [e for e in custody.load_chain(session) if e.seq <= head.seq]
        if len(chain) != head.seq:
            raise IntegrityError(
                "custody log is shorter than its sealed head; run archiver verify --store"
            )
        return _Evidence(
            source_id=source_id,
            source_url=source.url,
            # With the independent copies made after it (Save Page Now, issue 18).
            snapshot={**_snapshot_facts(snap), "witnesses": snapshot_witnesses(session, snap_id)},
            started_at=snap.started_at,
            warc=archive.settings.storage.root / snap.warc_path,
            manifest=bytes(seal.manifest),
            signature=bytes(seal.signature),
            manifest_key=seal.key_fingerprint,
            head_document=bytes(head.document),
            head_signature=bytes(head.signature),
            stamps=[
                dict(
                    subject_type=s.subject_type,
                    tsa_url=s.tsa_url,
                    status=s.status,
                    token=s.token,
                    gen_time=s.gen_time,
                    serial=s.serial,
                    attempts=s.attempts,
                )
                for s in stamps
            ],
            # Quoted from the sealed citations, never from an editable row.
            citations=certificate_citations(reports),
            observations=[
                dict(
                    observed_at=utc_text(o.observed_at),
                    via=o.via,
                    http_status=o.http_status,
                    implied_state=o.implied_state,
                    resulting_state=o.resulting_state,
                    reason=o.reason,
                )
                for o in observations
            ],
            chain=chain,
            entries=[
                e
                for e in chain
                if _belongs(e, source_id, snapshot_ids) or is_report_entry(e, reports)
            ],
            reports=reports,
        )


def _write_package(
    work: Path,
    ev: _Evidence,
    keys: KeyStore,
    now: datetime,
    actor: str,
    *,
    package: str,
    tsa_roots: Sequence[Path] = (),
) -> None:
    _write(work, MANIFEST, ev.manifest)
    _write(work, MANIFEST_SIG, ev.signature)
    # The current key signs SHA256SUMS and the custody head; the manifest may have been
    # signed by an older key (before a rotation): then that key is included too.
    _write(work, PUBLIC_KEY, keys.public_key_pem())
    _write(work, FINGERPRINT, (keys.fingerprint + "\n").encode())
    manifest_key = PUBLIC_KEY
    if ev.manifest_key != keys.fingerprint:
        manifest_key = MANIFEST_KEY
        _write(work, MANIFEST_KEY, keys.public_key_pem(ev.manifest_key))
        _write(work, MANIFEST_FINGERPRINT, (ev.manifest_key + "\n").encode())
    listing = write_timestamps(work, ev.stamps, tsa_roots)
    _write_custody(work, ev)
    snap = ev.snapshot
    page_url = snap["redirect_chain"][0]["url"] if snap["redirect_chain"] else ev.source_url
    write_wacz(
        work / WACZ,
        ev.warc,
        snap["warc_sha256"],
        WaczPage(page_url, ev.started_at, snap["title"], snap["id"]),
        created=now,
        title=f"Snapshot {snap['id']} of {ev.source_url}",
    )
    screenshot = _screenshot(ev.warc, snap["artefacts"])
    if screenshot is not None:
        _write(work, "screenshot.png", screenshot)
    manifest = json.loads(ev.manifest)
    facts = {
        "source": {"id": ev.source_id, "url": ev.source_url},
        "cited_as": manifest["source"]["cited_as"],
        # What the snapshot lacks as sealed in its manifest (the row's for older ones).
        "snapshot": {**snap, "incomplete": manifest.get("incomplete", snap["incomplete"])},
        "captured_by": manifest.get("captured_by"),
        "network": manifest.get("network"),
        # A copy held by a public web archive (issue 18): whose copy, from when.
        "third_party": manifest.get("third_party"),
        "software": manifest["software"],
        "user_agent": manifest["settings"].get("network", {}).get("user_agent"),
        "manifest_sha256": hashlib.sha256(ev.manifest).hexdigest(),
        "key_fingerprint": ev.manifest_key,
        "timestamps": [s for s in listing if s["subject"] == MANIFEST],
        "citations": ev.citations,
        "observations": ev.observations,
        "custody": [
            {
                "seq": e.seq,
                "at": utc_text(e.at),
                "actor": e.actor,
                "action": e.action,
                "subject_type": e.subject_type,
                "subject_id": e.subject_id,
                "entry_hash": e.entry_hash,
            }
            for e in ev.entries
        ],
        "export": {"at": utc_text(now), "actor": actor},
    }
    _write(work, "certificate.html", render_html(facts, screenshot))
    _write(work, "certificate.pdf", render_pdf(facts, screenshot))
    exported = {
        "format": "evidence-archiver/package/1",
        "software": f"evidence-archiver {__version__}",
        "exported_at": utc_text(now),
        "actor": actor,
        "source_id": ev.source_id,
        "source_url": ev.source_url,
        "snapshot_id": snap["id"],
        "manifest_sha256": facts["manifest_sha256"],
        "custody_head": {"seq": len(ev.chain), "head_hash": ev.chain[-1].entry_hash},
    }
    _write(work, "export.json", json.dumps(exported, indent=2, ensure_ascii=False).encode() + b"\n")
    write_reports(work, ev.reports, _write)
    verify = verify_md(
        manifest, listing, ev.warc.name, keys.fingerprint, manifest_key, package=package
    )
    _write(work, "VERIFY.md", verify)
    # The sums last, over every other file, signed by the current key.
    files = sorted(p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file())
    sums = sums_text([(file_sha256(work / f) or "", f) for f in files])
    _write(work, SUMS, sums)
    _write(work, SUMS_SIG, keys.sign(sums).signature)


def _write_custody(work: Path, ev: _Evidence) -> None:
    links = [{"seq": e.seq, "prev_hash": e.prev_hash, "entry_hash": e.entry_hash} for e in ev.chain]
    _write(work, CHAIN, b"".join(json.dumps(link).encode() + b"\n" for link in links))
    sums = []
    for entry in ev.entries:
        name = f"{ENTRIES_DIR}/{entry.seq:08d}.json"
        _write(work, name, entry_document(entry))
        sums.append((entry.entry_hash, name.removeprefix("custody/")))
    _write(work, ENTRIES_SUMS, sums_text(sums))
    _write(work, HEAD, ev.head_document)
    _write(work, HEAD_SIG, ev.head_signature)


def _belongs(entry: custody.CustodyEntry, source_id: int, snapshot_ids: set[str]) -> bool:
    if entry.subject_type == "snapshot" and entry.subject_id in snapshot_ids:
        return True
    if entry.subject_type == "source" and entry.subject_id == str(source_id):
        return True
    # Key events (created, rotated) concern every signature: always included.
    return entry.subject_type == "key"


def _snapshot_facts(snap: Snapshot) -> dict[str, Any]:
    return {
        "id": snap.id,
        "started_at": utc_text(snap.started_at),
        "finished_at": utc_text(snap.finished_at),
        "methods": list(snap.methods),
        "final_url": snap.final_url,
        "http_status": snap.http_status,
        "redirect_chain": list(snap.redirect_chain),
        "warc_name": Path(snap.warc_path).name,
        "warc_sha256": snap.warc_sha256,
        "warc_size": snap.warc_size,
        "payload_sha256": snap.payload_sha256,
        "title": snap.title,
        "tls_verified": snap.tls_verified,
        "truncated": snap.truncated,
        "artefacts": list(snap.artefacts),
        "incomplete": None if snap.incomplete is None else list(snap.incomplete),
    }


def _screenshot(warc: Path, artefacts: list[Mapping[str, Any]]) -> bytes | None:
    wanted = next((a for a in artefacts if a.get("kind") == "screenshot"), None)
    if wanted is None:
        return None
    for record in list_records(warc):
        if record.warc_type == "resource" and record.target_uri == wanted["uri"]:
            data = read_resource(warc, record.offset)
            if hashlib.sha256(data).hexdigest() == wanted["sha256"]:
                return data
    return None
