"""Running the service: ``run`` (the daemon), access ``token``s for the web pages and
API, and report ``feed``s the daemon polls (docs/web.md)."""

from __future__ import annotations

import signal

import click

from archiver.cli._base import (
    config_option,
    errors_reported,
    fail,
    main,
    open_archive,
    settings_of,
    setup_logging,
)


@main.command()
@config_option
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon: take in reports (inbox, feeds), capture, re-check, stamp and serve
    the pages and API, until stopped."""
    from archiver.schedule.daemon import run_daemon

    settings = settings_of(ctx)
    setup_logging(settings.daemon.log_level)
    # Until the daemon takes the signals over (archiver.schedule.daemon), a stop while
    # starting (migrations: a transaction each) ends the command at once, status 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop_while_starting)
    with open_archive(ctx) as archive, errors_reported():
        from archiver.schedule.telling import log_start

        # What is off, and the command that makes the first token when none exists.
        log_start(archive, ctx.find_root().ensure_object(dict).get("config"))
        run_daemon(archive)


def _stop_while_starting(signum: int, frame: object) -> None:
    raise SystemExit(0)


@main.group()
def token() -> None:
    """Access tokens for the web pages and the API (roles: viewer, lawyer, admin)."""


@token.command("create")
@config_option
@click.option(
    "--role",
    type=click.Choice(["viewer", "lawyer", "admin"]),
    required=True,
    help="viewer: the status; lawyer: also downloads evidence; admin: also adds reports.",
)
@click.option("--name", required=True, help="Who holds the token (shown in the custody log).")
@click.pass_context
def token_create(ctx: click.Context, role: str, name: str) -> None:
    """Create a token; it is printed once and cannot be shown again."""
    from archiver.web.tokens import create_token, parse_role

    with open_archive(ctx) as archive, errors_reported():
        info, secret = create_token(
            archive.db, name=name, role=parse_role(role), clock=archive.clock
        )
    click.echo(secret)
    click.echo(
        f"token {info.id} for {info.name} ({info.role.value}); keep it now, it is not shown again",
        err=True,
    )


@token.command("list")
@config_option
@click.pass_context
def token_list(ctx: click.Context) -> None:
    """List tokens (never the tokens themselves)."""
    from archiver.web.tokens import list_tokens

    with open_archive(ctx) as archive:
        tokens = list_tokens(archive.db)
    if not tokens:
        click.echo("no tokens (create one: archiver token create --role viewer --name NAME)")
    for t in tokens:
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        click.echo(
            f"{t.id:>4}  {t.role.value:<7} {t.name:<24} {t.prefix}…  created "
            f"{t.created_at:%Y-%m-%d %H:%M}  last used {used}  {state}"
        )


@token.command("revoke")
@config_option
@click.argument("ref", metavar="ID|NAME")
@click.pass_context
def token_revoke(ctx: click.Context, ref: str) -> None:
    """Revoke a token by id, or every active token of a name; its sessions end too."""
    from archiver.web.tokens import revoke_token

    with open_archive(ctx) as archive, errors_reported():
        revoked = revoke_token(archive.db, ref, clock=archive.clock)
    for t in revoked:
        click.echo(f"revoked token {t.id} of {t.name} ({t.role.value})")


@main.group()
def feed() -> None:
    """Report feeds (RSS, Atom, or a page listing reports) polled by `archiver run`."""


@feed.command("add")
@config_option
@click.argument("url")
@click.option(
    "--pattern",
    help="Listing pages: a regular expression report links match "
    "(default: links to documents such as .pdf and .docx on the same site).",
)
@click.option("--poll", is_flag=True, help="Poll it now instead of waiting for the daemon.")
@click.pass_context
def feed_add(ctx: click.Context, url: str, pattern: str | None, poll: bool) -> None:
    """Watch a feed for new reports."""
    from archiver.harvest.feeds import add_feed, poll_feed

    with open_archive(ctx) as archive, errors_reported():
        added = add_feed(archive, url, actor="cli", link_pattern=pattern)
        click.echo(f"feed {added.id}: {added.url}")
        if poll:
            result = poll_feed(archive, added)
            if result.error:
                fail(result.error)
            click.echo(
                f"  {result.kind}: {result.listed} report links, {len(result.new_reports)} new "
                f"reports, {result.new_sources} new sources"
            )
            for problem in result.failed:
                click.echo(f"  not added: {problem}", err=True)


@feed.command("list")
@config_option
@click.pass_context
def feed_list(ctx: click.Context) -> None:
    """List the feeds watched."""
    from archiver.harvest.feeds import list_feeds

    with open_archive(ctx) as archive:
        for f in list_feeds(archive):
            polled = f"{f.last_polled_at:%Y-%m-%d %H:%M}" if f.last_polled_at else "not yet"
            state = "" if f.active else "  (stopped)"
            problem = f"  error: {f.last_error}" if f.last_error else ""
            click.echo(f"{f.id:>4}  {f.url}  polled {polled}{state}{problem}")


@feed.command("remove")
@config_option
@click.argument("ref", metavar="ID|URL")
@click.pass_context
def feed_remove(ctx: click.Context, ref: str) -> None:
    """Stop polling a feed; the reports it brought in stay."""
    from archiver.harvest.feeds import remove_feed

    with open_archive(ctx) as archive, errors_reported():
        removed = remove_feed(archive, ref)
    click.echo(f"feed {removed.id} stopped: {removed.url}")
