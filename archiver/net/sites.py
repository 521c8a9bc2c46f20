"""Which host names belong together.

Two heuristics, not the Public Suffix List:

- :func:`site_of_host`: the last two labels of the host name, three where the
  second-level label is short under a country code (``bbc.co.uk``,
  ``tengrinews.com.kz``). Tells unrelated sites apart (the re-check's outage guard);
  it may join two sites under an unusual suffix, which costs nothing there.
- :func:`alias_group`: the host without a ``www.``, ``m.`` or ``mobile.`` prefix, so a
  site's own aliases (the usual redirects: to ``www.``, to the mobile site) go together
  while its other subdomains (``news.``, ``sport.``, blogs on a shared domain) stay
  apart. Capture workers are given whole alias groups.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_ALIAS_PREFIXES = ("www.", "m.", "mobile.")


def site_of_host(host: str) -> str:
    parts = host.lower().rstrip(".").split(".")
    keep = 3 if len(parts) >= 3 and len(parts[-2]) <= 3 and len(parts[-1]) == 2 else 2
    return ".".join(parts[-keep:])


def alias_group(host: str) -> str:
    host = host.lower().rstrip(".")
    for prefix in _ALIAS_PREFIXES:
        if host.startswith(prefix):
            return host[len(prefix) :]
    return host


def alias_group_of_url(url: str) -> str:
    """:func:`alias_group` of ``url``'s host ("" for a URL without one)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return alias_group(host)
