from __future__ import annotations

import socket
from pathlib import Path

import pytest

from archiver.config import NetworkSettings
from archiver.errors import FetchError
from archiver.net import guard
from archiver.net.guard import (
    MalformedAddressError,
    address_reason,
    answers_refusal,
    check_destination,
    destination_refusal,
    forbidden_reason,
    hosts_entries,
    literal_address,
    literal_refusal,
    local_name_reason,
    parse_hosts,
)


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


# -- IP literals in every spelling ---------------------------------------------------------

LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "2130706433",  # decimal
    "0177.0.0.1",  # octal
    "0x7f.1",  # hex, short
    "0x7F000001",
    "127.1",  # short
    "127.0.1",
    "0177.1",
    "127.0.0.1.",  # trailing dot
    "[::1]",
    "::ffff:127.0.0.1",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "::127.0.0.1",  # IPv4-compatible
    "64:ff9b::127.0.0.1",  # NAT64
    "2002:7f00:1::",  # 6to4
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_loopback_in_every_spelling(host: str) -> None:
    ip = literal_address(host)
    assert ip is not None
    assert address_reason(ip) == "loopback address"
    for proxied in (False, True):
        message = literal_refusal(host, proxied=proxied)
        assert message is not None
        assert "(loopback address)" in message
        assert message.endswith("set network.allow_private_networks = true to allow it")


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("0xa9fea9fe", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("169.254.43518", "169.254.169.254"),
        ("10.1", "10.0.0.1"),
        ("012.0.0.1", "10.0.0.1"),
        ("0xc0.0xa8.1.1", "192.168.1.1"),
        ("0", "0.0.0.0"),
        ("8.8.8.8.", "8.8.8.8"),
        ("134744072", "8.8.8.8"),
        ("[fe80::1%25eth0]", "fe80::1"),
    ],
)
def test_literal_spellings_decode(host: str, address: str) -> None:
    assert str(literal_address(host)) == address


def test_refusal_names_the_spelling_and_the_address() -> None:
    assert literal_refusal("0xa9fea9fe", proxied=True) == (
        "refusing 0xa9fea9fe at 169.254.169.254 (cloud metadata address); "
        "set network.allow_private_networks = true to allow it"
    )
    assert literal_refusal("10.0.0.5", proxied=True) == (
        "refusing 10.0.0.5 (private network address); "
        "set network.allow_private_networks = true to allow it"
    )


@pytest.mark.parametrize(
    "host", ["news.example", "rus.azattyq.org", "8.8.8.8", "134744072", "[2a00:1450::1]", "x1.kz"]
)
def test_names_and_public_addresses_pass_literal_rule(host: str) -> None:
    assert literal_refusal(host, proxied=True) is None


@pytest.mark.parametrize(
    "host", ["1.2.3.999", "1.2.3.4.5", "0x7g.1", "08.0.0.1", "256.1", "example.123", "[::zz]"]
)
def test_malformed_numeric_hosts(host: str) -> None:
    with pytest.raises(MalformedAddressError):
        literal_address(host)
    # Through a proxy it is refused (the proxy might read it as an address); directly the
    # local resolver decides, and its answer is checked.
    message = literal_refusal(host, proxied=True)
    assert message is not None and "no valid IP address" in message
    assert literal_refusal(host, proxied=False) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("64:ff9b::8.8.8.8", None),  # NAT64 of a public address (DNS64 networks)
        ("64:ff9b::10.0.0.1", "private network address"),
        ("::ffff:0:a9fe:a9fe", "cloud metadata address"),  # SIIT
        ("2002:c0a8:101::1", "private network address"),  # 6to4 of 192.168.1.1
        ("::", "private network address"),
    ],
)
def test_embedded_ipv4(address: str, reason: str | None) -> None:
    assert forbidden_reason(address) == reason


# -- names through a proxy -----------------------------------------------------------------

HOSTS = parse_hosts(
    "127.0.0.1 localhost\n127.0.1.1 build-box.example.org build-box # comment\n"
    "10.0.0.7\tdb.corp.example.com\n93.184.215.14 pinned.example.com\n# 10.0.0.8 x.y.z\n"
)


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("localhost", "a name for this machine"),
        ("LOCALHOST.", "a name for this machine"),
        ("api.localhost", "a name for this machine"),
        ("localhost.localdomain", "a name for this machine"),
        ("metadata.google.internal", "a .internal name, resolved on the local network"),
        ("foo.internal", "a .internal name, resolved on the local network"),
        ("printer.local", "a .local name, resolved on the local network"),
        ("nas.home.arpa", "a .home.arpa name, resolved on the local network"),
        ("router.lan", "a .lan name, resolved on the local network"),
        ("intranet", "a single-label name, resolved on the local network"),
        ("metadata", "a single-label name, resolved on the local network"),
        ("build-box.example.org", "listed in /etc/hosts as 127.0.1.1, a loopback address"),
        ("db.corp.example.com", "listed in /etc/hosts as 10.0.0.7, a private network address"),
        ("bad%2ename.example", "not a valid host name"),
    ],
)
def test_local_names_refused_through_a_proxy(host: str, reason: str) -> None:
    assert local_name_reason(host, HOSTS) == reason
    message = destination_refusal(host, proxied=True, hosts=HOSTS)
    assert message is not None
    assert message.startswith(f"refusing {host} ({reason}; through network.proxy")
    assert message.endswith("set network.allow_private_networks = true to allow it")
    # Without a proxy names are resolved here and every answer is checked instead.
    assert destination_refusal(host, proxied=False, hosts=HOSTS) is None


@pytest.mark.parametrize(
    "host",
    ["rus.azattyq.org", "www.facebook.com", "pinned.example.com", "x.y.z", "local.kz", "a.b"],
)
def test_ordinary_names_pass_through_a_proxy(host: str) -> None:
    assert destination_refusal(host, proxied=True, hosts=HOSTS) is None


def test_hosts_file_read_and_reread(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 one.example\n")
    assert hosts_entries(hosts) == {"one.example": "127.0.0.1"}
    hosts.write_text("127.0.0.1 one.example\n10.1.1.1 two.example three.example\n")
    assert hosts_entries(hosts)["three.example"] == "10.1.1.1"
    assert hosts_entries(tmp_path / "missing") == {}


def test_answers_refusal_refuses_any_forbidden_answer() -> None:
    assert answers_refusal("a.example", ["93.184.215.14"], proxied=True) is None
    message = answers_refusal("a.example", ["93.184.215.14", "10.0.0.1"], proxied=True)
    assert message == (
        "refusing a.example at 10.0.0.1 (private network address) "
        "(network.resolve_before_proxy); set network.allow_private_networks = true to allow it"
    )


def _network(**values: object) -> NetworkSettings:
    return NetworkSettings.model_validate(values)


def test_check_destination_applies_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def fake_getaddrinfo(host: str, port: int, **_: object) -> list[tuple[object, ...]]:
        asked.append(host)
        answers = {"inside.example": "10.0.0.9", "outside.example": "93.184.215.14"}
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(guard.socket, "getaddrinfo", fake_getaddrinfo)
    proxy = "socks5://127.0.0.1:9050"
    # Direct: names resolved here, private answers refused.
    with pytest.raises(FetchError, match=r"inside.example at 10.0.0.9 \(private network"):
        check_destination("inside.example", 443, _network())
    check_destination("outside.example", 443, _network())
    # Through a proxy: names by definition only, nothing resolved here...
    asked.clear()
    check_destination("inside.example", 443, _network(proxy=proxy))
    with pytest.raises(FetchError, match=r"refusing localhost \(a name for this machine"):
        check_destination("localhost", 443, _network(proxy=proxy))
    with pytest.raises(FetchError, match=r"0x7f.1 at 127.0.0.1 \(loopback address\)"):
        check_destination("0x7f.1", 80, _network(proxy=proxy))
    assert asked == []
    # ...unless resolve_before_proxy; .onion is never resolved here.
    strict = _network(proxy=proxy, resolve_before_proxy=True)
    with pytest.raises(FetchError, match=r"10.0.0.9 .*\(network.resolve_before_proxy\)"):
        check_destination("inside.example", 443, strict)
    with pytest.raises(FetchError, match=r"cannot resolve nowhere.example here"):
        check_destination("nowhere.example", 443, strict)
    check_destination("outside.example", 443, strict)
    check_destination("duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion", 80, strict)
    assert asked == ["inside.example", "nowhere.example", "outside.example"]
    # allow_private_networks keeps allowing everything.
    for network in (
        _network(allow_private_networks=True),
        _network(proxy=proxy, allow_private_networks=True),
    ):
        check_destination("localhost", 80, network)
        check_destination("0x7f.1", 80, network)
