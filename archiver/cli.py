"""The ``archiver`` command: a thin layer over :class:`archiver.app.Archive`.

Every error the archiver raises on purpose is printed as one line (``error: ...``) with
exit status 1 (2 for bad usage or configuration); never a traceback.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from archiver import __version__
from archiver.app import Archive
from archiver.config import Settings, load_settings
from archiver.errors import ArchiverError, ConfigError
from archiver.store.status import CSV_COLUMNS, status_rows, status_table

if TYPE_CHECKING:
    from archiver.capture.runner import CaptureOutcome
    from archiver.harvest.ingest import IngestOutcome

F = TypeVar("F", bound=Callable[..., Any])


def _remember_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.find_root().ensure_object(dict)["config"] = value


def config_option(func: F) -> F:
    """``--config FILE``, accepted before or after the command name."""
    return click.option(
        "--config",
        "config",
        type=click.Path(dir_okay=False),
        expose_value=False,
        callback=_remember_config,
        is_eager=True,
        help="TOML configuration file (default: $ARCHIVER_CONFIG or ./config/archiver.toml).",
    )(func)


def _settings(ctx: click.Context) -> Settings:
    root = ctx.find_root()
    obj = root.ensure_object(dict)
    if "settings" not in obj:
        try:
            obj["settings"] = load_settings(obj.get("config"))
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from exc
    settings: Settings = obj["settings"]
    return settings


@contextmanager
def _archive(ctx: click.Context) -> Iterator[Archive]:
    settings = _settings(ctx)
    try:
        archive = Archive.open(settings)
    except ArchiverError as exc:
        _fail(str(exc))
    try:
        yield archive
    finally:
        archive.close()


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _quiet_libraries() -> None:
    # pypdf reports recoverable damage ("EOF marker not found") on stderr; the harvest
    # already turns those into one-line warnings or errors of its own.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    # Alembic announces every start at INFO; a migration actually applied is still logged
    # by the daemon's start-up line, and failures raise.
    logging.getLogger("alembic").setLevel(logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archiver")
@config_option
def main() -> None:
    """Evidence archiver: harvests the links cited in human-rights reports and keeps the
    evidence that they existed."""
    _quiet_libraries()


@main.command()
@config_option
@click.argument("targets", nargs=-1, required=True, metavar="PATH|URL...")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per report.")
@click.pass_context
def add(ctx: click.Context, targets: tuple[str, ...], as_json: bool) -> None:
    """Add reports (files or web pages) and record every link they cite."""
    failures = 0
    with _archive(ctx) as archive:
        show_progress = len(targets) > 1 and sys.stderr.isatty() and not as_json
        with click.progressbar(
            targets, label="harvesting", file=sys.stderr, hidden=not show_progress
        ) as bar:
            for target in bar:
                try:
                    outcome = archive.add(target)
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
    _setup_logging("WARNING")
    with _archive(ctx) as archive:
        try:
            ids = archive.find_sources(sources) if sources else None
        except ArchiverError as exc:
            _fail(str(exc))
        show_progress = sys.stderr.isatty() and not as_json
        bar: Any = None
        failed: Counter[str] = Counter()
        done: list[CaptureOutcome] = []

        def started(total: int) -> None:
            nonlocal bar
            if show_progress and total:
                bar = click.progressbar(length=total, label="capturing", file=sys.stderr)
                bar.__enter__()

        def progress(outcome: CaptureOutcome) -> None:
            done.append(outcome)
            if bar is not None:
                bar.update(1)
            if as_json:
                click.echo(json.dumps(_capture_json(outcome), ensure_ascii=False))
            if outcome.failure:
                failed[outcome.failure] += 1

        try:
            archive.capture(
                source_ids=ids, limit=limit, progress=progress, on_start=started, actor=_actor()
            )
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
    if not as_json:
        click.echo(_capture_summary(done, failed))
    if any(o.error for o in done):
        sys.exit(1)


def _actor() -> str:
    # As archiver.integrity.export.default_actor, without importing the export code
    # (cryptography, the timestamp client) into every capture run.
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _capture_json(outcome: CaptureOutcome) -> dict[str, Any]:
    return {
        "source_id": outcome.source_id,
        "url": outcome.url,
        "snapshot_id": outcome.snapshot_id,
        "http_status": outcome.http_status,
        "failure": outcome.failure,
        "preserved": outcome.preserved,
        "state": outcome.state_after,
        "implied_state": outcome.implied_state,
        "error": outcome.error,
    }


def _capture_summary(done: list[CaptureOutcome], failed: Counter[str]) -> str:
    if not done:
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
    with _archive(ctx) as archive:
        document = archive.status()
    if fmt == "json":
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(status_rows(document))
    else:
        click.echo(status_table(document))


@main.command()
@config_option
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon: take in reports (inbox, feeds), capture, re-check, stamp and serve
    the pages and API, until stopped."""
    from archiver.schedule.daemon import run_daemon

    settings = _settings(ctx)
    _setup_logging(settings.daemon.log_level)
    with _archive(ctx) as archive:
        try:
            run_daemon(archive)
        except ArchiverError as exc:
            _fail(str(exc))


# -- integrity (docs/integrity.md) -------------------------------------------------------


@main.command("export")
@config_option
@click.argument("source", metavar="SOURCE")
@click.option(
    "--snapshot",
    "snapshot_id",
    metavar="ID",
    help="Snapshot id (default: the first "
    "snapshot that preserved the source, else the latest attempt).",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="The package file (.zip) to write, or a folder to write it into.",
)
@click.pass_context
def export_command(ctx: click.Context, source: str, snapshot_id: str | None, out: Path) -> None:
    """Write the evidence package of a source (id or cited URL): WACZ, signed manifest,
    timestamps, custody log, certificate and VERIFY.md, in one zip."""
    from archiver.integrity.export import default_actor

    with _archive(ctx) as archive:
        try:
            path = archive.export(source, out, snapshot_id=snapshot_id, actor=default_actor())
        except ArchiverError as exc:
            _fail(str(exc))
    click.echo(f"{path}: {path.stat().st_size} bytes; check it with: archiver verify {path}")


@main.command("verify")
@config_option
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--store",
    is_flag=True,
    help="Verify every snapshot, seal, timestamp and the "
    "custody log of the store, and list files no snapshot refers to.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only what fails or warns.")
@click.pass_context
def verify_command(ctx: click.Context, path: Path | None, store: bool, quiet: bool) -> None:
    """Check an evidence package (.zip or its extracted folder), a WARC file, or the
    whole store (--store), offline. Exit status 1 when anything fails."""
    from archiver.integrity.verify import Findings, verify_package, verify_warc_file

    if (path is None) == (not store):
        raise click.UsageError("give a PATH (package or WARC file) or --store, not both")
    findings: Findings
    if store:
        from archiver.integrity.verify_store import verify_store

        with _archive(ctx) as archive:
            findings = verify_store(archive)
    else:
        assert path is not None
        if path.is_dir() or zipfile.is_zipfile(path):
            findings = verify_package(path)
        else:
            findings = verify_warc_file(path, _stored_warc(ctx, path))
    for finding in findings:
        if not quiet or finding.status != "ok":
            click.echo(finding.line())
    failed = sum(1 for f in findings if f.status == "fail")
    click.echo(
        f"{'FAILED' if failed else 'VERIFIED'}: {len(findings)} checks, {failed} failed, "
        f"{sum(1 for f in findings if f.status == 'warn')} warnings"
    )
    if failed:
        sys.exit(1)


def _stored_warc(ctx: click.Context, path: Path) -> tuple[str, int] | None:
    """The recorded sha256 and size when ``path`` is a snapshot file of the store."""
    from sqlalchemy import select

    from archiver.models import Snapshot

    settings = _settings(ctx)
    try:
        rel = path.resolve().relative_to(settings.storage.root.resolve()).as_posix()
    except ValueError:
        return None
    with _archive(ctx) as archive, archive.db.session() as session:
        row = session.scalars(select(Snapshot).where(Snapshot.warc_path == rel)).first()
        return (row.warc_sha256, row.warc_size) if row is not None else None


@main.group("keys")
def keys_group() -> None:
    """The Ed25519 signing keys (under <storage>/keys, or integrity.key_dir)."""


@keys_group.command("show")
@config_option
@click.pass_context
def keys_show(ctx: click.Context) -> None:
    """Print the current key's fingerprint and public key."""
    from archiver.integrity.export import default_actor

    with _archive(ctx) as archive:
        keys = archive.integrity.keys(default_actor())
        click.echo(f"fingerprint: {keys.fingerprint}")
        click.echo(keys.public_key_pem().decode("ascii"), nl=False)


@keys_group.command("rotate")
@config_option
@click.option("--reason", help="Why (recorded in the custody log).")
@click.pass_context
def keys_rotate(ctx: click.Context, reason: str | None) -> None:
    """Make a new signing key current; old keys stay to verify old signatures."""
    from archiver.integrity.export import default_actor

    with _archive(ctx) as archive:
        event = archive.integrity.rotate_key(default_actor(), reason)
    click.echo(f"new signing key {event.fingerprint} (was {event.previous})")


@main.command("stamp")
@config_option
@click.option("--head", "seal_head", is_flag=True, help="Seal a signed custody head now.")
@click.pass_context
def stamp_command(ctx: click.Context, seal_head: bool) -> None:
    """Fetch pending RFC 3161 timestamps (the daemon does this on its own)."""
    with _archive(ctx) as archive:
        try:
            if seal_head:
                head = archive.integrity.seal_custody_head()
                if head is not None:
                    click.echo(f"custody head {head.id}: entry {head.seq}, {head.head_hash}")
            summary = archive.stamp_pending()
        except ArchiverError as exc:
            _fail(str(exc))
    click.echo(f"timestamps: {summary.granted} obtained, {summary.pending} still pending")
    for error in summary.errors[:10]:
        click.echo(f"  {error}", err=True)


# -- re-check (issue 5) -------------------------------------------------------------------


@main.command()
@config_option
@click.option("--all", "everything", is_flag=True, help="Check every captured source now.")
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
    _setup_logging("WARNING")
    with _archive(ctx) as archive:
        try:
            ids = archive.find_sources(sources) if sources else None
        except ArchiverError as exc:
            _fail(str(exc))
        show_progress = sys.stderr.isatty() and not as_json
        bar: Any = None

        def started(total: int) -> None:
            nonlocal bar
            if show_progress and total:
                bar = click.progressbar(length=total, label="checking", file=sys.stderr)
                bar.__enter__()

        def progress(outcome: Any) -> None:
            if bar is not None:
                bar.update(1)
            if as_json:
                click.echo(json.dumps(outcome_json(outcome), ensure_ascii=False))

        try:
            reports = archive.check(
                source_ids=ids,
                everything=everything,
                limit=limit,
                progress=progress,
                on_start=started,
                actor=f"cli:{_user()}",
            )
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
    if not as_json:
        click.echo(summary_text(reports))
    if any(o.error for r in reports for o in r.outcomes):
        sys.exit(1)


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


# --- Web access (issue 7): API tokens and report feeds ---------------------------------


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

    with _archive(ctx) as archive:
        try:
            info, secret = create_token(
                archive.db, name=name, role=parse_role(role), clock=archive.clock
            )
        except ArchiverError as exc:
            _fail(str(exc))
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

    with _archive(ctx) as archive:
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

    with _archive(ctx) as archive:
        try:
            revoked = revoke_token(archive.db, ref, clock=archive.clock)
        except ArchiverError as exc:
            _fail(str(exc))
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

    with _archive(ctx) as archive:
        try:
            added = add_feed(archive, url, actor="cli", link_pattern=pattern)
        except ArchiverError as exc:
            _fail(str(exc))
        click.echo(f"feed {added.id}: {added.url}")
        if poll:
            result = poll_feed(archive, added)
            if result.error:
                _fail(result.error)
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

    with _archive(ctx) as archive:
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

    with _archive(ctx) as archive:
        try:
            removed = remove_feed(archive, ref)
        except ArchiverError as exc:
            _fail(str(exc))
    click.echo(f"feed {removed.id} stopped: {removed.url}")
