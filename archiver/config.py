"""Settings: one typed, frozen object, loaded once at start.

Layers, later wins:
  1. defaults in this module (config/archiver.toml documents the same values; a test
     keeps the two identical);
  2. a TOML file: ``--config FILE``, else ``$ARCHIVER_CONFIG``, else
     ``./config/archiver.toml`` when it exists;
  3. environment variables ``ARCHIVER_<SECTION>__<KEY>`` (values parsed as TOML when
     they parse, e.g. ``true``, ``5``, ``["a", "b"]``; otherwise taken as strings).

Every problem is reported as one :class:`ConfigError` naming the setting and where the
bad value came from, before anything else starts.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from archiver.errors import ConfigError

ENV_PREFIX = "ARCHIVER_"
CONFIG_ENV = "ARCHIVER_CONFIG"
DEFAULT_CONFIG_PATH = Path("config") / "archiver.toml"

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> float:
    """Seconds from a number or a string such as "90", "15m", "6h", "2d"."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30, '15m', '6h' or '2d'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION_RE.match(value)):
        seconds = float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    else:
        raise ValueError(f"expected a duration such as 30, '15m', '6h' or '2d', got {value!r}")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


# A field in seconds that also accepts "15m", "6h", "2d" in TOML and the environment.
Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StorageSettings(_Section):
    root: Path = Path("storage")
    # Empty means SQLite at <root>/archiver.db. Any SQLAlchemy URL works, e.g.
    # postgresql+psycopg://user@host/db
    database_url: str = ""

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.root / 'archiver.db').resolve()}"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and value.split(":", 1)[0].split("+", 1)[0] not in {"sqlite", "postgresql"}:
            raise ValueError("only sqlite:/// and postgresql:// URLs are supported")
        return value


class HarvestSettings(_Section):
    max_report_bytes: int = Field(default=50 * 1024 * 1024, gt=0)


class NetworkSettings(_Section):
    # http://host:port or socks5://host:port; used by every fetcher.
    proxy: str = ""
    allow_private_networks: bool = False
    user_agent: str = (
        "evidence-archiver/0.1 (+https://github.com/; human-rights evidence preservation)"
    )
    timeout: Duration = Field(default=30.0, gt=0)
    max_redirects: int = Field(default=10, ge=0, le=50)

    @field_validator("proxy")
    @classmethod
    def _proxy_scheme(cls, value: str) -> str:
        if value:
            parts = urlsplit(value)
            if parts.scheme not in {"http", "https", "socks5", "socks5h"} or not parts.hostname:
                raise ValueError("expected http://host:port or socks5://host:port")
        return value

    def proxy_for_display(self) -> str:
        """The proxy URL with any password removed: safe to log."""
        if not self.proxy:
            return ""
        parts = urlsplit(self.proxy)
        if parts.password is None and parts.username is None:
            return self.proxy
        netloc = f"***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))


class CaptureSettings(_Section):
    browser: Path = Path("/usr/bin/chromium")
    # How each kind of source is captured: "http" (the bytes the server sent), "browser"
    # (what a reader saw: every request the page made, screenshot, DOM, PDF print), or
    # both. Keys are source kinds (see docs/harvest.md); "default" covers the rest.
    modes: dict[str, tuple[str, ...]] = {
        "article": ("http", "browser"),
        "document": ("http",),
        "image": ("http",),
        "media": ("http",),
        "default": ("browser",),
    }
    # Sources captured at once, and of those, browser captures at once (each is a
    # Chromium tab: memory and CPU bound).
    concurrency: int = Field(default=16, ge=1, le=1000)
    browser_concurrency: int = Field(default=2, ge=1, le=64)
    # Politeness: connections per host, and the least time between two requests to one
    # host (a Retry-After from the host lengthens it).
    per_host_concurrency: int = Field(default=2, ge=1, le=256)
    per_host_interval: Duration = 0.5
    # Limits: a capture that hits one records what it got, marks it (WARC-Truncated,
    # provenance), and moves on.
    page_budget: Duration = 60.0
    max_response_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    max_snapshot_bytes: int = Field(default=1024 * 1024 * 1024, gt=0)
    max_resources: int = Field(default=1000, ge=1)
    screenshot_max_height: int = Field(default=20000, ge=100)
    # gzip level of WARC records: 1 compresses news pages 2.5x faster than 6 for files
    # about 15% larger (docs/benchmarks.md). Any level reads the same everywhere.
    # Levels 1-3 use ISA-L (about 4x faster than zlib's 1 at the same size).
    warc_compression_level: int = Field(default=1, ge=1, le=9)
    # An extra CA bundle (PEM) to trust besides the system's, e.g. a corporate proxy's.
    # Certificates that do not verify are still captured, and recorded as unverified.
    extra_ca_file: Path | None = None

    @field_validator("modes")
    @classmethod
    def _known_modes(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for kind, modes in value.items():
            if not modes or not set(modes) <= {"http", "browser"}:
                raise ValueError(f"modes.{kind}: expected a non-empty list of 'http', 'browser'")
        if "default" not in value:
            raise ValueError("modes needs a 'default' entry")
        return value


class CheckSettings(_Section):
    # An accusing state (dead, removed, altered, redirected) needs a second observation
    # at least this long after the first. 0 is allowed (tests).
    confirm_after: Duration = 6 * 3600.0


class IntegritySettings(_Section):
    tsa_urls: tuple[str, ...] = ("https://freetsa.org/tsr", "http://timestamp.digicert.com")
    # Seconds to wait for one TSA; a TSA that does not answer leaves the stamp pending.
    tsa_timeout: Duration = Field(default=30.0, gt=0)
    # Ed25519 signing keys (private key 0600). None: <storage.root>/keys.
    key_dir: Path | None = None

    @field_validator("tsa_urls")
    @classmethod
    def _http_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if urlsplit(url).scheme not in {"http", "https"}:
                raise ValueError(f"not an http(s) URL: {url!r}")
        return value


class DaemonSettings(_Section):
    inbox_poll_interval: Duration = 5.0
    # Capture new sources as they arrive (off: the daemon only takes in reports).
    capture: bool = True
    log_level: str = "INFO"

    @field_validator("inbox_poll_interval")
    @classmethod
    def _positive(cls, seconds: float) -> float:
        if seconds <= 0:
            raise ValueError("must be more than 0")
        return seconds

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
        return level


class Settings(_Section):
    storage: StorageSettings = StorageSettings()
    harvest: HarvestSettings = HarvestSettings()
    network: NetworkSettings = NetworkSettings()
    capture: CaptureSettings = CaptureSettings()
    check: CheckSettings = CheckSettings()
    integrity: IntegritySettings = IntegritySettings()
    daemon: DaemonSettings = DaemonSettings()

    @property
    def inbox_dir(self) -> Path:
        return self.storage.root / "inbox"

    @property
    def reports_dir(self) -> Path:
        return self.storage.root / "reports"

    @property
    def keys_dir(self) -> Path:
        return self.integrity.key_dir or self.storage.root / "keys"


def _env_overrides(environ: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Nested overrides from ARCHIVER_<SECTION>__<KEY>, plus where each came from."""
    overrides: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    sections = Settings.model_fields
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        rest = name[len(ENV_PREFIX) :]
        if "__" not in rest:
            raise ConfigError(f"environment variable {name}: expected ARCHIVER_<SECTION>__<KEY>")
        section, key = (part.lower() for part in rest.split("__", 1))
        model = sections.get(section)
        if model is None or model.annotation is None:
            raise ConfigError(f"environment variable {name}: unknown section [{section}]")
        if key not in model.annotation.model_fields:
            raise ConfigError(f"environment variable {name}: unknown setting {section}.{key}")
        overrides.setdefault(section, {})[key] = _parse_env_value(raw)
        origin[f"{section}.{key}"] = f"environment variable {name}"
    return overrides, origin


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML: {exc}") from exc


def load_settings(
    config_file: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build the settings once, from defaults, a TOML file and the environment."""
    env = os.environ if environ is None else environ
    path: Path | None = None
    if config_file:
        path = Path(config_file)
    elif env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV])
    elif DEFAULT_CONFIG_PATH.is_file():
        path = DEFAULT_CONFIG_PATH
    data: dict[str, Any] = _read_toml(path) if path else {}
    origin = {
        f"{section}.{key}": f"config file {path}"
        for section, values in data.items()
        if isinstance(values, dict)
        for key in values
    }
    overrides, env_origin = _env_overrides(env)
    origin.update(env_origin)
    for section, values in overrides.items():
        existing = data.get(section)
        data[section] = {**(existing if isinstance(existing, dict) else {}), **values}
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from exc


def _describe(exc: ValidationError, origin: Mapping[str, str]) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        source = origin.get(where, origin.get(where.split(".")[0], "configuration"))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown setting"
        problems.append(f"{where}: {message} (from {source})")
    return "invalid configuration: " + "; ".join(problems)
