"""Settings: one typed, frozen object, loaded once at start.

Layers, later wins:
  1. defaults in the section classes (archiver/_settings_sections.py;
     config/archiver.toml documents the same values, a test keeps the two identical);
  2. a TOML file: ``--config FILE``, else ``$ARCHIVER_CONFIG``, else
     ``./config/archiver.toml`` when it exists;
  3. environment variables ``ARCHIVER_<SECTION>__<KEY>`` (values parsed as TOML when
     they parse, e.g. ``true``, ``5``, ``["a", "b"]``; otherwise taken as strings).

Every problem is reported as one :class:`ConfigError` naming the setting and where the
bad value came from, before anything else starts.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from archiver._settings_sections import (
    CaptureSettings,
    CheckSettings,
    CredentialUrl,
    DaemonSettings,
    Duration,
    HarvestSettings,
    IntegritySettings,
    NetworkSettings,
    NotifySettings,
    PlatformsSettings,
    Secret,
    StorageSettings,
    WebSettings,
    WitnessSettings,
    _Section,
    parse_duration,
)
from archiver.errors import ConfigError

ENV_PREFIX = "ARCHIVER_"
CONFIG_ENV = "ARCHIVER_CONFIG"
DEFAULT_CONFIG_PATH = Path("config") / "archiver.toml"

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "ENV_PREFIX",
    "CaptureSettings",
    "CheckSettings",
    "CredentialUrl",
    "DaemonSettings",
    "Duration",
    "HarvestSettings",
    "IntegritySettings",
    "NetworkSettings",
    "NotifySettings",
    "PlatformsSettings",
    "Secret",
    "Settings",
    "StorageSettings",
    "WebSettings",
    "WitnessSettings",
    "load_settings",
    "parse_duration",
]


class Settings(_Section):
    storage: StorageSettings = StorageSettings()
    harvest: HarvestSettings = HarvestSettings()
    network: NetworkSettings = NetworkSettings()
    capture: CaptureSettings = CaptureSettings()
    check: CheckSettings = CheckSettings()
    integrity: IntegritySettings = IntegritySettings()
    daemon: DaemonSettings = DaemonSettings()
    platforms: PlatformsSettings = PlatformsSettings()
    notify: NotifySettings = NotifySettings()
    web: WebSettings = WebSettings()
    witnesses: WitnessSettings = WitnessSettings()

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
