"""``archiver worker``: runs the tasks ``archiver run`` hands out on PostgreSQL
(issue 19, docs/scale.md)."""

from __future__ import annotations

import signal

import click

from archiver.cli._base import (
    config_option,
    errors_reported,
    fail,
    main,
    settings_of,
    setup_logging,
)


@main.command()
@config_option
@click.option(
    "--queues",
    metavar="NAMES",
    help="Comma-separated queues to take tasks from: capture, browser (captures that need "
    "a Chromium or yt-dlp), check, stamp. Default: all.",
)
@click.option(
    "--concurrency", type=click.IntRange(1, 64), default=8, show_default=True,
    help="Tasks run at once: capture tasks of different host partitions, check batches.",
)  # fmt: skip
@click.pass_context
def worker(ctx: click.Context, queues: str | None, concurrency: int) -> None:
    """Run the tasks `archiver run` hands out on PostgreSQL (daemon.queue), until stopped.
    Start any number, on any machines sharing the database and storage (docs/scale.md)."""
    from archiver.app import Archive
    from archiver.errors import ArchiverError, ConfigError
    from archiver.queue import parse_queues, uses_procrastinate

    settings = settings_of(ctx)
    setup_logging(settings.daemon.log_level)
    # Until the worker takes the signals over, a stop while starting ends it, status 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop_while_starting)
    try:
        names = parse_queues(queues)
        if not uses_procrastinate(settings):
            raise ConfigError(
                "archiver worker runs the tasks of the PostgreSQL work queue; with "
                f"daemon.queue = {settings.daemon.queue!r} and this database, "
                "`archiver run` does all the work itself"
            )
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    from archiver.queue.worker import run_worker, worker_settings

    try:
        archive = Archive.open(worker_settings(settings))
    except ArchiverError as exc:
        fail(str(exc))
    with archive, errors_reported():
        run_worker(archive, names, concurrency=concurrency)


def _stop_while_starting(signum: int, frame: object) -> None:
    raise SystemExit(0)
