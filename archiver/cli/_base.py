"""What every command shares: the ``archiver`` group, ``--config``, opening the archive,
turning the archiver's errors into one line, the actor written to the custody log."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import click

from archiver import __version__
from archiver.app import Archive
from archiver.config import Settings, load_settings
from archiver.errors import ArchiverError, ConfigError

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


def settings_of(ctx: click.Context) -> Settings:
    """The settings, loaded once per invocation (a bad file is a usage error: exit 2)."""
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
def open_archive(ctx: click.Context) -> Iterator[Archive]:
    settings = settings_of(ctx)
    try:
        archive = Archive.open(settings)
    except ArchiverError as exc:
        fail(str(exc))
    try:
        yield archive
    finally:
        archive.close()


@contextmanager
def errors_reported() -> Iterator[None]:
    """An error the archiver raises on purpose ends the command with one line, exit 1."""
    try:
        yield
    except ArchiverError as exc:
        fail(str(exc))


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def cli_actor() -> str:
    """Who is acting, for the custody log: ``cli:<user>``. As
    archiver.integrity.export.default_actor, without importing the export code
    (cryptography, the timestamp client) into every capture run."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


class Progress:
    """A progress bar on stderr for a run of ``total`` items, shown only on a terminal
    and never mixed into JSON output."""

    def __init__(self, label: str, *, enabled: bool) -> None:
        self._label = label
        self._enabled = enabled and sys.stderr.isatty()
        self._bar: Any = None

    def start(self, total: int) -> None:
        if self._enabled and total:
            self._bar = click.progressbar(length=total, label=self._label, file=sys.stderr)
            self._bar.__enter__()

    def step(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


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
    # The garbage collector's view of what is loaded (frozen, so that collections do
    # not walk it again) is set by the program's entry point, archiver._launch.
    _quiet_libraries()
