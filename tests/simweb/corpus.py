"""Reading ../shared/corpus/manifest.json: real saved pages to serve under their original URLs.

The corpus pages are third-party content kept as test fixtures only (see the corpus README):
they are served to the archiver under test and never published or redistributed.

Some URLs were captured twice (a YouTube video before and after its removal, the same video
in old and new page markup). Serving one URL can only give one answer at a time, so the loader
picks the earliest capture by default, which is the natural "baseline"; a test then moves the
URL to the later capture with ``SimulatedWeb.serve_entry`` to script the change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"

Prefer = Literal["earliest", "latest"]


@dataclass(frozen=True)
class CorpusEntry:
    """One manifest entry, with the file path made absolute."""

    path: Path
    platform: str
    url: str | None
    http_status: int
    content_type: str
    state: str
    title: str | None
    sha256: str
    captured: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    def body(self) -> bytes:
        return self.path.read_bytes()


def _captured(item: Mapping[str, Any]) -> datetime | None:
    value = item.get("captured_at") or item.get("captured_no_later_than")
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def read_manifest(root: Path = DEFAULT_CORPUS) -> list[CorpusEntry]:
    """Every entry of ``root/manifest.json``, in manifest order."""
    items = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    return [
        CorpusEntry(
            path=root / item["path"],
            platform=item["platform"],
            url=item.get("original_url"),
            http_status=int(item.get("http_status") or 200),
            content_type=item.get("content_type") or "text/html; charset=utf-8",
            state=item["state"],
            title=item.get("title"),
            sha256=item["sha256"],
            captured=_captured(item),
            raw=item,
        )
        for item in items
    ]


def pick_per_url(entries: Iterable[CorpusEntry], prefer: Prefer = "earliest") -> list[CorpusEntry]:
    """One entry per distinct URL (entries without a URL are skipped), in manifest order of
    the URLs' first appearance; where a URL has several captures, the earliest or latest."""
    chosen: dict[str, CorpusEntry] = {}
    for entry in entries:
        if entry.url is None:
            continue
        current = chosen.get(entry.url)
        if current is None or _better(entry, current, prefer):
            chosen[entry.url] = entry
    return list(chosen.values())


def _better(candidate: CorpusEntry, current: CorpusEntry, prefer: Prefer) -> bool:
    if candidate.captured is None or current.captured is None:
        return False
    if prefer == "earliest":
        return candidate.captured < current.captured
    return candidate.captured > current.captured
