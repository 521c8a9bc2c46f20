"""URL normalisation shared by the registry, the request log and the TLS layer.

Tests register URLs the way a report cites them (mixed-case hosts, Unicode hostnames, IRIs with
non-ASCII paths, default ports) while clients send them the way HTTP puts them on the wire
(lower-case punycode hosts, percent-encoded UTF-8, no default port). Both sides go through
:func:`normalize_url` so that an exact-match lookup still finds the page. Nothing else is
canonicalised (query order, percent-escape case, trailing slashes): the simulated web must be
as literal as a real server, or it would hide normalisation bugs in the archiver.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import quote, urlsplit, urlunsplit

import idna

DEFAULT_PORTS = {"http": 80, "https": 443}

# Characters that may appear unescaped in a path or a query (RFC 3986 pchar / query); "%" is
# kept so that existing escapes stay exactly as written.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


def normalize_host(host: str) -> str:
    """Lower-case ASCII form of a hostname: IDN labels become punycode (``xn--``), IPv6 literals
    lose their brackets. Raises ``ValueError`` for names that cannot be encoded."""
    host = host.strip().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ValueError("empty host")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if host.isascii():
        return host.lower()
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        # IDNA 2008 rejects some names browsers still accept (emoji, symbols); fall back to
        # the IDNA 2003 codec rather than refusing a test's host.
        return host.encode("idna").decode("ascii").lower()


def format_authority(host: str, port: int, scheme: str) -> str:
    """``host`` or ``host:port`` (port omitted when it is the scheme's default)."""
    shown = f"[{host}]" if ":" in host else host
    if DEFAULT_PORTS.get(scheme) == port:
        return shown
    return f"{shown}:{port}"


def split_authority(authority: str, default_port: int) -> tuple[str, int]:
    """Split ``host[:port]`` (IPv6 in brackets) into a normalised host and a port."""
    authority = authority.strip()
    if authority.startswith("["):
        end = authority.index("]")
        host, rest = authority[1:end], authority[end + 1 :]
        port = int(rest[1:]) if rest.startswith(":") and rest[1:] else default_port
        return normalize_host(host), port
    if authority.count(":") == 1:
        host, _, port_text = authority.partition(":")
        return normalize_host(host), int(port_text) if port_text else default_port
    return normalize_host(authority), default_port


def normalize_url(url: str) -> str:
    """The canonical absolute form used as registry key and in the request log.

    Scheme and host are lower-cased, IDN hosts punycoded, default ports dropped, an empty path
    becomes ``/``, non-ASCII characters in path and query are percent-encoded as UTF-8 (what
    browsers send), and the fragment is dropped (never sent on the wire)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"simulated web serves only http and https URLs, not {url!r}")
    if not parts.hostname:
        raise ValueError(f"URL has no host: {url!r}")
    host = normalize_host(parts.hostname)
    port = parts.port or DEFAULT_PORTS[scheme]
    path = quote(parts.path, safe=_PATH_SAFE) or "/"
    query = quote(parts.query, safe=_QUERY_SAFE)
    return urlunsplit((scheme, format_authority(host, port, scheme), path, query, ""))


def url_host(url: str) -> str:
    """The normalised host of an already normalised URL."""
    hostname = urlsplit(url).hostname
    if hostname is None:
        raise ValueError(f"URL has no host: {url!r}")
    return hostname


def other_scheme(url: str) -> str | None:
    """The same normalised URL over the other scheme (http <-> https); ``None`` when the URL
    names a non-default port, since a site on a custom port speaks only one scheme there."""
    parts = urlsplit(url)
    swapped = {"http": "https", "https": "http"}[parts.scheme]
    if parts.port is not None:
        return None
    return urlunsplit((swapped, parts.netloc, parts.path, parts.query, ""))
