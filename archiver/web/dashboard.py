"""The dashboards: a report footnote by footnote (/reports/{id}) and every source of the
archive (/sources). Each shows its counts by state as a chart (inline SVG drawn here),
what is tried and never preserved, suspected or incomplete, and filters and search
(archiver.web._select); the archive's page adds the state changes per day.

Only the page's own entries (500 footnotes, 200 sources) are built from the status
document; the rest is counted and filtered on narrow rows.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from archiver.store.db import is_row_id
from archiver.store.status import STATES
from archiver.web import _queries as q
from archiver.web._auth import context
from archiver.web._select import (
    Filters,
    archive_counts,
    matching_source_ids,
    select_report,
    state_changes,
)
from archiver.web.charts import bar_chart, column_chart, state_bars
from archiver.web.pages import Viewer, not_found, render

router = APIRouter(include_in_schema=False)

SOURCES_PER_PAGE = 200
# Real reports cite a few hundred sources; a generated 10,000-note one stays usable.
FOOTNOTES_PER_PAGE = 500
CHANGE_DAYS = 30


def _yes(value: str | None) -> bool:
    # A ticked checkbox sends "1"; links may say true, on or yes. Anything else is no.
    return (value or "").strip().lower() in ("1", "true", "on", "yes")


def page_filters(
    state: str | None = None,
    platform: str | None = None,
    domain: str | None = None,
    never_preserved: str | None = None,
    suspected: str | None = None,
    incomplete: str | None = None,
    search: Annotated[str | None, Query(alias="q")] = None,
) -> Filters:
    return Filters.of(
        state=state,
        platform=platform,
        domain=domain,
        never_preserved=_yes(never_preserved),
        suspected=_yes(suspected),
        incomplete=_yes(incomplete),
        q=search,
    )


PageFilters = Annotated[Filters, Depends(page_filters)]


def _paging(count: int, per_page: int, page: int) -> tuple[int, int, slice]:
    pages = max(1, -(-count // per_page))
    page = min(max(page, 1), pages)
    return page, pages, slice((page - 1) * per_page, page * per_page)


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report_page(
    request: Request,
    report_id: q.RowId,
    principal: Viewer,
    filters: PageFilters,
    page: int = 1,
) -> HTMLResponse:
    if not is_row_id(report_id):
        return not_found(request, principal, "No such report.")
    ctx = context(request)
    selection = select_report(ctx.archive.db, report_id, filters)
    if selection is None:
        return not_found(request, principal, "No such report.")
    page, pages, window = _paging(len(selection.footnotes), FOOTNOTES_PER_PAGE, page)
    shown = selection.footnotes[window]
    document = q.status_document(
        ctx.archive.db, ctx.archive.clock, source_ids=sorted({f["source_id"] for f in shown})
    )
    entries = {s["id"]: s for s in document["sources"]}
    chart = bar_chart(
        "by-state", "Footnotes by state", state_bars(selection.by_state, STATES), "footnotes"
    )
    return render(
        request,
        "report.html",
        principal,
        report=selection.report,
        selection=selection,
        footnotes=[{**f, "source": entries[f["source_id"]]} for f in shown],
        matching=len(selection.footnotes),
        chart=chart,
        states=STATES,
        platforms=sorted(selection.by_platform),
        domains=selection.by_domain,
        current=filters,
        base=f"/reports/{report_id}",
        page=page,
        pages=pages,
    )


@router.get("/sources", response_class=HTMLResponse)
def sources_page(
    request: Request, principal: Viewer, filters: PageFilters, page: int = 1
) -> HTMLResponse:
    ctx = context(request)
    db = ctx.archive.db
    matching = matching_source_ids(db, filters)
    page, pages, window = _paging(len(matching), SOURCES_PER_PAGE, page)
    document = q.status_document(db, ctx.archive.clock, source_ids=matching[window])
    summary = q.overview(db, ctx.archive.clock).summary
    counts = archive_counts(db)
    changes = state_changes(db, ctx.archive.clock().date(), CHANGE_DAYS)
    return render(
        request,
        "sources.html",
        principal,
        sources=document["sources"],
        matching=len(matching),
        total=summary["sources"],
        summary=summary,
        flags=counts.flags,
        chart=bar_chart(
            "by-state", "Sources by state", state_bars(summary["by_state"], STATES), "sources"
        ),
        changes=[(day, parts) for day, parts in changes if parts],
        changes_chart=column_chart(
            "changes",
            f"State changes per day, the last {CHANGE_DAYS} days",
            changes,
            "state changes",
        ),
        change_days=CHANGE_DAYS,
        states=STATES,
        platforms=sorted(summary["by_platform"]),
        domains=counts.by_domain,
        current=filters,
        base="/sources",
        page=page,
        pages=pages,
    )
