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
    """The daemon's log on stderr. Third-party chatter (yt-dlp, httpx, httpcore,
    APScheduler) is shown at DEBUG unless it is an error (docs/web.md, "The log")."""
    from archiver.schedule.operator import ThirdPartyAtDebug

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ThirdPartyAtDebug(logging.getLevelName(level)))
    # force: replaces the commands' handler (_cli_logging) that main() installed.
    logging.basicConfig(level=level, handlers=[handler], force=True)


class _LineSafeHandler(logging.Handler):
    """Warnings and errors of a command on stderr (whichever it is when the record
    comes), each on a line of its own: on a terminal the line a progress bar is drawn on
    is cleared first (the bar redraws itself below)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            text = self.format(record)
            if stream.isatty():
                stream.write("\r\x1b[K")
            stream.write(text + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - as logging.StreamHandler: never raise
            self.handleError(record)


def _cli_logging() -> None:
    """Commands other than run: warnings and errors only (third-party ones only when
    errors), never written into a progress bar's line."""
    from archiver.schedule.operator import ThirdPartyAtDebug

    root = logging.getLogger()
    if any(isinstance(h, _LineSafeHandler) for h in root.handlers):
        return
    handler = _LineSafeHandler(logging.WARNING)
    # As Python's last-resort handler printed them before: the message alone.
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(ThirdPartyAtDebug(logging.WARNING))
    root.addHandler(handler)


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
    _cli_logging()
