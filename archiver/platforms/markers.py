"""The platform markers (config/platform_markers.toml), loaded once.

Markers are data, not code: the phrases YouTube, Facebook and yt-dlp use in several
languages (English, Russian, Kazakh, ...) live in a TOML file an operator can extend.
Matching is a plain substring test on text folded by :func:`fold`.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archiver.errors import ConfigError

# ARCHIVER_PLATFORMS__MARKERS_FILE (the setting platforms.markers_file) names another file.
MARKERS_ENV = "ARCHIVER_PLATFORMS__MARKERS_FILE"
_FILENAME = "platform_markers.toml"
_REPO_CONFIG = Path(__file__).resolve().parents[2] / "config" / _FILENAME

_FOLD = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "\u00a0": " ", "\u202f": " "})


def fold(text: str) -> str:
    """Text as markers are compared: case-folded, apostrophes and spaces unified."""
    return " ".join(text.translate(_FOLD).casefold().split())


# The lists the recognisers read, per table: a misspelt list name would otherwise be
# silently ignored.
KNOWN_LISTS = {
    "youtube": frozenset({"bot_check", "private", "age", "geo", "members_only", "removed"}),
    "facebook": frozenset(
        {"temporarily_blocked", "checkpoint", "unsupported_browser", "unavailable", "login_wall"}
    ),
    "ytdlp": frozenset({"blocked", "restricted", "removed", "dead", "unreachable", "no_media"}),
}


@dataclass(frozen=True)
class PhraseList:
    """Named phrase lists, checked in the order given."""

    lists: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str) -> PhraseList:
        lists = []
        unknown = sorted(set(table) - KNOWN_LISTS[where])
        if unknown:
            known = ", ".join(sorted(KNOWN_LISTS[where]))
            raise ConfigError(
                f"platform markers: unknown list {where}.{unknown[0]} (known: {known})"
            )
        for name, phrases in table.items():
            if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
                raise ConfigError(f"platform markers: {where}.{name} must be a list of strings")
            lists.append((name, tuple(fold(p) for p in phrases if p.strip())))
        return cls(tuple(lists))

    def phrases(self, name: str) -> tuple[str, ...]:
        for key, phrases in self.lists:
            if key == name:
                return phrases
        return ()

    def first_match(self, folded_text: str, names: Iterable[str] | None = None) -> str | None:
        """The first list (in ``names`` order, else file order) with a phrase in the text."""
        order = list(names) if names is not None else [name for name, _ in self.lists]
        for name in order:
            if any(p in folded_text for p in self.phrases(name)):
                return name
        return None


@dataclass(frozen=True)
class Markers:
    youtube_reasons: PhraseList
    youtube_worldwide_countries_min: int
    facebook_text: PhraseList
    facebook_content: tuple[str, ...]
    facebook_login_paths: tuple[str, ...]
    facebook_checkpoint_paths: tuple[str, ...]
    ytdlp: PhraseList
    source: str


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ConfigError(f"platform markers {where}: missing table [{key}]")
    return value


def _strings(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"platform markers {where}: {key} must be a list of strings")
    return tuple(value)


def parse_markers(text: str, source: str = "<string>") -> Markers:
    """Markers from TOML text; a clear ConfigError names what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"platform markers {source}: not valid TOML: {exc}") from exc
    youtube = _table(data, "youtube", source)
    facebook = _table(data, "facebook", source)
    countries = youtube.get("worldwide_countries_min", 200)
    if not isinstance(countries, int) or countries < 1:
        raise ConfigError(f"platform markers {source}: worldwide_countries_min must be >= 1")
    return Markers(
        youtube_reasons=PhraseList.from_table(_table(youtube, "reasons", source), "youtube"),
        youtube_worldwide_countries_min=countries,
        facebook_text=PhraseList.from_table(_table(facebook, "text", source), "facebook"),
        facebook_content=_strings(facebook, "content_markers", source),
        facebook_login_paths=_strings(facebook, "login_paths", source),
        facebook_checkpoint_paths=_strings(facebook, "checkpoint_paths", source),
        ytdlp=PhraseList.from_table(_table(data, "ytdlp", source), "ytdlp"),
        source=source,
    )


def markers_path() -> Path:
    """The markers file: $ARCHIVER_PLATFORMS__MARKERS_FILE, else config/ of this checkout
    (or of the working directory, as in the container image)."""
    configured = os.environ.get(MARKERS_ENV)
    if configured:
        return Path(configured)
    if _REPO_CONFIG.is_file():
        return _REPO_CONFIG
    return Path("config") / _FILENAME


@functools.cache
def load_markers(path: Path | None = None) -> Markers:
    """Read and parse the markers once per process (per path)."""
    path = path or markers_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"platform markers: cannot read {path}: {exc}") from exc
    return parse_markers(text, str(path))
