"""Value types produced by harvesting. Immutable and free of I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Format(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    HTML = "html"
    PDF = "pdf"
    DOCX = "docx"


@dataclass(frozen=True, slots=True)
class UrlMatch:
    """A URL found in running text: ``text[start:end]`` is the URL exactly as written."""

    start: int
    end: int
    url: str


@dataclass(frozen=True, slots=True)
class FoundCitation:
    """One citing occurrence of a URL in a report.

    ``marker`` is the footnote number as written ("12"), or None for an inline link or a
    bare URL. ``url`` is the URL as cited (cleaned of surrounding punctuation, otherwise
    untouched). ``context`` is the sentence or paragraph that makes the claim.
    ``position`` orders citations within the report (0, 1, 2, ...).
    """

    marker: str | None
    url: str
    context: str
    position: int


@dataclass(frozen=True, slots=True)
class SkippedLink:
    """A link that was seen but not kept, and why ("scheme:mailto", "too-long", ...)."""

    url: str
    reason: str


@dataclass(frozen=True, slots=True)
class HarvestResult:
    format: Format
    title: str | None
    citations: tuple[FoundCitation, ...]
    skipped: tuple[SkippedLink, ...] = ()
    warnings: tuple[str, ...] = ()
    encoding: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
