"""Platform sources compared field by field: pure functions, no I/O.

A YouTube video is its title, description and duration; a Facebook post is its text.
The page around them (view counters, comments, recommendations, ads) changes on every
load and says nothing about the evidence, so for these sources the platform probe's
fields are compared with the same fields recorded by the capture of the baseline
snapshot (``platform_records.extracted``), instead of the page's main text.

Fields are compared after Unicode NFKC and whitespace normalisation only: digits are
kept (a post edited from "5 detained" to "50 detained" is altered), durations within a
second are the same. A field missing on either side is not compared (nothing known is
not a change).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from archiver.check import figures
from archiver.check import text as texts
from archiver.check.classify import (
    Baseline,
    ClassifyPolicy,
    NotFoundProfile,
    PlatformSeen,
    ProbeResult,
    Verdict,
    classify,
)
from archiver.check.signals import Signal

# The fields each platform probe reads, in the order a diff shows them.
FIELDS: dict[str, tuple[str, ...]] = {
    "youtube": ("title", "description", "duration"),
    "facebook": ("text",),
}
# Short fields are shown whole in a diff; long ones sentence by sentence.
_WHOLE = frozenset({"title", "duration"})
_DURATION_SLACK = 1.0


def baseline_fields(platform: str, extracted: Mapping[str, Any] | None) -> dict[str, Any]:
    """The comparable fields of a capture's ``platform_records.extracted``.

    YouTube: yt-dlp's own summary of the capture (``media``) when it has the field,
    as the probe reads it through yt-dlp too; else the watch page's player response."""
    if not extracted:
        return {}
    if platform == "youtube":
        media = extracted.get("media") or {}
        page = {
            "title": extracted.get("title"),
            "description": extracted.get("description"),
            "duration": extracted.get("duration_seconds"),
        }
        found = {k: media.get(k) if media.get(k) is not None else v for k, v in page.items()}
        return {k: v for k, v in found.items() if v is not None}
    if platform == "facebook":
        text = extracted.get("text")
        return {"text": text} if text else {}
    return {}


def _norm(value: Any) -> str:
    return " ".join(unicodedata.normalize("NFKC", str(value)).split())


def _same(name: str, before: Any, after: Any) -> bool:
    if name == "duration":
        try:
            return abs(float(before) - float(after)) <= _DURATION_SLACK
        except (TypeError, ValueError):
            pass
    return _norm(before) == _norm(after)


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _norm(value)


def field_diff(name: str, before: Any, after: Any) -> list[str]:
    """Readable lines: ``- title: old`` / ``+ title: new``; long texts by sentence."""
    if name in _WHOLE:
        return [f"- {name}: {_show(before)}", f"+ {name}: {_show(after)}"]
    lines = texts.changed_sentences(_norm(before), _norm(after))
    return [f"{line[:2]}{name}: {line[2:]}" if line[:2] in ("- ", "+ ") else line for line in lines]


def compare_fields(
    platform: str, baseline: Mapping[str, Any], seen: Mapping[str, Any]
) -> Verdict | None:
    """Altered when a compared field differs, live when all are the same; None when
    no field can be compared."""
    names = [
        n
        for n in FIELDS.get(platform, ())
        if baseline.get(n) is not None and seen.get(n) is not None
    ]
    if not names:
        return None
    changed = [n for n in names if not _same(n, baseline[n], seen[n])]
    before = " ".join(_norm(baseline[n]) for n in names)
    after = " ".join(_norm(seen[n]) for n in names)
    score = 1.0 if not changed else round(texts.similarity(before, after), 4)
    digest = texts.fingerprint(after)
    details: dict[str, object] = {"compared": names, "changed": changed, "by": "fields"}
    if not changed:
        reason = f"{platform}: {', '.join(names)} as in the baseline"
        return Verdict(Signal("live", reason), score, text_sha256=digest, details=details)
    diff: list[str] = []
    quoted: list[dict[str, object]] = []
    for name in changed:
        diff += field_diff(name, baseline[name], seen[name])
        if name not in _WHOLE:  # long texts: their changed figures, quoted as written
            quoted += [
                c.as_dict() for c in figures.changes(_norm(baseline[name]), _norm(seen[name]))
            ]
    if quoted:
        details["changes"] = quoted
    reason = f"{platform}: {', '.join(changed)} changed since the baseline"
    return Verdict(Signal("altered", reason), score, tuple(diff), digest, details=details)


def classify_platform(
    probe: ProbeResult,
    seen: PlatformSeen,
    baseline: Mapping[str, Any] | None,
    page_baseline: Baseline | None,
    not_found: NotFoundProfile | None,
    recognized: Signal | None,
    policy: ClassifyPolicy,
) -> Verdict:
    """The state a platform probe implies: the platform's own verdict first (a bot
    check is blocked, never removed), then everything the page alone says (status,
    login walls, soft 404s, the recogniser); a page that is there is live or altered by
    its fields. Without fields to compare, a page is compared by its main text with
    ``page_baseline`` as the HTTP probe does."""
    if seen.signal is not None and seen.signal.implied_state is not None:
        return Verdict(seen.signal)
    general = classify(probe, None, not_found, recognized, policy)
    if general.signal.implied_state != "live":
        return general
    compared = compare_fields(seen.platform, baseline or {}, seen.fields)
    if compared is None:
        if probe.html is not None:
            return classify(probe, page_baseline, not_found, recognized, policy)
        return general
    # The fields decide: the host's not-found page is not needed to judge them.
    return replace(compared, wants_not_found_profile=False)
