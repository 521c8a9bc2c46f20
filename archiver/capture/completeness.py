"""What a snapshot lacks, and why (pure).

A browser capture promises a screenshot, the rendered DOM and a PDF; a platform step may
promise a video. When one is missing the snapshot still preserves what it holds, but it
must say what it does not: "preserved, video missing (HTTP Error 403)" and never
"preserved · the video plays". The reasons come from what the capture recorded: the
page's ``limits_hit`` lines and ``artefact_error`` events, and the platform step's media
status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# What a browser capture makes of a page it displayed.
BROWSER_ARTEFACTS = ("screenshot", "dom", "pdf")
# Words that name each artefact in a limits_hit line.
_NAMES = {"screenshot": ("screenshot",), "dom": ("dom",), "pdf": ("pdf",)}


def _reason_for(kind: str, limits_hit: Iterable[str], events: Iterable[Mapping[str, Any]]) -> str:
    for event in events:
        if event.get("type") == "artefact_error" and event.get("artefact") == kind:
            return f"the browser failed to make it: {event.get('message') or 'no message'}"
    for line in limits_hit:
        lowered = line.lower()
        if any(name in lowered for name in _NAMES[kind]):
            return line
    return "not made (no reason was recorded)"


def incomplete_parts(
    *,
    methods: Sequence[str],
    page_shown: bool,
    artefact_kinds: Iterable[str],
    limits_hit: Sequence[str] = (),
    events: Sequence[Mapping[str, Any]] = (),
    media: Mapping[str, Any] | None = None,
) -> list[dict[str, str]]:
    """``[{"artefact", "reason"}]`` for every part the capture should have made and did
    not; ``[]`` when the snapshot is complete.

    ``page_shown``: the browser displayed a document (a failed navigation makes no
    artefacts, and the snapshot says so as a failed capture instead). ``media``: the
    platform record's ``media`` section (status saved, failed, skipped or none)."""
    missing: list[dict[str, str]] = []
    have = set(artefact_kinds)
    if "browser" in methods and page_shown:
        for kind in BROWSER_ARTEFACTS:
            if kind not in have:
                missing.append({"artefact": kind, "reason": _reason_for(kind, limits_hit, events)})
    if media is not None and media.get("status") == "failed":
        missing.append(
            {"artefact": "video", "reason": str(media.get("error") or "the download failed")}
        )
    return missing


def describe(incomplete: Sequence[Mapping[str, Any]] | None) -> str:
    """For people: "complete", or "video missing (reason); pdf missing (reason)"."""
    if incomplete is None:
        return "not recorded"
    if not incomplete:
        return "complete"
    return "; ".join(f"{part['artefact']} missing ({part['reason']})" for part in incomplete)
