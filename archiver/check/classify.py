"""What one probe says about a source: pure classification, no I/O.

Inputs are plain values: the probe's outcome (status, final URL, failure, page text),
the source's baseline (main text of its first good snapshot), the host's not-found
profile (what a URL that cannot exist answers there) and the platform recogniser's
verdict. The result is a :class:`Verdict`: the implied state and why, the similarity to
the baseline, the changed sentences and the changed figures.

A page that is there is **altered** when its main text's similarity to the baseline's
is below ``min_similarity``, *or* when a number, date or name in the main text was
added, removed or replaced (:mod:`archiver.check.figures`); otherwise live.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from archiver.capture.exchange import FailureKind
from archiver.check import figures
from archiver.check import text as texts
from archiver.check.signals import Signal, signal_from_response
from archiver.net.sites import alias_group

# The platforms module's contract (HELPERS.md): None when nothing platform-specific.
Recognizer = Callable[[str, str, "int | None", str], "Signal | None"]

_HOME_PATHS = frozenset({"", "/", "/index.html", "/index.php", "/home", "/en", "/ru", "/kz"})
_LOGIN_PATH = re.compile(
    r"(^|/)(login|log-in|signin|sign-in|sign_in|auth|accounts/login|checkpoint|"
    r"login\.php|uas/login|session/new)(/|$|\.|\?)",
    re.IGNORECASE,
)
_PASSWORD_FIELD = re.compile(r"<input[^>]+type\s*=\s*[\"']?password", re.IGNORECASE)
# Above this similarity to the host's not-found page, a page *is* that page.
_NOT_FOUND_MATCH = 0.9


def no_recognizer(url: str, final_url: str, status: int | None, html: str) -> Signal | None:
    """The default recogniser: nothing platform-specific is known."""
    return None


@dataclass(frozen=True)
class PlatformSeen:
    """What a platform probe read (archiver.check.fields): ``signal`` is the platform's
    own verdict when it has one (a yt-dlp error: removed, private, bot check),
    ``fields`` the content (title, description, duration; a post's text)."""

    platform: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    signal: Signal | None = None


@dataclass(frozen=True)
class ProbeResult:
    url: str
    final_url: str | None
    status: int | None
    failure: FailureKind | None
    failure_message: str | None = None
    redirects: tuple[str, ...] = ()
    content_type: str | None = None
    # The main document decoded to text (size-limited), when it is HTML or text.
    html: str | None = None
    # sha256 of the main payload as received (content coding kept): equal to the
    # baseline snapshot's payload_sha256 means byte-identical, no extraction needed.
    payload_sha256: str | None = None
    # Set by a platform probe (YouTube through yt-dlp, Facebook's post text).
    platform: PlatformSeen | None = None


@dataclass(frozen=True)
class Baseline:
    snapshot_id: str
    normalized_text: str
    payload_sha256: str | None
    final_url: str | None
    # The main text in literal form (figures kept) and its form (text.ARTICLE_FORM or
    # text.PAGE_FORM); None when it could not be read (figures are then not compared).
    main_text: str | None = None
    text_form: str | None = None


@dataclass(frozen=True)
class NotFoundProfile:
    """How a host answers a URL that cannot exist."""

    host: str
    status: int | None
    final_url: str | None
    normalized_text: str

    @property
    def soft(self) -> bool:
        """True when the host answers unknown URLs with 2xx (a soft 404)."""
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class ClassifyPolicy:
    # At or above: the same content (small edits such as a typo fix). Below: altered.
    min_similarity: float = 0.9


@dataclass(frozen=True)
class Verdict:
    signal: Signal
    similarity: float | None = None
    diff: tuple[str, ...] = ()
    text_sha256: str | None = None
    # The host's not-found profile would decide this case and none was given.
    wants_not_found_profile: bool = False
    details: dict[str, object] = field(default_factory=dict)


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().rstrip(".")


def _path(url: str) -> str:
    return urlsplit(url).path.rstrip("/")


def is_home_page(url: str, final_url: str) -> bool:
    """``final_url`` is the home page of ``url``'s site, and ``url`` was not."""
    if alias_group(host_of(url)) != alias_group(host_of(final_url)):
        return False
    final = urlsplit(final_url)
    return final.path.rstrip("/").lower() in _HOME_PATHS and _path(url).lower() not in _HOME_PATHS


def is_login_page(final_url: str, html: str | None) -> bool:
    parts = urlsplit(final_url)
    if _LOGIN_PATH.search(parts.path) or "login" in parts.query.lower():
        return True
    return html is not None and bool(_PASSWORD_FIELD.search(html))


def same_document(url: str, final_url: str) -> bool:
    """The redirect only normalised the address (scheme, www, trailing slash)."""
    a, b = urlsplit(url), urlsplit(final_url)
    return (
        alias_group(host_of(url)) == alias_group(host_of(final_url))
        and a.path.rstrip("/") == b.path.rstrip("/")
        and a.query == b.query
    )


def classify(
    probe: ProbeResult,
    baseline: Baseline | None,
    not_found: NotFoundProfile | None,
    platform: Signal | None,
    policy: ClassifyPolicy,
) -> Verdict:
    """The state one probe implies (see the module docstring)."""
    if probe.failure is not None:
        return Verdict(signal_from_response(None, probe.failure))
    if platform is not None and platform.implied_state is not None:
        return Verdict(platform)
    status = probe.status
    if status is None or not 200 <= status < 300:
        return Verdict(signal_from_response(status, None))
    final = probe.final_url or probe.url
    redirected = not same_document(probe.url, final)
    if redirected and is_login_page(final, probe.html):
        return Verdict(Signal("restricted", f"redirected to a login page: {final}"))
    if redirected and is_home_page(probe.url, final):
        return Verdict(Signal("redirected", f"redirected to the site's home page: {final}"))
    if (
        redirected
        and not_found is not None
        and not_found.final_url is not None
        and not same_document(not_found.final_url, _origin_root(not_found.final_url))
        and same_document(final, not_found.final_url)
    ):
        return Verdict(Signal("removed", f"redirected where the host sends unknown URLs: {final}"))
    if (
        baseline is not None
        and baseline.payload_sha256 is not None
        and probe.payload_sha256 == baseline.payload_sha256
    ):
        return Verdict(Signal("live", f"HTTP {status}, identical to the baseline"), 1.0)
    soft_host = not_found is not None and not_found.soft
    if baseline is None and not soft_host:
        # Nothing to compare with, and unknown URLs of this host answer with an error
        # status: a 2xx here is the page itself (no text extraction needed).
        reason = f"HTTP {status}" + (f" via redirect to {final}" if redirected else "")
        return Verdict(Signal("live", reason), wants_not_found_profile=not_found is None)
    seen = texts.extract(probe.html or "")
    normalized = seen.normalized
    digest = texts.fingerprint(normalized)
    if not_found is not None and not_found.soft and not_found.normalized_text:
        score = texts.similarity(normalized, not_found.normalized_text)
        if score >= _NOT_FOUND_MATCH:
            return Verdict(
                Signal("removed", f"HTTP {status} with the host's not-found page (soft 404)"),
                text_sha256=digest,
                details={"not_found_similarity": round(score, 4)},
            )
    if baseline is None:
        reason = f"HTTP {status}" + (f" via redirect to {final}" if redirected else "")
        return Verdict(
            Signal("live", reason), text_sha256=digest, wants_not_found_profile=not_found is None
        )
    return _compare(probe, baseline, seen, not_found, policy)


def _compare(
    probe: ProbeResult,
    baseline: Baseline,
    seen: texts.Extracted,
    not_found: NotFoundProfile | None,
    policy: ClassifyPolicy,
) -> Verdict:
    """A page that is there, against its baseline: similarity (digits and date words
    masked) and the figures of the main text (kept)."""
    status = probe.status
    final = probe.final_url or probe.url
    normalized = seen.normalized
    digest = texts.fingerprint(normalized)
    score = texts.similarity(baseline.normalized_text, normalized)
    # Figures are compared like with like: article text on both sides, literal form.
    compared = (
        baseline.main_text is not None and baseline.text_form == texts.ARTICLE_FORM and seen.article
    )
    found = figures.changes(baseline.main_text or "", seen.text) if compared else []
    details: dict[str, object] = {"figures_compared": compared}
    if found:
        details["changes"] = [c.as_dict() for c in found]
    if score >= policy.min_similarity and not found:
        reason = f"HTTP {status}, main text matches the baseline ({score:.3f})"
        if not compared:
            reason += f"; numbers and names not compared ({_why_not(baseline)})"
        return Verdict(Signal("live", reason), score, text_sha256=digest, details=details)
    # The content differs: first rule out the host's own not-found and login pages.
    wants_profile = not_found is None
    if score < policy.min_similarity and is_login_page(final, probe.html):
        return Verdict(
            Signal("restricted", "a login form instead of the content"),
            score,
            text_sha256=digest,
            details=details,
        )
    if baseline.main_text is not None:  # the diff quotes the real text
        diff = tuple(texts.changed_sentences(baseline.main_text, seen.text))
    else:
        diff = tuple(texts.changed_sentences(baseline.normalized_text, normalized))
    if score < policy.min_similarity and not same_document(probe.url, final):
        signal = Signal("redirected", f"redirected to another page: {final} ({score:.3f})")
    elif score < policy.min_similarity:
        reason = f"main text differs from the baseline ({score:.3f})"
        signal = Signal("altered", reason + (f"; {figures.describe(found)}" if found else ""))
    else:
        signal = Signal("altered", f"{figures.describe(found)} (similarity {score:.3f})")
    return Verdict(signal, score, diff, digest, wants_profile, details)


def _why_not(baseline: Baseline) -> str:
    if baseline.main_text is None:
        return "the baseline's text could not be read again"
    if baseline.text_form != texts.ARTICLE_FORM:
        return "no article text in the baseline"
    return "no article text in the page"


def _origin_root(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"
