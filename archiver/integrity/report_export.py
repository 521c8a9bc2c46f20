"""``archiver export --report ID``: everything a lawyer needs for one report, in one folder
or zip: the evidence package of every cited source (the same package ``archiver export
SOURCE`` writes) and an index mapping footnote -> source -> package -> sha256.

Layout::

    index.csv                  one row per footnote (UTF-8 with a byte order mark)
    index.html                 the same, readable
    index.json                 the same, for scripts, with the report and the export
    packages/evidence-source<id>-<snapshot>.zip   one per source that has a package
    key/public.pem, key/fingerprint.txt           the key that signed SHA256SUMS
    SHA256SUMS                 sha256sum -c lines of every file above
    SHA256SUMS.sig             its Ed25519 signature
    timestamps/                RFC 3161 tokens of SHA256SUMS (index-<n>.tsr), their
                               certificates and roots, timestamps/timestamps.json
    VERIFY.md                  the commands that check all this with standard tools

The index is signed and timestamped through SHA256SUMS, which lists it and every
package. The timestamps (they stamp SHA256SUMS itself) and VERIFY.md (written once they
are known) are the only files SHA256SUMS does not list.

A source cited by the report and never preserved is in the index with the reason it has
no package (never left out). Packages are built one at a time on disk, each streamed
into its zip; nothing holds a whole package in memory. The export is recorded in the
custody log: an "export" entry per package (as for one package, covered by one custody
head sealed and stamped for the whole export) and an "export_report" entry with the
sha256 of SHA256SUMS once it is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from archiver import __version__
from archiver.errors import ArchiverError
from archiver.integrity import custody
from archiver.integrity._package import (
    FINGERPRINT,
    PUBLIC_KEY,
    SUMS,
    SUMS_SIG,
    TIMESTAMPS,
    file_sha256,
    sums_text,
    zip_folder,
)
from archiver.integrity._report_index import index_csv, index_html, verify_md
from archiver.integrity.export import Prepared, build_package, export_entry, prepare_export
from archiver.integrity.manifest import utc_text
from archiver.models import TimestampRecord
from archiver.storage import keep_copy, open_store
from archiver.store.files import fsync_dir
from archiver.store.source_facts import preservation_text
from archiver.store.status import build_status

if TYPE_CHECKING:
    from archiver.app import Archive
    from archiver.integrity.keys import KeyStore

FORMAT = "evidence-archiver/report-export/1"
INDEX_CSV = "index.csv"
INDEX_HTML = "index.html"
INDEX_JSON = "index.json"
PACKAGES = "packages"
VERIFY = "VERIFY.md"


@dataclass
class IndexRow:
    """One footnote of the report, and the package (or the reason there is none)."""

    position: int
    footnote: str | None
    url_as_cited: str
    claim: str
    source_id: int
    source_url: str
    platform: str
    state: str
    package: str | None = None
    package_sha256: str | None = None
    package_bytes: int | None = None
    snapshot_id: str | None = None
    # "own" (our capture) or "third_party" (a public web archive's copy, retrieved by us).
    snapshot_kind: str | None = None
    captured_at: str | None = None
    http_status: int | None = None
    # Trusted RFC 3161 time of the packaged snapshot's manifest: "granted" or "pending".
    timestamp: str | None = None
    no_package: str | None = None  # why there is no package
    note: str | None = None  # e.g. whose copy a third-party snapshot is


@dataclass
class ReportExport:
    path: Path
    report_id: int
    rows: list[IndexRow]
    packages: int
    without_package: int
    # Sources whose package could not be written (an error inside the archiver).
    failed: list[str] = field(default_factory=list)
    sums_sha256: str = ""
    stamps_granted: int = 0
    stamps_pending: list[str] = field(default_factory=list)  # "tsa: why"
    # With storage.warc_url: the copy's key in the bucket (a folder's ends with "/").
    stored_as: str | None = None


Progress = Callable[[int, int], None]


def _target(out: Path) -> tuple[Path, bool]:
    """(where, as_zip): a new .zip file, or a folder that does not exist or is empty."""
    as_zip = out.suffix.lower() == ".zip"
    if not out.parent.is_dir():
        raise ArchiverError(f"{out.parent}: no such folder")
    if as_zip and out.exists():
        raise ArchiverError(f"{out} exists; an export never overwrites a file")
    if not as_zip and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ArchiverError(f"{out} exists and is not an empty folder; an export never overwrites")
    return out, as_zip


def _plan(status: Mapping[str, Any]) -> tuple[list[IndexRow], dict[int, str | None]]:
    """The index rows (packages not known yet) and, per source, the snapshot to package
    (None: the source has no package; its rows say why)."""
    sources = {s["id"]: s for s in status["sources"]}
    [report] = status["reports"]
    rows: list[IndexRow] = []
    chosen: dict[int, str | None] = {}
    for position, citation in enumerate(report["citations"]):
        source = sources[citation["source_id"]]
        row = IndexRow(
            position=position,
            footnote=citation["marker"],
            url_as_cited=citation["url"],
            claim=citation["context"],
            source_id=source["id"],
            source_url=source["url"],
            platform=source["platform"],
            state=source["state"],
        )
        rows.append(row)
        if source["id"] in chosen:
            continue
        snapshot = source.get("baseline_snapshot")
        if snapshot is None and source.get("preserved_by_third_party"):
            snapshot = source.get("third_party_copy")
            row.note = f"not preserved by us; {source.get('third_party_statement')}"
        chosen[source["id"]] = snapshot
        if snapshot is None:
            row.no_package = preservation_text(source)
    reasons = {r.source_id: r.no_package for r in rows if r.no_package}
    notes = {r.source_id: r.note for r in rows if r.note}
    for row in rows:
        row.no_package, row.note = reasons.get(row.source_id), notes.get(row.source_id)
    return rows, chosen


def export_report(
    archive: Archive, report_id: int, out: Path, actor: str, *, progress: Progress | None = None
) -> ReportExport:
    """Write the export of report ``report_id`` to ``out`` (``.zip``: one zip; else a
    folder); return what it holds."""
    status = build_status(archive.db, archive.clock, report_ids=[report_id])
    if not status["reports"]:
        raise ArchiverError(f"no report {report_id}")
    target, as_zip = _target(out)
    integrity = archive.integrity
    keys = integrity.keys(actor)
    # The follow-up pass first (due stamps; a TSA that fails is asked once): a package
    # with a token beats one without.
    integrity.stamp_pending()
    rows, chosen = _plan(status)
    work = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    (work / PACKAGES).mkdir(parents=True)
    try:
        result = _export_into(archive, report_id, work, rows, chosen, keys, actor, progress)
        result.path = _finish(work, target, as_zip)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # With storage.warc_url: a copy in the bucket, under retention (docs/storage.md). A
    # bucket that refuses it fails the export here; the local export stays.
    result.stored_as = _keep_in_store(archive, report_id, result.path)
    with archive.db.session() as session:
        custody.append(
            session,
            at=archive.clock(),
            actor=actor,
            action="export_report",
            subject_type="report",
            subject_id=str(report_id),
            details={
                "name": target.name,
                "sums_sha256": result.sums_sha256,
                "packages": result.packages,
                "without_package": result.without_package,
                "failed": len(result.failed),
                "timestamps": result.stamps_granted,
                "copy": result.stored_as,
            },
        )
    return result


def _export_into(
    archive: Archive,
    report_id: int,
    work: Path,
    rows: list[IndexRow],
    chosen: dict[int, str | None],
    keys: KeyStore,
    actor: str,
    progress: Progress | None,
) -> ReportExport:
    integrity = archive.integrity
    failed: dict[int, str] = {}
    prepared: list[Prepared] = []
    for source_id, snapshot_id in chosen.items():
        if snapshot_id is None:
            continue
        try:
            prepared.append(prepare_export(archive, source_id, snapshot_id, work / PACKAGES))
        except ArchiverError as exc:
            failed[source_id] = f"package not written: {exc}"
    built: dict[int, tuple[Prepared, str, int]] = {}
    if prepared:
        entries = [export_entry(p, report_id=report_id) for p in prepared]
        with archive.db.session() as session:
            custody.append_many(session, entries, at=archive.clock(), actor=actor)
        head = integrity.seal_custody_head()
        assert head is not None  # the export entries were just appended
        integrity.stamp_subject("custody_head", str(head.id))
        for number, item in enumerate(prepared, 1):
            try:
                path = build_package(archive, item, head.id, keys, actor)
            except ArchiverError as exc:
                failed[item.source_id] = f"package not written: {exc}"
            else:
                built[item.source_id] = (item, file_sha256(path) or "", path.stat().st_size)
            if progress is not None:
                progress(number, len(prepared))
    _fill(archive, rows, built, failed)
    now = archive.clock()
    document = {
        "format": FORMAT,
        "software": f"evidence-archiver {__version__}",
        "exported_at": utc_text(now),
        "actor": actor,
        "report": _report_facts(archive, report_id),
        "key_fingerprint": keys.fingerprint,
        "footnotes": [asdict(r) for r in rows],
    }
    _write(work / INDEX_JSON, json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n")
    _write(work / INDEX_CSV, index_csv(rows))
    _write(work / INDEX_HTML, index_html(document, rows))
    _write(work / PUBLIC_KEY, keys.public_key_pem())
    _write(work / FINGERPRINT, (keys.fingerprint + "\n").encode())
    names = sorted(p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file())
    known = {f"{PACKAGES}/{item.target.name}": digest for item, digest, _ in built.values()}
    sums = sums_text([(known.get(n) or file_sha256(work / n) or "", n) for n in names])
    _write(work / SUMS, sums)
    _write(work / SUMS_SIG, keys.sign(sums).signature)
    listing, pending = _stamp(archive, work, sums)
    _write(work / VERIFY, verify_md(document, listing, package_count=len(built)))
    return ReportExport(
        path=work,
        report_id=report_id,
        rows=rows,
        packages=len(built),
        without_package=len({r.source_id for r in rows if r.package is None}),
        failed=[f"source {sid}: {why}" for sid, why in failed.items()],
        sums_sha256=_sha256_hex(sums),
        stamps_granted=sum(1 for s in listing if s["file"]),
        stamps_pending=pending,
    )


def _fill(
    archive: Archive,
    rows: list[IndexRow],
    built: Mapping[int, tuple[Prepared, str, int]],
    failed: Mapping[int, str],
) -> None:
    """The package of each row (or why there is none), with its snapshot's facts."""
    from archiver.models import Snapshot, ThirdPartyCopy

    ids = [item.snapshot_id for item, _, _ in built.values()]
    with archive.db.session() as session:
        snaps = {s.id: s for s in session.scalars(select(Snapshot).where(Snapshot.id.in_(ids)))}
        third = set(
            session.scalars(
                select(ThirdPartyCopy.snapshot_id).where(ThirdPartyCopy.snapshot_id.in_(ids))
            )
        )
        granted = set(
            session.scalars(
                select(TimestampRecord.subject_id).where(
                    TimestampRecord.subject_type == "snapshot",
                    TimestampRecord.subject_id.in_(ids),
                    TimestampRecord.status == "granted",
                )
            )
        )
    for row in rows:
        if row.source_id in failed:
            row.no_package = failed[row.source_id]
        if row.source_id not in built:
            continue
        item, digest, size = built[row.source_id]
        snap = snaps[item.snapshot_id]
        row.package = f"{PACKAGES}/{item.target.name}"
        row.package_sha256, row.package_bytes = digest, size
        row.snapshot_id = snap.id
        row.snapshot_kind = "third_party" if snap.id in third else "own"
        row.captured_at = utc_text(snap.started_at)
        row.http_status = snap.http_status
        row.timestamp = "granted" if snap.id in granted else "pending"


def _report_facts(archive: Archive, report_id: int) -> dict[str, Any]:
    from archiver.models import Report

    with archive.db.session() as session:
        report = session.get(Report, report_id)
        assert report is not None
        return {
            "id": report.id,
            "title": report.title,
            "sha256": report.sha256,
            "format": report.format,
            "origin": report.origin,
            "ingested_at": utc_text(report.ingested_at),
        }


def _stamp(archive: Archive, work: Path, sums: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    """RFC 3161 tokens of SHA256SUMS from every configured TSA, written as the package's
    are (token, certificates, root); the listing, and why each missing one is missing."""
    from archiver.integrity.stamping import timestamp_client
    from archiver.integrity.timestamp import TimestampToken, token_certificates
    from archiver.integrity.tsa_roots import bundle_root, pem_of

    client = timestamp_client(archive.settings, archive.clock)
    try:
        results = client.stamp(_sha256_hex(sums))
    finally:
        client.close()
    listing: list[dict[str, Any]] = []
    pending: list[str] = []
    for number, result in enumerate(results, 1):
        entry: dict[str, Any] = {
            "subject": SUMS,
            "tsa_url": result.tsa_url,
            "status": "pending",
            "attempts": 1,
            "file": None,
            "certificates": None,
            "gen_time": None,
            "serial": None,
        }
        if isinstance(result, TimestampToken):
            stem = f"timestamps/index-{number}"
            _write(work / f"{stem}.tsr", result.token)
            certs = b"".join(pem_of(c) for c in token_certificates(result.token))
            _write(work / f"{stem}-certs.pem", certs)
            entry.update(
                status="granted",
                file=f"{stem}.tsr",
                certificates=f"{stem}-certs.pem",
                gen_time=utc_text(result.gen_time),
                serial=str(result.serial),
            )
            roots = archive.settings.integrity.tsa_roots
            entry.update(bundle_root(work, result.tsa_url, result.token, roots))
        else:
            entry["reason"] = result.reason
            pending.append(f"{result.tsa_url}: {result.reason}")
        listing.append(entry)
    _write(work / TIMESTAMPS, json.dumps(listing, indent=2).encode() + b"\n")
    return listing, pending


def _finish(work: Path, target: Path, as_zip: bool) -> Path:
    if as_zip:
        part = target.parent / f".{target.name}.{secrets.token_hex(4)}.part"
        stored = [p.relative_to(work).as_posix() for p in (work / PACKAGES).glob("*.zip")]
        zip_folder(work, part, stored=stored)
        try:
            os.link(part, target)  # never replaces an existing file
        except FileExistsError as exc:
            raise ArchiverError(f"{target} exists; an export never overwrites a file") from exc
        finally:
            part.unlink(missing_ok=True)
    else:
        if target.exists():
            target.rmdir()  # empty (checked before); fails if something appeared meanwhile
        work.rename(target)
    fsync_dir(target.parent)
    return target


def _keep_in_store(archive: Archive, report_id: int, path: Path) -> str | None:
    """The finished export kept in a remote store as
    ``exports/reports/<id>/<UTC time>/<name>`` (a folder file by file under it); its
    key, or None without a remote store. Raises StoreError."""
    store = open_store(archive.settings)
    if not store.remote:
        return None
    base = f"exports/reports/{report_id}/{archive.clock().strftime('%Y%m%dT%H%M%SZ')}"
    if path.is_file():
        return keep_copy(store, path, base)
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        parent = file.relative_to(path).parent
        keep_copy(
            store,
            file,
            f"{base}/{path.name}" + ("" if parent == Path() else f"/{parent.as_posix()}"),
        )
    return f"{base}/{path.name}/"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
