"""The evidence-status document: every report, every citation, every source and its state.

``build_status`` returns the JSON shape documented in DESIGN.md and docs/status.md
(field names are a public interface: add, never rename). ``status_rows`` flattens it to
one row per citation for CSV, and ``status_table`` to one line per source for people.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiver.integrity.pending import stamp_counts
from archiver.models import Citation, Observation, PlatformRecord, Report, Snapshot, Source
from archiver.store.db import Database
from archiver.store.source_facts import (
    Seen,
    baseline_id,
    derived_incomplete,
    is_preserving,
    last_capture_failure,
    preservation_text,
    suspected,
)
from archiver.witnesses.facts import annotate, load_facts

STATES = (
    "pending",
    "live",
    "altered",
    "removed",
    "dead",
    "restricted",
    "redirected",
    "blocked",
    "unreachable",
)

CSV_COLUMNS = (
    "report_id",
    "report_title",
    "report_sha256",
    "marker",
    "url_as_cited",
    "context",
    "source_id",
    "source_url",
    "platform",
    "kind",
    "state",
    "state_since",
    "preserved",
    "last_checked_at",
    "snapshots",
    "last_snapshot_at",
    "last_snapshot_warc",
    # Added (truthful states): what is known beyond the state.
    "suspected_state",
    "reason",
    "capture_failed",
    "baseline_snapshot",
    "baseline_warc",
    "incomplete",
    # Added (issue 21): RFC 3161 stamps of the source's snapshots still pending.
    "timestamps_pending",
    # Added (issue 18): a public web archive's copy ("copy held by ..."), or whom we asked.
    "third_party_copy",
)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def build_status(
    db: Database,
    clock: Callable[[], datetime],
    *,
    report_ids: Collection[int] | None = None,
    source_ids: Collection[int] | None = None,
) -> dict[str, Any]:
    """The whole document; or, given ``report_ids`` and/or ``source_ids``, the same shape
    for just those reports (with every source they cite) or sources (with the reports
    citing them). The summary then counts the selection. The web pages use this so a
    page about one report or one source does not read the whole archive."""
    report_query = select(Report).order_by(Report.id)
    source_query = select(Source).order_by(Source.id)
    citation_query = select(Citation).order_by(Citation.report_id, Citation.position)
    snapshot_query = select(Snapshot).order_by(Snapshot.started_at)
    if report_ids is not None or source_ids is not None:
        if report_ids is not None:
            report_query = report_query.where(Report.id.in_(report_ids))
            source_query = source_query.where(
                Source.id.in_(select(Citation.source_id).where(Citation.report_id.in_(report_ids)))
            )
        if source_ids is not None:
            source_query = source_query.where(Source.id.in_(source_ids))
            if report_ids is None:
                report_query = report_query.where(
                    Report.id.in_(
                        select(Citation.report_id).where(Citation.source_id.in_(source_ids))
                    )
                )
        selected = source_query.with_only_columns(Source.id).order_by(None)
        citation_query = citation_query.where(Citation.source_id.in_(selected))
        snapshot_query = snapshot_query.where(Snapshot.source_id.in_(selected))
    with db.session() as session:
        reports = session.scalars(report_query).all()
        sources = session.scalars(source_query).all()
        citations = session.scalars(citation_query).all()
        snapshots = session.scalars(snapshot_query).all()
        histories = _histories(session, [s.id for s in sources])
        media = _media(session, [s.id for s in snapshots if s.incomplete is None])
        some = report_ids is not None or source_ids is not None
        stamps = stamp_counts(session, [s.id for s in snapshots] if some else None)
        witnesses = load_facts(session, [s.id for s in sources], _iso)

    by_report: dict[int, list[Citation]] = defaultdict(list)
    by_source: dict[int, list[Citation]] = defaultdict(list)
    for citation in citations:
        by_report[citation.report_id].append(citation)
        by_source[citation.source_id].append(citation)

    by_snapshot_source: dict[int, list[Snapshot]] = defaultdict(list)
    for snapshot in snapshots:
        by_snapshot_source[snapshot.source_id].append(snapshot)
    # Preserved: at least one snapshot of the source answering 2xx.
    preserved = {
        s.source_id for s in snapshots if s.http_status is not None and 200 <= s.http_status < 300
    }
    by_state = Counter(s.state for s in sources)
    facts = {
        s.id: {
            "suspected": suspected(s.state, histories.get(s.id, []), s.next_check_at, _iso),
            "capture_failure": None
            if s.id in preserved
            else last_capture_failure(histories.get(s.id, []), _iso),
        }
        for s in sources
    }
    tried = {s.id for s in sources if s.capture_attempts > 0}
    shown = [stamps[s.id] for s in snapshots if s.id in stamps]
    status = {
        "generated_at": _iso(clock()),
        "summary": {
            "reports": len(reports),
            "citations": len(citations),
            "sources": len(sources),
            "preserved": len(preserved),
            "by_state": {state: by_state.get(state, 0) for state in STATES},
            # Tried at least once and no snapshot preserves them.
            "never_preserved": len(tried - preserved),
            "not_captured_yet": sum(1 for s in sources if s.id not in tried),
            "suspected": sum(1 for f in facts.values() if f["suspected"] is not None),
            "by_platform": dict(sorted(Counter(s.platform for s in sources).items())),
            # RFC 3161 stamps of the snapshots counted here (archiver stamp asks again).
            "timestamps": {
                "granted": sum(c["granted"] for c in shown),
                "pending": sum(c["pending"] for c in shown),
                "unstamped_snapshots": sum(1 for c in shown if c["pending"] and not c["granted"]),
                "pending_since": _iso(
                    min((c["pending_since"] for c in shown if c["pending_since"]), default=None)
                ),
            },
        },
        "reports": [
            {
                "id": r.id,
                "title": r.title,
                "sha256": r.sha256,
                "format": r.format,
                "origin": r.origin,
                "ingested_at": _iso(r.ingested_at),
                "skipped_links": len((r.harvest_notes or {}).get("skipped", [])),
                "citations": [
                    {
                        "marker": c.marker,
                        "url": c.url_as_cited,
                        "source_id": c.source_id,
                        "context": c.context,
                    }
                    for c in by_report[r.id]
                ],
            }
            for r in reports
        ],
        "sources": [
            {
                "id": s.id,
                "url": s.url,
                "platform": s.platform,
                "kind": s.kind,
                "state": s.state,
                "state_since": _iso(s.state_since),
                "preserved": s.id in preserved,
                "last_checked_at": _iso(s.last_checked_at),
                "next_check_at": _iso(s.next_check_at),
                "citations": [
                    {"report_id": c.report_id, "marker": c.marker} for c in by_source[s.id]
                ],
                "suspected": facts[s.id]["suspected"],
                "capture_failure": facts[s.id]["capture_failure"],
                "capture_attempts": s.capture_attempts,
                "next_capture_at": _iso(s.next_capture_at),
                **_snapshots(by_snapshot_source[s.id], media, stamps),
            }
            for s in sources
        ],
    }
    # Third-party copies (issue 18): listed, never counted as preserved by us.
    return annotate(status, witnesses)


def _snapshots(
    rows: list[Snapshot],
    media: dict[str, tuple[str, str | None]],
    stamps: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    snapshots = [_snapshot(snap, media.get(snap.id), stamps.get(snap.id)) for snap in rows]
    latest = next((s["id"] for s in reversed(snapshots) if s["preserved"]), None)
    return {
        "snapshots": snapshots,
        "baseline_snapshot": baseline_id(snapshots),
        "latest_snapshot": latest,
    }


# Observations read per source to date an accusation ("suspected since").
_HISTORY = 20


def _histories(session: Session, source_ids: list[int]) -> dict[int, list[Seen]]:
    """The latest observation of each source, and of each source's latest capture;
    for sources whose latest observation accuses them, the run of earlier ones too.
    Newest first. A few grouped queries, not every observation of the archive."""
    if not source_ids:
        return {}
    latest_ids: set[int] = set()
    for via in (None, "capture"):
        query = select(func.max(Observation.id)).group_by(Observation.source_id)
        query = query.where(Observation.source_id.in_(source_ids))
        if via is not None:
            query = query.where(Observation.via == via)
        latest_ids.update(session.scalars(query))
    rows = list(session.scalars(select(Observation).where(Observation.id.in_(latest_ids))))
    newest: dict[int, Observation] = {}
    for row in rows:
        if row.source_id not in newest or row.id > newest[row.source_id].id:
            newest[row.source_id] = row
    accused = [sid for sid, row in newest.items() if row.implied_state != row.resulting_state]
    if accused:
        # The _HISTORY observations before each one's newest (rank 1): one query for all.
        rank = func.row_number().over(
            partition_by=Observation.source_id, order_by=Observation.id.desc()
        )
        ranked = (
            select(Observation.id, rank.label("rank"))
            .where(Observation.source_id.in_(accused))
            .subquery()
        )
        rows += session.scalars(
            select(Observation)
            .join(ranked, ranked.c.id == Observation.id)
            .where(ranked.c.rank.between(2, _HISTORY + 1))
        )
    histories: dict[int, dict[int, Seen]] = {}
    for row in rows:
        histories.setdefault(row.source_id, {})[row.id] = Seen(
            row.observed_at, row.via, row.implied_state, row.resulting_state, row.reason,
            row.http_status, row.failure_kind, row.snapshot_id,
        )  # fmt: skip
    return {sid: [seen[k] for k in sorted(seen, reverse=True)] for sid, seen in histories.items()}


def _media(session: Session, snapshot_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """The video status of snapshots whose ``incomplete`` was not recorded."""
    if not snapshot_ids:
        return {}
    rows = session.execute(
        select(
            PlatformRecord.snapshot_id, PlatformRecord.media_status, PlatformRecord.media_error
        ).where(PlatformRecord.snapshot_id.in_(snapshot_ids))
    )
    return {snapshot_id: (status, error) for snapshot_id, status, error in rows}


def _snapshot(
    snapshot: Snapshot,
    media: tuple[str, str | None] | None = None,
    stamps: dict[str, Any] | None = None,
) -> dict[str, Any]:
    incomplete = snapshot.incomplete
    if incomplete is None:  # written before it was recorded: what the row tells
        incomplete = derived_incomplete(
            snapshot.methods,
            snapshot.http_status,
            [a["kind"] for a in snapshot.artefacts],
            media[0] if media else None,
            media[1] if media else None,
        )
    return {
        "id": snapshot.id,
        "captured_at": _iso(snapshot.started_at),
        "finished_at": _iso(snapshot.finished_at),
        "warc": snapshot.warc_path,
        "warc_sha256": snapshot.warc_sha256,
        "warc_size": snapshot.warc_size,
        "payload_sha256": snapshot.payload_sha256,
        "http_status": snapshot.http_status,
        "final_url": snapshot.final_url,
        "methods": snapshot.methods,
        "failure": snapshot.failure_kind,
        # Added (issue 20): what the failure was, in words; for "other", the exception.
        "failure_detail": snapshot.failure_message,
        "tls_verified": snapshot.tls_verified,
        "truncated": snapshot.truncated,
        "artefacts": [
            {"kind": a["kind"], "sha256": a["sha256"], "size": a["size"]}
            for a in snapshot.artefacts
        ],
        "preserved": is_preserving(snapshot.http_status),
        "incomplete": list(incomplete),
        # Its manifest's RFC 3161 stamps: obtained, and still pending (a snapshot with
        # none granted has no trusted time yet).
        "timestamps": {
            "granted": stamps["granted"] if stamps else 0,
            "pending": stamps["pending"] if stamps else 0,
        },
    }


def status_rows(status: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per citation, joined with its report and source (CSV for spreadsheets)."""
    sources = {s["id"]: s for s in status["sources"]}
    rows = []
    for report in status["reports"]:
        for citation in report["citations"]:
            source = sources[citation["source_id"]]
            rows.append(
                {
                    "report_id": report["id"],
                    "report_title": report["title"] or "",
                    "report_sha256": report["sha256"],
                    "marker": citation["marker"] or "",
                    "url_as_cited": citation["url"],
                    "context": citation["context"],
                    "source_id": source["id"],
                    "source_url": source["url"],
                    "platform": source["platform"],
                    "kind": source["kind"],
                    "state": source["state"],
                    "state_since": source["state_since"],
                    "preserved": "yes" if source["preserved"] else "no",
                    "last_checked_at": source["last_checked_at"] or "",
                    "snapshots": len(source["snapshots"]),
                    "last_snapshot_at": (source["snapshots"] or [{}])[-1].get("captured_at", ""),
                    "last_snapshot_warc": (source["snapshots"] or [{}])[-1].get("warc", ""),
                    "timestamps_pending": sum(
                        snap.get("timestamps", {}).get("pending", 0) for snap in source["snapshots"]
                    ),
                    "third_party_copy": source.get("third_party_statement")
                    or (source.get("witness_lookup") or {}).get("message", ""),
                    **_known(source),
                }
            )
    return rows


def _known(source: dict[str, Any]) -> dict[str, Any]:
    """The CSV's columns for what is known beyond the state."""
    suspicion = source.get("suspected")
    failure = source.get("capture_failure")
    snapshots = {s["id"]: s for s in source["snapshots"]}
    baseline = snapshots.get(source.get("baseline_snapshot") or "")
    latest = snapshots.get(source.get("latest_snapshot") or "")
    reason = ""
    if suspicion is not None:
        reason = f"suspected {suspicion['state']}: {suspicion['reason']}"
    elif failure is not None:
        reason = f"capture failed: {failure['reason']}"
    missing = latest["incomplete"] if latest is not None else []
    return {
        "suspected_state": suspicion["state"] if suspicion else "",
        "reason": reason,
        "capture_failed": "yes" if failure is not None else "no",
        "baseline_snapshot": baseline["id"] if baseline else "",
        "baseline_warc": baseline["warc"] if baseline else "",
        "incomplete": "; ".join(f"{m['artefact']}: {m['reason']}" for m in missing),
    }


def _timestamps_line(stamps: dict[str, Any] | None) -> str:
    if not stamps:
        return "timestamps: none"
    line = f"timestamps: {stamps['granted']} obtained, {stamps['pending']} pending"
    if stamps["pending"]:
        line += (
            f" since {stamps['pending_since']} ({stamps['unstamped_snapshots']} snapshots "
            "without a trusted time yet; archiver stamp asks again now)"
        )
    return line


def status_table(status: dict[str, Any], *, width: int = 120) -> str:
    """A plain-text overview: summary, reports, then one line per source."""
    summary = status["summary"]
    states = ", ".join(f"{k} {v}" for k, v in summary["by_state"].items() if v)
    platforms = ", ".join(f"{k} {v}" for k, v in summary["by_platform"].items())
    lines = [
        f"{summary['reports']} reports, {summary['citations']} citations, "
        f"{summary['sources']} sources ({platforms or 'none'}); "
        f"preserved {summary['preserved']}/{summary['sources']}",
        f"states: {states or 'none'}",
        _timestamps_line(summary.get("timestamps")),
        "",
    ]
    for report in status["reports"]:
        lines.append(
            f"report {report['id']}: {report['title'] or '(untitled)'}  "
            f"[{len(report['citations'])} citations, sha256 {report['sha256'][:12]}]"
        )
    if status["reports"]:
        lines.append("")
    header = f"{'ID':>5}  {'STATE':<11} {'PLATFORM':<9} {'KIND':<11} {'CITED':<14} URL"
    lines.append(header)
    for source in status["sources"]:
        cited = ",".join(
            f"{c['report_id']}#{c['marker']}" if c["marker"] else f"{c['report_id']}"
            for c in source["citations"][:3]
        ) + ("…" if len(source["citations"]) > 3 else "")
        prefix = (
            f"{source['id']:>5}  {source['state']:<11} {source['platform']:<9} "
            f"{source['kind']:<11} {cited:<14} "
        )
        room = max(20, width - len(prefix))
        url = source["url"] if len(source["url"]) <= room else source["url"][: room - 1] + "…"
        lines.append(prefix + url)
        if source.get("capture_failure") is not None or source.get("suspected") is not None:
            lines.append(" " * 7 + "↳ " + preservation_text(source))
    return "\n".join(lines)
