from __future__ import annotations

import pytest

from archiver.net.guard import forbidden_reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback address"),
        ("127.8.9.10", "loopback address"),
        ("::1", "loopback address"),
        ("::ffff:127.0.0.1", "loopback address"),
        ("10.1.2.3", "private network address"),
        ("172.16.0.1", "private network address"),
        ("172.31.255.255", "private network address"),
        ("192.168.1.1", "private network address"),
        ("100.64.0.1", "private network address"),
        ("fc00::1", "private network address"),
        ("169.254.169.254", "cloud metadata address"),
        ("fd00:ec2::254", "cloud metadata address"),
        ("100.100.100.200", "cloud metadata address"),
        ("169.254.1.1", "link-local address"),
        ("fe80::1%eth0", "link-local address"),
        ("0.0.0.0", "private network address"),
        ("224.0.0.1", "reserved address"),
        ("not-an-ip", "not an IP address"),
    ],
)
def test_forbidden(address: str, reason: str) -> None:
    assert forbidden_reason(address) == reason


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "95.56.1.1", "2a00:1450:4001:80b::200e", "172.32.0.1"]
)
def test_public_allowed(address: str) -> None:
    assert forbidden_reason(address) is None
