"""``archiver verify --store``: the custody log against everything that vouches for it, and
everything it vouches for against the log (docs/integrity.md, "Threat model").

- **Anchors.** The log may not be shorter than, nor differ at, any position sealed
  outside it: the custody head files under ``<storage>/custody/heads`` (signed, with
  their tokens: :mod:`.anchors`) and every signed manifest's ``custody`` position. So
  wiping or truncating the log in the database fails even with its heads and their
  stamps deleted too.
- **Captures.** Every sealed snapshot row has its ``capture`` entry, naming its WARC file
  and manifest, and every capture entry names a snapshot the store has (a WARC file
  without a row is a stray, :mod:`.strays`). Deleting an entry written after the last
  head, which no anchor covers yet, still fails here.
- **Reports.** Every report's original file has the sha256 its ``report_added`` entry
  sealed, its citation rows are the sealed claims (:mod:`.report_seal`; an edited claim
  is named by reading the report's bytes again), and every such entry names a report
  the store has.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from archiver.errors import TimestampError
from archiver.integrity.anchors import read_head_files
from archiver.integrity.custody import CustodyEntry
from archiver.integrity.keys import verify
from archiver.integrity.report_seal import (
    citations_document,
    differences,
    document_sha256,
    label,
    reharvest,
)
from archiver.integrity.timestamp import verify_token
from archiver.models import Citation, Report, Snapshot, SnapshotSeal

if TYPE_CHECKING:
    from archiver.app import Archive
    from archiver.integrity.verify import Findings


def anchor_problem(
    chain: Sequence[CustodyEntry], by_seq: Mapping[int, CustodyEntry], seq: int, head_hash: str
) -> str | None:
    """What is wrong with the log at a position sealed outside it (None: nothing);
    ``by_seq`` is ``chain`` by ``seq``."""
    if seq <= 0:
        return None
    top = chain[-1].seq if chain else 0
    if seq > top:
        return (
            f"sealed at custody entry {seq}, but the log has {len(chain)} entries: "
            "entries cut off the end"
        )
    entry = by_seq.get(seq)
    if entry is None:
        return f"sealed at custody entry {seq}, which the log no longer has"
    if entry.entry_hash != head_hash:
        return f"custody entry {seq} no longer has the hash sealed here: the log was rewritten"
    return None


def check_store_custody(
    found: Findings,
    archive: Archive,
    chain: Sequence[CustodyEntry],
    snapshots: Sequence[Snapshot],
    seals: Mapping[str, SnapshotSeal],
    pem_of: Callable[[str], bytes | None],
) -> None:
    root = archive.settings.storage.root
    _check_anchors(found, root, chain, seals, pem_of)
    _check_captures(found, chain, snapshots, seals)
    _check_reports(found, archive, chain)


def _check_anchors(
    found: Findings,
    root: Path,
    chain: Sequence[CustodyEntry],
    seals: Mapping[str, SnapshotSeal],
    pem_of: Callable[[str], bytes | None],
) -> None:
    anchors: list[tuple[str, int, str]] = []
    files, unreadable = read_head_files(root)
    for name, problem in unreadable:
        found.fail(f"custody head file {name}", problem)
    for head in files:
        item = f"custody head file {head.name}"
        pem = pem_of(head.key_fingerprint)
        if head.seq is None or head.head_hash is None:
            found.fail(item, "not a custody head statement")
            continue
        if pem is None or not verify(pem, head.document, head.signature):
            found.fail(item, f"Ed25519 signature does not verify (key {head.key_fingerprint[:16]})")
            continue
        digest = hashlib.sha256(head.document).digest()
        for name, token in head.tokens:
            try:
                check = verify_token(token, digest)
                found.ok(name, f"token stamps {head.name} at {check.gen_time:%Y-%m-%dT%H:%M:%SZ}")
            except (TimestampError, ValueError) as exc:
                found.fail(name, f"token does not verify: {exc}")
        anchors.append((item, head.seq, head.head_hash))
    manifests = 0
    for snapshot_id, sealed in seals.items():
        try:
            position = json.loads(bytes(sealed.manifest)).get("custody")
        except (ValueError, AttributeError):
            continue  # the manifest's own checks say what is wrong with it
        if isinstance(position, dict):
            manifests += 1
            anchors.append(
                (
                    f"manifest of snapshot {snapshot_id}",
                    int(position.get("seq", 0)),
                    str(position.get("head_hash")),
                )
            )
    failed = False
    by_seq = {entry.seq: entry for entry in chain}
    for item, seq, head_hash in anchors:
        wrong = anchor_problem(chain, by_seq, seq, head_hash)
        if wrong is not None:
            found.fail(item, wrong)
            failed = True
    if anchors and not failed:
        found.ok(
            "custody anchors",
            f"{len(files)} head files and {manifests} manifests: the log has every "
            f"entry they sealed (up to entry {max(seq for _, seq, _ in anchors)})",
        )


def _check_captures(
    found: Findings,
    chain: Sequence[CustodyEntry],
    snapshots: Sequence[Snapshot],
    seals: Mapping[str, SnapshotSeal],
) -> None:
    captures: dict[str, CustodyEntry] = {}
    for entry in chain:
        if entry.action == "capture" and entry.subject_type == "snapshot" and entry.subject_id:
            captures.setdefault(entry.subject_id, entry)
    failed = False
    for snap in snapshots:
        capture = captures.get(snap.id)
        seal = seals.get(snap.id)
        if capture is None:
            # A snapshot recorded without a seal has no entry either (warned about).
            if seal is not None:
                found.fail(f"snapshot {snap.id}", "has no capture entry in the custody log")
                failed = True
            continue
        details = capture.details
        if (
            details.get("warc_sha256") != snap.warc_sha256
            or details.get("warc_path") != snap.warc_path
            or (seal is not None and details.get("manifest_sha256") != seal.manifest_sha256)
        ):
            found.fail(
                f"snapshot {snap.id}",
                f"its capture entry ({capture.seq}) names another WARC file or manifest",
            )
            failed = True
    ids = {snap.id for snap in snapshots}
    for snapshot_id, entry in captures.items():
        if snapshot_id not in ids:
            found.fail(
                f"custody entry {entry.seq}",
                f"capture of snapshot {snapshot_id}, which the store does not have "
                "(its row was deleted)",
            )
            failed = True
    if not failed and snapshots:
        found.ok(
            "capture entries",
            f"{len(snapshots)} snapshots and {len(captures)} capture entries name each other",
        )


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _check_reports(found: Findings, archive: Archive, chain: Sequence[CustodyEntry]) -> None:
    root = archive.settings.storage.root
    added: dict[str, CustodyEntry] = {}
    for entry in chain:
        if entry.action == "report_added" and entry.subject_type == "report" and entry.subject_id:
            added.setdefault(entry.subject_id, entry)
    with archive.db.session() as session:
        reports = [
            (r.id, r.sha256, r.stored_path, r.fetched_url)
            for r in session.scalars(select(Report).order_by(Report.id))
        ]
        rows: dict[int, list[tuple[int, str | None, str, str]]] = defaultdict(list)
        for report_id, *row in session.execute(
            select(
                Citation.report_id,
                Citation.position,
                Citation.marker,
                Citation.url_as_cited,
                Citation.context,
            )
        ):
            rows[report_id].append(tuple(row))  # type: ignore[arg-type]
    for report_id, sha256, stored_path, fetched_url in reports:
        _check_report(
            found,
            root,
            (report_id, sha256, stored_path, fetched_url),
            added.get(str(report_id)),
            rows[report_id],
        )
    ids = {str(report_id) for report_id, *_ in reports}
    for added_id, entry in added.items():
        if added_id not in ids:
            found.fail(
                f"custody entry {entry.seq}",
                f"report {added_id} was added, but the store does not have it "
                "(its row was deleted)",
            )


def _check_report(
    found: Findings,
    root: Path,
    report: tuple[int, str, str, str | None],
    entry: CustodyEntry | None,
    rows: list[tuple[int, str | None, str, str]],
) -> None:
    report_id, sha256, stored_path, fetched_url = report
    sealed_sha256 = entry.details.get("sha256") if entry is not None else sha256
    data = _read(root / stored_path)
    item = f"report {report_id} ({stored_path})"
    intact = False
    if data is None:
        found.fail(item, "the original file is missing")
    else:
        actual = hashlib.sha256(data).hexdigest()
        intact = actual == sha256 == sealed_sha256
        found.check(
            item,
            intact,
            "the original file has its sealed sha256",
            f"the original file's sha256 is {actual}, sealed {sealed_sha256}: the file was changed",
        )
    if entry is None:
        found.fail(f"report {report_id}", "has no report_added entry in the custody log")
        return
    if sealed_sha256 != sha256:
        found.fail(
            f"report {report_id}",
            f"custody entry {entry.seq} sealed sha256 {sealed_sha256}, the row says {sha256}",
        )
    sealed = entry.details.get("citations_sha256")
    if sealed is None:
        found.warn(
            f"report {report_id}",
            "its claims were not sealed (added before claims were sealed): its "
            "citation rows cannot be checked",
        )
        return
    document = citations_document(rows)
    if document_sha256(document) == sealed:
        found.ok(
            f"report {report_id}",
            f"{len(document)} citations as sealed in custody entry {entry.seq}",
        )
        return
    again = None
    if intact and data is not None:
        again = reharvest(data, Path(stored_path).name, fetched_url)
    if again is None or document_sha256(again) != sealed:
        found.fail(
            f"report {report_id}",
            f"its citations differ from those sealed in custody entry {entry.seq} "
            "(edited in the database)",
        )
        return
    for row, original in differences(document, again):
        _name_difference(found, report_id, entry.seq, row, original)


def _name_difference(
    found: Findings,
    report_id: int,
    seq: int,
    row: Mapping[str, Any] | None,
    original: Mapping[str, Any] | None,
) -> None:
    where = f"the report as sealed in custody entry {seq}"
    if row is None:
        assert original is not None
        found.fail(
            label(report_id, original["marker"], original["position"]),
            f"missing from the database; {where} has it: {original['context']!r}",
        )
    elif original is None:
        found.fail(
            label(report_id, row["marker"], row["position"]),
            f"in the database but not in {where} (added)",
        )
    else:
        name = label(report_id, original["marker"], original["position"])
        for field, what in (("context", "claim"), ("url", "URL as cited"), ("marker", "marker")):
            if row[field] != original[field]:
                found.fail(
                    name,
                    f"{what} differs from {where}: the database says {row[field]!r}, "
                    f"the report {original[field]!r}",
                )
