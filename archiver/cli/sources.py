"""Reports and their sources: ``add``, ``capture``, ``check``, ``status``."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

import click

from archiver.cli._base import (
    Progress,
    cli_actor,
    config_option,
    errors_reported,
    main,
    open_archive,
)
from archiver.errors import ArchiverError
from archiver.store.status import CSV_COLUMNS, status_rows, status_table

if TYPE_CHECKING:
    from archiver.capture.runner import CaptureOutcome
    from archiver.harvest.ingest import IngestOutcome


@main.command()
@config_option
@click.argument("targets", nargs=-1, required=True, metavar="PATH|URL...")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per report.")
@click.pass_context
def add(ctx: click.Context, targets: tuple[str, ...], as_json: bool) -> None:
    """Add reports (files or web pages) and record every link they cite."""
    failures = 0
    with open_archive(ctx) as archive:
        show_progress = len(targets) > 1 and sys.stderr.isatty() and not as_json
        with click.progressbar(
            targets, label="harvesting", file=sys.stderr, hidden=not show_progress
        ) as bar:
            for target in bar:
                try:
                    outcome = archive.add(target, actor=cli_actor())
                except ArchiverError as exc:
                    failures += 1
                    if as_json:
                        click.echo(json.dumps({"origin": target, "error": str(exc)}))
                    else:
                        click.echo(f"error: {exc}", err=True)
                    continue
                if as_json:
                    click.echo(json.dumps(outcome.as_json(), ensure_ascii=False))
                else:
                    click.echo(_outcome_text(outcome))
    if failures:
        sys.exit(1)


def _outcome_text(outcome: IngestOutcome) -> str:
    head = f"{outcome.origin}: report {outcome.report_id}"
    if outcome.title:
        head += f" \u201c{outcome.title}\u201d"
    if outcome.already_stored:
        return (
            f"{head}: already stored (sha256 {outcome.sha256[:12]}), nothing changed; "
            f"{outcome.citations} citations, {outcome.sources} sources"
        )
    platforms = ", ".join(f"{k} {v}" for k, v in sorted(outcome.by_platform.items()))
    lines = [
        f"{head} ({outcome.format}, sha256 {outcome.sha256[:12]})",
        f"  {outcome.citations} citations, {outcome.sources} unique sources"
        + (f" ({platforms})" if platforms else "")
        + f", {outcome.new_sources} new",
    ]
    if outcome.skipped:
        why = ", ".join(f"{reason} {n}" for reason, n in sorted(outcome.skipped.items()))
        lines.append(f"  skipped links: {sum(outcome.skipped.values())} ({why})")
    lines.extend(f"  warning: {w}" for w in outcome.warnings)
    return "\n".join(lines)


@main.command()
@config_option
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="ID|URL",
    help="Capture this source (a source id or a cited URL), even if already preserved. "
    "Repeatable. Default: every source not yet preserved whose capture is due.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Capture at most N sources.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per source.")
@click.pass_context
def capture(ctx: click.Context, sources: tuple[str, ...], limit: int | None, as_json: bool) -> None:
    """Snapshot sources to WARC: the page as sent, and as a reader saw it."""
    failed: Counter[str] = Counter()
    done: list[CaptureOutcome] = []
    skipped: list[int] = []
    bar = Progress("capturing", enabled=not as_json)

    def progress(outcome: CaptureOutcome) -> None:
        done.append(outcome)
        bar.step()
        if as_json:
            click.echo(json.dumps(_capture_json(outcome), ensure_ascii=False))
        if outcome.failure:
            failed[outcome.failure] += 1

    with open_archive(ctx) as archive:
        with errors_reported():
            ids = archive.find_sources(sources) if sources else None
        with bar:
            archive.capture(
                source_ids=ids,
                limit=limit,
                progress=progress,
                on_start=bar.start,
                on_skipped=skipped.append,
                actor=cli_actor(),
            )
    note = _skipped_note(sum(skipped), "capturing or checking")
    if not as_json:
        click.echo(_capture_summary(done, failed, bool(note)))
    if note:  # with --json, stdout holds only the objects
        click.echo(note, err=as_json)
    if any(o.error for o in done):
        sys.exit(1)


def _capture_json(outcome: CaptureOutcome) -> dict[str, Any]:
    return {
        "source_id": outcome.source_id,
        "url": outcome.url,
        "snapshot_id": outcome.snapshot_id,
        "http_status": outcome.http_status,
        "failure": outcome.failure,
        "failure_detail": outcome.failure_detail,
        "preserved": outcome.preserved,
        "state": outcome.state_after,
        "implied_state": outcome.implied_state,
        "error": outcome.error,
    }


def _skipped_note(count: int, doing: str) -> str:
    """Sources left alone because another runner (the daemon, another command) holds
    them: one capture or check per source at a time."""
    if not count:
        return ""
    return f"skipped {count} source{'s' if count != 1 else ''} another runner is {doing}"


def _capture_summary(done: list[CaptureOutcome], failed: Counter[str], skipped: bool) -> str:
    if not done:
        if skipped:
            return "nothing captured"
        return "nothing to capture: every source is preserved or waiting for its retry time"
    preserved = sum(1 for o in done if o.preserved)
    statuses = Counter(o.http_status for o in done if o.http_status and not o.preserved)
    parts = [f"captured {len(done)} sources: {preserved} preserved"]
    if statuses:
        parts.append("answered " + ", ".join(f"HTTP {k} x{v}" for k, v in sorted(statuses.items())))
    if failed:
        parts.append("no response: " + ", ".join(f"{k} x{v}" for k, v in sorted(failed.items())))
    errors = [o for o in done if o.error]
    lines = ["; ".join(parts)]
    lines.extend(f"error: source {o.source_id} ({o.url}): {o.error}" for o in errors)
    return "\n".join(lines)


@main.command()
@config_option
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Check every source the capture has tried now, pending ones included.",
)
@click.option(
    "--due", "due_only", is_flag=True, help="Check the sources whose check is due (default)."
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="ID|URL",
    help="Check this source (a source id or a cited URL). Repeatable.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Check at most N sources.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per source.")
@click.pass_context
def check(
    ctx: click.Context,
    everything: bool,
    due_only: bool,
    sources: tuple[str, ...],
    limit: int | None,
    as_json: bool,
) -> None:
    """Re-check sources now, in the foreground: live, altered, removed, dead...?"""
    from archiver.check.summary import outcome_json, summary_text

    if sum(bool(x) for x in (everything, due_only, sources)) > 1:
        raise click.UsageError("give one of --all, --due, --source")
    bar = Progress("checking", enabled=not as_json)
    skipped: list[int] = []

    def progress(outcome: Any) -> None:
        bar.step()
        if as_json:
            click.echo(json.dumps(outcome_json(outcome), ensure_ascii=False))

    with open_archive(ctx) as archive:
        with errors_reported():
            ids = archive.find_sources(sources) if sources else None
        with bar:
            reports = archive.check(
                source_ids=ids,
                everything=everything,
                limit=limit,
                progress=progress,
                on_start=bar.start,
                on_skipped=skipped.append,
                actor=cli_actor(),
            )
    note = _skipped_note(sum(skipped), "checking or capturing")
    if not as_json:
        click.echo(summary_text(reports) if reports or not note else "nothing checked")
    if note:  # with --json, stdout holds only the objects
        click.echo(note, err=as_json)
    if any(o.error for r in reports for o in r.outcomes):
        sys.exit(1)


@main.command()
@config_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table for people, json for scripts, csv (one row per citation) for spreadsheets.",
)
@click.pass_context
def status(ctx: click.Context, fmt: str) -> None:
    """Show every report, citation and source with its state."""
    from archiver.schedule.operator import operator_summary

    with open_archive(ctx) as archive:
        document = archive.status()
        # For people: the daemon's summary lines, in the same words.
        summary = operator_summary(archive.db, archive.settings) if fmt == "table" else []
    if fmt == "json":
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        # A UTF-8 byte order mark first, as the web CSV has: without it a spreadsheet
        # opens Cyrillic or Kazakh text as mojibake.
        sys.stdout.write("\ufeff")
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(status_rows(document))
    else:
        click.echo(status_table(document))
        click.echo("\n".join(["", *summary]))
