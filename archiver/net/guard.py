"""Refusing private, loopback, link-local and cloud-metadata addresses.

A report URL or a cited link can point at the archiver's own network (a router's admin
page, a cloud metadata service). Unless ``network.allow_private_networks`` is set, such
destinations are refused. The decision on an address is a pure function; resolution is
the only I/O here.
"""

from __future__ import annotations

import ipaddress
import socket

from archiver.errors import FetchError

# Cloud metadata services answer on link-local or well-known addresses; named explicitly
# so the refusal message says why.
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("169.254.170.2"),
    ipaddress.ip_address("100.100.100.200"),
    ipaddress.ip_address("fd00:ec2::254"),
}


def forbidden_reason(address: str) -> str | None:
    """Why connecting to this IP address is refused, or None when it is public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA:
        return "cloud metadata address"
    if ip.is_loopback:
        return "loopback address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_private or ip in ipaddress.ip_network("100.64.0.0/10"):
        return "private network address"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return "reserved address"
    return None


def check_host(host: str, port: int) -> None:
    """Resolve ``host`` and refuse it if any answer is a forbidden address."""
    try:
        answers = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror}") from exc
    for *_, sockaddr in answers:
        reason = forbidden_reason(str(sockaddr[0]))
        if reason:
            raise FetchError(
                f"refusing {host} ({sockaddr[0]}): {reason}; "
                "set network.allow_private_networks = true to allow it"
            )
