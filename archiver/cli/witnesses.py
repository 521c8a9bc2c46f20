"""``archiver witnesses``: copies of sources held by public web archives."""

from __future__ import annotations

import json

import click

from archiver.cli._base import config_option, errors_reported, main, open_archive


@main.command()
@config_option
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@click.option("--limit", type=click.IntRange(min=1), help="Look up at most N sources.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per source.")
@click.pass_context
def witnesses(
    ctx: click.Context, sources: tuple[str, ...], limit: int | None, as_json: bool
) -> None:
    """Look up earlier copies in public web archives (docs/witnesses.md): of the
    sources named (ids or cited URLs), or of every source our capture did not
    preserve and no archive was asked about this week. A copy found is kept as a
    third-party copy, never as our own capture."""
    with open_archive(ctx) as archive, errors_reported():
        finder = archive.witnesses
        ids = archive.find_sources(sources) if sources else finder.due(limit)
        outcomes = finder.look_up(ids[:limit] if limit else ids)
        for outcome in outcomes:
            if as_json:
                click.echo(json.dumps(outcome.as_json(), ensure_ascii=False))
            else:
                click.echo(f"source {outcome.source_id} {outcome.url}: {outcome.message}")
        if not as_json:
            found = sum(1 for o in outcomes if o.outcome == "found")
            click.echo(f"looked up {len(outcomes)} sources: {found} with a third-party copy")
