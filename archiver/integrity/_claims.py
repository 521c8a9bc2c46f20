"""The citing reports in an evidence package: each report's original file, its sealed
citations, and the claims the certificate quotes (docs/integrity.md).

Package files (all listed in SHA256SUMS)::

    claims.json                        which report cites the source, with what claim
    reports/report-<id>.<suffix>       the report's original bytes
    reports/report-<id>.citations.json the citations sealed when it was added (RFC 8785)

The report's ``report_added`` custody entry (in ``custody/entries``, tied to the signed
head) seals the sha256 of both files. The quotes come from the sealed citations, never
from a database row that does not match them: an export whose report file or claims
differ from what was sealed is refused. :func:`check_claims` is the verifier's side.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from archiver.errors import IntegrityError
from archiver.integrity.custody import CustodyEntry
from archiver.integrity.report_seal import (
    citations_document,
    document_bytes,
    document_sha256,
    label,
    reharvest,
)
from archiver.models import Citation, CustodyEvent, Report

if TYPE_CHECKING:
    from archiver.app import Archive
    from archiver.integrity.verify import Findings

CLAIMS = "claims.json"
CLAIMS_FORMAT = "evidence-archiver/claims/1"
_CHAIN = "custody/chain.jsonl"
_ENTRIES = "custody/entries"


@dataclass(frozen=True)
class ReportEvidence:
    id: int
    title: str | None
    origin: str
    fetched_url: str | None
    format: str
    sha256: str
    data: bytes
    suffix: str
    custody_seq: int | None
    # The digest sealed in the report_added entry (None: added before claims were
    # sealed; then ``document`` is the database's rows, shown as not sealed).
    citations_sha256: str | None
    document: list[dict[str, Any]]
    claims: list[dict[str, Any]] = field(default_factory=list)

    @property
    def file(self) -> str:
        return f"reports/report-{self.id}{self.suffix}"

    @property
    def citations_file(self) -> str:
        return f"reports/report-{self.id}.citations.json"


def gather_reports(archive: Archive, source_id: int) -> list[ReportEvidence]:
    """Every report citing the source, its bytes checked against what was sealed, and
    the claims citing the source quoted from the sealed citations. Raises
    IntegrityError (nothing logged, nothing exported) when they do not match."""
    root = archive.settings.storage.root
    found: list[ReportEvidence] = []
    with archive.db.session() as session:
        citing = select(Citation.report_id).where(Citation.source_id == source_id)
        reports = session.scalars(
            select(Report).where(Report.id.in_(citing)).order_by(Report.id)
        ).all()
        for report in reports:
            rows = session.execute(
                select(
                    Citation.position,
                    Citation.marker,
                    Citation.url_as_cited,
                    Citation.context,
                    Citation.source_id,
                ).where(Citation.report_id == report.id)
            ).all()
            entry = session.scalars(
                select(CustodyEvent)
                .where(
                    CustodyEvent.action == "report_added",
                    CustodyEvent.subject_type == "report",
                    CustodyEvent.subject_id == str(report.id),
                )
                .order_by(CustodyEvent.seq)
                .limit(1)
            ).first()
            path = root / report.stored_path
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise IntegrityError(
                    f"report {report.id}: {path} cannot be read ({exc.strerror}); nothing "
                    "exported. Run archiver verify --store."
                ) from exc
            sealed_sha256 = entry.details.get("sha256") if entry is not None else report.sha256
            if hashlib.sha256(data).hexdigest() != report.sha256 or sealed_sha256 != report.sha256:
                raise IntegrityError(
                    f"report {report.id}: {path} is not the file that was added (sha256 "
                    "differs); nothing exported. Run archiver verify --store."
                )
            sealed = entry.details.get("citations_sha256") if entry is not None else None
            document = citations_document((p, m, u, c) for p, m, u, c, _ in rows)
            if sealed is not None and document_sha256(document) != sealed:
                # The rows were edited: the claims come from the report's own bytes.
                again = reharvest(data, PurePosixPath(report.stored_path).name, report.fetched_url)
                if again is None or document_sha256(again) != sealed:
                    raise IntegrityError(
                        f"report {report.id}: its claims differ from those sealed in custody "
                        f"entry {entry.seq if entry else '?'}; nothing exported. Run archiver "
                        "verify --store."
                    )
                document = again
            positions = {p for p, *_, sid in rows if sid == source_id}
            found.append(
                ReportEvidence(
                    id=report.id,
                    title=report.title,
                    origin=report.origin,
                    fetched_url=report.fetched_url,
                    format=report.format,
                    sha256=report.sha256,
                    data=data,
                    suffix=PurePosixPath(report.stored_path).suffix,
                    custody_seq=entry.seq if entry is not None else None,
                    citations_sha256=sealed,
                    document=document,
                    claims=[c for c in document if c["position"] in positions],
                )
            )
    return found


def is_report_entry(entry: CustodyEntry, reports: Sequence[ReportEvidence]) -> bool:
    return any(entry.seq == r.custody_seq for r in reports)


def certificate_citations(reports: Sequence[ReportEvidence]) -> list[dict[str, Any]]:
    """The certificate's "Cited in" rows: the claims as sealed."""
    return [
        {
            "report_title": r.title,
            "report_origin": r.origin,
            "report_sha256": r.sha256,
            "report_file": r.file,
            "custody_entry": r.custody_seq,
            "sealed": r.citations_sha256 is not None,
            "marker": c["marker"],
            "url_as_cited": c["url"],
            "context": c["context"],
        }
        for r in reports
        for c in r.claims
    ]


def write_reports(
    work: Path, reports: Sequence[ReportEvidence], write: Callable[[Path, str, bytes], None]
) -> None:
    listing = []
    for r in reports:
        write(work, r.file, r.data)
        if r.citations_sha256 is not None:
            write(work, r.citations_file, document_bytes(r.document))
        listing.append(
            {
                "id": r.id,
                "title": r.title,
                "origin": r.origin,
                "fetched_url": r.fetched_url,
                "format": r.format,
                "file": r.file,
                "sha256": r.sha256,
                "size": len(r.data),
                "custody_entry": r.custody_seq,
                "sealed": r.citations_sha256 is not None,
                "citations_file": r.citations_file if r.citations_sha256 is not None else None,
                "citations_sha256": r.citations_sha256,
                "claims": r.claims,
            }
        )
    document = {"format": CLAIMS_FORMAT, "reports": listing}
    write(work, CLAIMS, json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n")


# -- verifying a package ------------------------------------------------------------------


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _entries(root: Path) -> dict[int, dict[str, Any]]:
    entries: dict[int, dict[str, Any]] = {}
    for path in sorted((root / _ENTRIES).glob("*.json")):
        try:
            entry = json.loads(path.read_bytes())
            entries[int(entry["seq"])] = entry
        except (OSError, ValueError, KeyError, TypeError):
            continue  # the custody checks name it
    return entries


def check_claims(root: Path, found: Findings) -> None:
    """The reports and quoted claims of an extracted package, and the manifest's custody
    position against the package's chain."""
    _check_manifest_position(root, found)
    data = _read(root / CLAIMS)
    if data is None:
        found.warn(
            CLAIMS,
            "missing (a package exported before claims were sealed): the certificate's "
            "claims are not checked",
        )
        return
    try:
        reports = json.loads(data)["reports"]
        assert isinstance(reports, list)
    except (ValueError, KeyError, TypeError, AssertionError):
        found.fail(CLAIMS, "not a claims document")
        return
    entries = _entries(root)
    certificate = (_read(root / "certificate.html") or b"").decode("utf-8", "replace")
    for report in reports:
        try:
            _check_report(root, found, report, entries, certificate)
        except (KeyError, TypeError, ValueError) as exc:
            found.fail(CLAIMS, f"report entry not understood: {exc!r}")


def _check_report(
    root: Path,
    found: Findings,
    report: Mapping[str, Any],
    entries: Mapping[int, Mapping[str, Any]],
    certificate: str,
) -> None:
    report_id, name = report["id"], str(report["file"])
    data = _read(root / name)
    if data is None:
        found.fail(name, "the report file is missing")
        return
    actual = hashlib.sha256(data).hexdigest()
    seq = report.get("custody_entry")
    entry = entries.get(int(seq)) if seq is not None else None
    details: Mapping[str, Any] = {}
    if (
        entry is None
        or entry.get("action") != "report_added"
        or entry.get("subject_id") != str(report_id)
    ):
        found.fail(name, f"no report_added custody entry for report {report_id} in the package")
    else:
        details = entry.get("details") or {}
        found.check(
            name,
            actual == details.get("sha256") == report.get("sha256"),
            f"sha256 {actual} is the one sealed in custody entry {seq} (report_added)",
            f"sha256 is {actual}, custody entry {seq} sealed {details.get('sha256')}: "
            "not the report that was added",
        )
    sealed: dict[int, Any] | None = None
    digest = details.get("citations_sha256")
    if digest is None:
        found.warn(
            name,
            "its claims were not sealed when it was added (an older archiver): each quote "
            "is checked against the report file only",
        )
    else:
        citations_file = str(report.get("citations_file"))
        listed = _read(root / citations_file)
        good = listed is not None and hashlib.sha256(listed).hexdigest() == digest
        found.check(
            citations_file,
            good,
            f"the citations sealed in custody entry {seq}",
            f"not the citations sealed in custody entry {seq} (sha256 differs)",
        )
        if good and listed is not None:
            sealed = {int(c["position"]): c for c in json.loads(listed)}
    again = reharvest(data, f"report{PurePosixPath(name).suffix}", report.get("fetched_url"))
    read_again = {int(c["position"]): c for c in again or []}
    for claim in report["claims"]:
        position = int(claim["position"])
        which = label(report_id, claim.get("marker"), position)
        item = f"{CLAIMS}: {which}"
        as_sealed = sealed is not None and sealed.get(position) == claim
        if sealed is not None:
            found.check(
                item,
                as_sealed,
                "quoted as sealed when the report was added",
                "not what the sealed citations say: the quote was changed",
            )
        if read_again.get(position) == claim:
            found.ok(item, f"the quote is in {name} (read again by this archiver)")
        elif as_sealed:
            found.warn(
                item,
                f"this archiver reads {name} differently than the one that sealed it; the "
                "quote is as sealed: compare it with the report by eye",
            )
        else:
            found.fail(item, f"the quote is not in {name}")
        found.check(
            "certificate.html",
            html.escape(str(claim["context"])) in certificate,
            f"quotes {which} as claims.json does",
            f"does not quote {which} as claims.json does",
        )


def _check_manifest_position(root: Path, found: Findings) -> None:
    try:
        position = json.loads(_read(root / "manifest.json") or b"{}").get("custody")
        links = {
            int(link["seq"]): link
            for link in (json.loads(line) for line in (_read(root / _CHAIN) or b"").splitlines())
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        return  # the manifest and chain checks say what is wrong
    if not isinstance(position, dict):
        return  # sealed before manifests recorded their custody position
    seq = int(position.get("seq", 0))
    link = links.get(seq)
    found.check(
        "manifest.json",
        seq == 0 or (link is not None and link.get("entry_hash") == position.get("head_hash")),
        f"sealed at custody entry {seq}, which {_CHAIN} has",
        f"sealed at custody entry {seq}, which {_CHAIN} does not have with that hash",
    )
