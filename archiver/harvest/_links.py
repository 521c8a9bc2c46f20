"""Deciding which links are kept: vetting, relative-link resolution, skip bookkeeping."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from archiver.harvest.model import SkippedLink
from archiver.harvest.urls import clean_href, vet_url

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_QUIET_REASONS = ("scheme:", "relative", "navigation")
_SHOWN = 100


def _shorten(url: str) -> str:
    return url if len(url) <= _SHOWN else f"{url[:_SHOWN]}… ({len(url)} characters)"


class LinkVetter:
    """Collects kept/skipped decisions for one report.

    ``keep`` asks :func:`archiver.harvest.urls.vet_url`; a refused link is recorded once in
    ``skipped`` (deduplicated by URL and reason), and unusual refusals ("too-long",
    "invalid", ...) also produce a one-line warning, since they may hide a real source.
    """

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = base_url
        self.skipped: list[SkippedLink] = []
        self.warnings: list[str] = []
        self._seen: set[tuple[str, str]] = set()
        self._verdicts: dict[str, str | None] = {}

    def skip(self, url: str, reason: str) -> None:
        if (url, reason) in self._seen:
            return
        self._seen.add((url, reason))
        self.skipped.append(SkippedLink(url=url, reason=reason))
        if not reason.startswith(_QUIET_REASONS):
            self.warnings.append(f"skipped a link ({reason}): {_shorten(url)}")

    def keep(self, url: str) -> bool:
        """True if ``url`` (an absolute URL as cited) is to be cited."""
        if url not in self._verdicts:
            self._verdicts[url] = vet_url(url)
        reason = self._verdicts[url]
        if reason is None:
            return True
        self.skip(url, reason)
        return False

    def resolve(self, href: str, base: str | None = None) -> str | None:
        """An ``href`` as written in a document, made absolute and vetted; None if not kept.

        Fragment-only links (``#top``) are in-document navigation and vanish silently.
        Relative links are resolved against ``base`` (or the vetter's ``base_url``); with no
        base they are skipped as "relative". A protocol-relative ``//host/path`` without a
        base is taken as https.
        """
        href = clean_href(href)
        if not href or href.startswith("#"):
            return None
        base = base or self.base_url
        if not _SCHEME_RE.match(href):
            if base:
                try:
                    href = urljoin(base, href)
                except ValueError:
                    self.skip(href, "invalid")
                    return None
            elif href.startswith("//"):
                href = "https:" + href
            else:
                self.skip(href, "relative")
                return None
        return href if self.keep(href) else None


def resolve_base(base_href: str | None, base_url: str | None) -> str | None:
    """The effective base of an HTML page: ``<base href>`` (itself resolved) or ``base_url``."""
    if base_href:
        base_href = clean_href(base_href)
        if base_url:
            try:
                return urljoin(base_url, base_href)
            except ValueError:
                return base_url
        if urlsplit(base_href).scheme in ("http", "https"):
            return base_href
    return base_url
