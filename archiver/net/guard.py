"""The address guard: which destinations an outgoing request may go to.

A report URL, a feed's links, a cited source or a page's subresources are chosen by
whoever wrote them; any of them can point at the archiver's own network (a router's
admin page, a database's HTTP port, a cloud metadata service). Unless
``network.allow_private_networks`` is set, such destinations are refused, by one set of
rules used by every path that makes a request for a URL it did not choose itself:
report and feed fetching (:mod:`archiver.harvest.fetch`), capture and checks and the
browser's requests (:mod:`archiver.net.backend`), yt-dlp (:mod:`archiver.capture.media`).

The rules (docs/security.md):

1. An IP address written in the URL, in any spelling a resolver or proxy accepts
   (``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``, ``[::ffff:127.0.0.1]``, a
   trailing dot), is judged by :func:`forbidden_reason`; a host that ends in a number but
   is no valid address is refused through a proxy (the proxy might read it otherwise).
2. Without a proxy, names are resolved here and every answer judged (the capture
   backend then connects to the checked address only).
3. Through a proxy, the proxy resolves names, so names that mean this machine or the
   local network by definition are refused (:func:`local_name_reason`); with
   ``network.resolve_before_proxy`` every name is also resolved here first and refused
   when any answer is forbidden.

Decisions are pure functions; reading /etc/hosts and resolving are the only I/O here.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from archiver.errors import FetchError

if TYPE_CHECKING:
    from archiver.config import NetworkSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOW_HINT = "set network.allow_private_networks = true to allow it"
HOSTS_FILE = Path("/etc/hosts")

# Cloud metadata services answer on link-local or well-known addresses; named explicitly
# so the refusal message says why.
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("169.254.170.2"),
    ipaddress.ip_address("100.100.100.200"),
    ipaddress.ip_address("fd00:ec2::254"),
}
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT
# IPv6 prefixes that carry an IPv4 address in their last 32 bits: IPv4-compatible
# (deprecated), SIIT IPv4-translated, NAT64 well-known prefix.
_EMBEDDING = (
    ipaddress.ip_network("::/96"),
    ipaddress.ip_network("::ffff:0:0:0/96"),
    ipaddress.ip_network("64:ff9b::/96"),
)

# Names for this machine (RFC 6761) and suffixes that never leave a local network:
# .local (mDNS, RFC 6762), .internal (ICANN, 2024), .home.arpa (RFC 8375), and the
# undelegated names RFC 6762 appendix G lists as in private use.
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain")
_PRIVATE_SUFFIXES = (
    "localhost",
    "local",
    "internal",
    "localdomain",
    "home.arpa",
    "intranet",
    "private",
    "corp",
    "home",
    "lan",
)


class MalformedAddressError(ValueError):
    """The host ends in a number but is no valid IP address."""


def normalize_host(host: str) -> str:
    """Lower case, without IPv6 brackets, zone id or one trailing dot."""
    value = host.strip().lower()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    if ":" in value:
        return value.split("%", 1)[0]
    return value[:-1] if value.endswith(".") else value


def _ipv4_number(part: str) -> int:
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part[1:], 8)
    if not part.isdigit():
        raise ValueError(part)
    return int(part)


def _ends_in_number(labels: list[str]) -> bool:
    last = labels[-1]
    if last.isdigit():
        return True
    return last.startswith("0x") and all(c in "0123456789abcdef" for c in last[2:])


def literal_address(host: str) -> IPAddress | None:
    """The IP address ``host`` spells, in any form a resolver accepts, or None for a
    name. IPv4 follows inet_aton and the WHATWG URL standard: 1 to 4 parts, each
    decimal, octal (leading 0) or hexadecimal (0x), the last filling the remaining
    bytes. Raises :class:`MalformedAddressError` for a host that ends in a number but is
    no address (``1.2.3.999``, ``0x7g.1``, five parts)."""
    value = normalize_host(host)
    if not value:
        return None
    if ":" in value:
        try:
            return ipaddress.IPv6Address(value)
        except ValueError as exc:
            raise MalformedAddressError(host) from exc
    labels = value.split(".")
    if not _ends_in_number(labels):
        return None
    try:
        numbers = [_ipv4_number(label) for label in labels]
    except ValueError as exc:
        raise MalformedAddressError(host) from exc
    if len(numbers) > 4 or any(n > 255 for n in numbers[:-1]):
        raise MalformedAddressError(host)
    if numbers[-1] >= 256 ** (5 - len(numbers)):
        raise MalformedAddressError(host)
    total = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        total += number << (8 * (3 - index))
    return ipaddress.IPv4Address(total)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if int(ip) > 1 and any(ip in net for net in _EMBEDDING):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_reason(ip: IPAddress) -> str | None:
    """Why connecting to this address is refused, or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return address_reason(embedded)
    if ip in _METADATA:
        return "cloud metadata address"
    if ip.is_loopback:
        return "loopback address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_private or ip in _SHARED:
        return "private network address"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return "reserved address"
    return None


def forbidden_reason(address: str) -> str | None:
    """Why connecting to this IP address (a resolver's answer, plain notation) is
    refused, or None when it is public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    return address_reason(ip)


def refusal_message(host: str, address: str, reason: str) -> str:
    """``refusing <host> [at <address>] (<reason>); <how to allow it>``."""
    named = address if normalize_host(host) == address else f"{host} at {address}"
    return f"refusing {named} ({reason}); {ALLOW_HINT}"


def literal_refusal(host: str, *, proxied: bool) -> str | None:
    """The refusal for a host that is an IP address in any spelling (rule 1)."""
    try:
        ip = literal_address(host)
    except MalformedAddressError:
        if not proxied:
            return None  # the local resolver refuses it or answers an address we check
        return f"refusing {host} (ends in a number but is no valid IP address); {ALLOW_HINT}"
    if ip is None:
        return None
    reason = address_reason(ip)
    return None if reason is None else refusal_message(host, str(ip), reason)


# -- names ---------------------------------------------------------------------------------

_hosts_lock = threading.Lock()
_hosts_cache: dict[Path, tuple[tuple[int, int], dict[str, str]]] = {}


def parse_hosts(text: str) -> dict[str, str]:
    """Each name of a hosts file with its first address (lower case)."""
    names: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        for name in fields[1:]:
            names.setdefault(normalize_host(name), fields[0])
    return names


def hosts_entries(path: Path | None = None) -> dict[str, str]:
    """The names of ``path`` (default /etc/hosts; re-read when it changes; empty when
    unreadable)."""
    path = path or HOSTS_FILE
    try:
        stat = os.stat(path)
    except OSError:
        return {}
    key = (stat.st_mtime_ns, stat.st_size)
    with _hosts_lock:
        cached = _hosts_cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
    try:
        entries = parse_hosts(path.read_text("utf-8", errors="replace"))
    except OSError:
        return {}
    with _hosts_lock:
        _hosts_cache[path] = (key, entries)
    return entries


def local_name_reason(host: str, hosts: dict[str, str] | None = None) -> str | None:
    """Why a name is refused through a proxy: it means this machine or the local
    network whatever the proxy's resolver says (rule 3). None for other names."""
    name = normalize_host(host)
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return "a name for this machine"
    if any(c in name for c in "%\\ \t\r\n"):
        return "not a valid host name"
    if "." not in name:
        return "a single-label name, resolved on the local network"
    for suffix in _PRIVATE_SUFFIXES:
        if name.endswith("." + suffix):
            return f"a .{suffix} name, resolved on the local network"
    address = (hosts if hosts is not None else hosts_entries()).get(name)
    if address is not None:
        reason = forbidden_reason(address)
        if reason is not None:
            return f"listed in /etc/hosts as {address}, a {reason}"
    return None


def destination_refusal(
    host: str, *, proxied: bool, hosts: dict[str, str] | None = None
) -> str | None:
    """The pure part of the guard: the refusal message for ``host``, or None when
    nothing is known against it before resolution."""
    refusal = literal_refusal(host, proxied=proxied)
    if refusal is not None or not proxied:
        return refusal
    try:
        if literal_address(host) is not None:
            return None  # a public address
    except MalformedAddressError:  # pragma: no cover - refused by literal_refusal
        return None
    reason = local_name_reason(host, hosts)
    if reason is None:
        return None
    return (
        f"refusing {host} ({reason}; through network.proxy names are resolved by the "
        f"proxy, so such names are never sent to it); {ALLOW_HINT}"
    )


def resolves_locally(host: str) -> bool:
    """False for names no DNS server answers for (.onion: the proxy, Tor, handles them)."""
    return not normalize_host(host).endswith(".onion")


def answers_refusal(host: str, answers: list[str], *, proxied: bool) -> str | None:
    """The refusal for a name whose resolver answers include a forbidden address.
    Direct connections can skip such answers (the capture backend connects only to a
    checked one), so this refuses when any answer is forbidden."""
    for address in answers:
        reason = forbidden_reason(address)
        if reason is not None:
            where = " (network.resolve_before_proxy)" if proxied else ""
            return f"refusing {host} at {address} ({reason}){where}; {ALLOW_HINT}"
    return None


# -- with resolution (blocking) ------------------------------------------------------------


def check_host(host: str, port: int, *, proxied: bool = False) -> None:
    """Resolve ``host`` and refuse it if any answer is a forbidden address."""
    try:
        infos = socket.getaddrinfo(normalize_host(host), port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        local = " here (network.resolve_before_proxy is on)" if proxied else ""
        raise FetchError(f"cannot resolve {host}{local}: {exc.strerror}") from exc
    refusal = answers_refusal(host, [str(info[4][0]) for info in infos], proxied=proxied)
    if refusal is not None:
        raise FetchError(refusal)


def check_destination(host: str, port: int, network: NetworkSettings) -> None:
    """The whole guard for a client that connects by itself (yt-dlp): raises
    :class:`FetchError` when ``host`` is refused under ``network``'s settings."""
    if network.allow_private_networks:
        return
    proxied = bool(network.proxy)
    refusal = destination_refusal(host, proxied=proxied)
    if refusal is not None:
        raise FetchError(refusal)
    try:
        if literal_address(host) is not None:
            return  # a public address
    except MalformedAddressError:
        pass  # direct: the resolver refuses it, or answers an address checked below
    if not proxied:
        check_host(host, port)
    elif network.resolve_before_proxy and resolves_locally(host):
        check_host(host, port, proxied=True)
