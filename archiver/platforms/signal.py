"""The platform's finer verdict, carried on the shared Signal type."""

from __future__ import annotations

from dataclasses import dataclass

from archiver.check.signals import Signal


@dataclass(frozen=True)
class PlatformSignal(Signal):
    """A :class:`Signal` (implied DESIGN state + reason) with the platform's own words
    for what was seen: ``detail`` is one of ``available``, ``live_now``,
    ``live_offline``, ``removed``, ``private``, ``age_restricted``, ``geo_blocked``,
    ``members_only``, ``login_wall``, ``login_required``, ``checkpoint``,
    ``temporarily_blocked``, ``bot_check``, ``content_unavailable``,
    ``unsupported_browser``, ``no_media``, ``network``, ``unknown``."""

    platform: str = ""
    detail: str = "unknown"
