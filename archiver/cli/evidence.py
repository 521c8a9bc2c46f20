"""Evidence: ``export``, ``verify``, ``keys``, ``stamp`` (docs/integrity.md)."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import click

from archiver.app import Archive
from archiver.cli._base import (
    cli_actor,
    config_option,
    errors_reported,
    main,
    open_archive,
    settings_of,
)


@main.command("export")
@config_option
@click.argument("source", metavar="SOURCE", required=False)
@click.option(
    "--report",
    "report_id",
    type=int,
    metavar="ID",
    help="Export a whole report instead: one package per cited source, and a signed, "
    "timestamped index of every footnote.",
)
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
    help="The package file (.zip) to write, or a folder to write it into; with --report, "
    "a .zip, or a folder that does not exist yet (or is empty).",
)
@click.pass_context
def export_command(
    ctx: click.Context,
    source: str | None,
    report_id: int | None,
    snapshot_id: str | None,
    out: Path,
) -> None:
    """Write the evidence package of a source (id or cited URL): WACZ, signed manifest,
    timestamps, custody log, certificate and VERIFY.md, in one zip. With --report ID:
    every cited source's package and an index (CSV, HTML) of footnote -> source ->
    package -> sha256, signed and timestamped."""
    from archiver.integrity.export import default_actor
    from archiver.integrity.pending import package_stamped

    if (source is None) == (report_id is None):
        raise click.UsageError("give a SOURCE or --report ID, not both")
    if report_id is not None:
        if snapshot_id is not None:
            raise click.UsageError("--snapshot goes with a SOURCE, not with --report")
        _export_report(ctx, report_id, out)
        return
    assert source is not None
    with open_archive(ctx) as archive, errors_reported():
        path = archive.export(source, out, snapshot_id=snapshot_id, actor=default_actor())
    click.echo(f"{path}: {path.stat().st_size} bytes; check it with: archiver verify {path}")
    if not package_stamped(path):
        click.echo(
            f"warning: {path.name} has no trusted timestamp: its manifest's RFC 3161 stamps "
            "are still pending (no TSA answered). The package proves integrity from its "
            "signature only; export it again once archiver stamp has obtained one."
        )


def _export_report(ctx: click.Context, report_id: int, out: Path) -> None:
    from archiver.integrity.export import default_actor
    from archiver.integrity.report_export import export_report

    with open_archive(ctx) as archive, errors_reported():
        if sys.stderr.isatty():
            with click.progressbar(length=0, label="packages", file=sys.stderr) as bar:

                def progress(done: int, total: int) -> None:
                    bar.length = total
                    bar.update(done - bar.pos)

                result = export_report(archive, report_id, out, default_actor(), progress=progress)
        else:
            result = export_report(archive, report_id, out, default_actor())
    footnotes = len(result.rows)
    sources = len({r.source_id for r in result.rows})
    click.echo(
        f"report {report_id}: {footnotes} footnotes, {sources} sources: {result.packages} "
        f"packages, {result.without_package} sources without a package (the index says why)"
    )
    size = sum(p.stat().st_size for p in [result.path] if p.is_file())
    where = f"{result.path}: {size} bytes" if size else f"{result.path}/"
    click.echo(f"{where}; check it with: archiver verify {result.path}")
    if not result.stamps_granted:
        click.echo(
            "warning: the index has no trusted timestamp (no TSA answered: "
            + "; ".join(result.stamps_pending)
            + "); it proves its integrity from its signature only. Export again once a "
            "TSA answers."
        )
    for failure in result.failed:
        click.echo(f"error: {failure}", err=True)
    if result.failed:
        sys.exit(1)


@main.command("verify")
@config_option
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--store",
    is_flag=True,
    help="Verify every snapshot, seal, timestamp and the "
    "custody log of the store, and list files no snapshot refers to.",
)
@click.option(
    "--quarantine-orphans",
    "quarantine",
    is_flag=True,
    help="With --store: first move WARC files no snapshot refers to, and leftover "
    "temporary files, to <storage>/quarantine/ (logged in custody; nothing is deleted).",
)
@click.option(
    "--key",
    "pins",
    multiple=True,
    metavar="FINGERPRINT",
    help="A signing key fingerprint the organisation published (repeatable): anything "
    "signed by another key fails. Default: integrity.trusted_keys.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only what fails or warns.")
@click.pass_context
def verify_command(
    ctx: click.Context,
    path: Path | None,
    store: bool,
    quarantine: bool,
    pins: tuple[str, ...],
    quiet: bool,
) -> None:
    """Check an evidence package (.zip or its extracted folder), a WARC file, or the
    whole store (--store), offline. Exit status 1 when anything fails. Without --key
    (or integrity.trusted_keys), compare the key it names with the published one."""
    from archiver.integrity.pins import normalize_fingerprint
    from archiver.integrity.verify import Findings, verify_package, verify_warc_file
    from archiver.integrity.verify_report import is_report_export, verify_report_export

    try:
        trusted = [normalize_fingerprint(pin) for pin in pins]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--key") from exc
    if not trusted:
        trusted = list(settings_of(ctx).integrity.trusted_keys)
    if (path is None) == (not store):
        raise click.UsageError("give a PATH (package or WARC file) or --store, not both")
    if quarantine and not store:
        raise click.UsageError("--quarantine-orphans goes with --store")
    findings: Findings
    if path is not None and is_report_export(path):
        findings = verify_report_export(path, trusted)
    elif store:
        from archiver.integrity.verify_store import verify_store

        with open_archive(ctx) as archive:
            if quarantine:
                _quarantine(archive)
            findings = verify_store(archive, trusted=trusted)
    else:
        assert path is not None
        if path.is_dir() or zipfile.is_zipfile(path):
            findings = verify_package(path, trusted)
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


def _quarantine(archive: Archive) -> None:
    from archiver.integrity.strays import quarantine_strays

    with errors_reported():
        result = quarantine_strays(archive, actor=cli_actor())
    for moved in result.moved:
        click.echo(f"MOVED {moved.rel} -> {moved.to} (sha256 {moved.sha256})")
    for stray in result.skipped:
        click.echo(
            f"KEPT  {stray.rel}: written {stray.age:.0f} s ago, a running capture may "
            "still record it"
        )
    for error in result.errors:  # still in place: verify fails on them below
        click.echo(f"error: not moved: {error}", err=True)


def _stored_warc(ctx: click.Context, path: Path) -> tuple[str, int] | None:
    """The recorded sha256 and size when ``path`` is a snapshot file of the store."""
    from sqlalchemy import select

    from archiver.models import Snapshot

    settings = settings_of(ctx)
    try:
        rel = path.resolve().relative_to(settings.storage.root.resolve()).as_posix()
    except ValueError:
        return None
    with open_archive(ctx) as archive, archive.db.session() as session:
        row = session.scalars(select(Snapshot).where(Snapshot.warc_path == rel)).first()
        return (row.warc_sha256, row.warc_size) if row is not None else None


@main.group("keys")
def keys_group() -> None:
    """The Ed25519 signing keys (under <storage>/keys, or integrity.key_dir)."""


@keys_group.command("show")
@config_option
@click.pass_context
def keys_show(ctx: click.Context) -> None:
    """Print the current key's fingerprint, in the form to publish, and public key."""
    from archiver.integrity.export import default_actor
    from archiver.integrity.pins import publication_line

    with open_archive(ctx) as archive:
        keys = archive.integrity.keys(default_actor())
        current = keys.fingerprint
        click.echo(f"fingerprint: {current}")
        click.echo("Publish this line (web site, reports) so that verifiers can pin the key:")
        click.echo(f"  {publication_line(current)}")
        click.echo(f"They check a package with: archiver verify --key {current} PACKAGE.zip")
        for earlier in keys.fingerprints():
            if earlier != current:
                click.echo(
                    f"earlier key, still verifying what it signed (keep it published): {earlier}"
                )
        click.echo(keys.public_key_pem().decode("ascii"), nl=False)


@keys_group.command("rotate")
@config_option
@click.option("--reason", help="Why (recorded in the custody log).")
@click.pass_context
def keys_rotate(ctx: click.Context, reason: str | None) -> None:
    """Make a new signing key current; old keys stay to verify old signatures."""
    from archiver.integrity.export import default_actor

    with open_archive(ctx) as archive:
        event = archive.integrity.rotate_key(default_actor(), reason)
    click.echo(f"new signing key {event.fingerprint} (was {event.previous})")


@main.command("stamp")
@config_option
@click.option("--head", "seal_head", is_flag=True, help="Seal a signed custody head now.")
@click.pass_context
def stamp_command(ctx: click.Context, seal_head: bool) -> None:
    """Fetch every pending RFC 3161 timestamp now, whatever its back-off (the daemon
    does this on its own, backing off from TSAs that fail)."""
    from archiver.integrity.pending import pending_summary

    with open_archive(ctx) as archive, errors_reported():
        if seal_head:
            head = archive.integrity.seal_custody_head()
            if head is not None:
                click.echo(f"custody head {head.id}: entry {head.seq}, {head.head_hash}")
        summary = archive.integrity.stamp_all()
        with archive.db.session() as session:
            left = pending_summary(session)["pending"]
    click.echo(f"timestamps: {summary.granted} obtained, {left} still pending")
    for error in summary.errors[:10]:
        click.echo(f"  {error}", err=True)
