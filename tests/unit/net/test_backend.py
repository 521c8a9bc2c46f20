"""The guarded network backend with a fake resolver and a fake socket layer: what it
refuses, and that it connects to exactly the address it checked."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable, Sequence
from typing import Any

import httpcore
import pytest

from archiver.net.backend import (
    CONNECTION_INFO,
    ConnectionInfo,
    ForbiddenAddressError,
    GuardedBackend,
    ProxyUnreachableError,
    UnresolvableHostError,
    forbidden_literal,
)

PUBLIC = "93.184.216.34"
PUBLIC_2 = "2606:2800:220:1:248:1893:25c8:1946"


class FakeStream(httpcore.AsyncNetworkStream):
    def __init__(self, address: str, tls: bool = False) -> None:
        self.address = address
        self.tls = tls

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return FakeStream(self.address, tls=True)

    def get_extra_info(self, info: str) -> Any:
        return {"server_addr": (self.address, 443), "tls": self.tls}.get(info)


class FakeSockets(httpcore.AsyncNetworkBackend):
    """Records every connect; addresses in ``refusing`` refuse."""

    def __init__(self, refusing: Iterable[str] = ()) -> None:
        self.connects: list[tuple[str, int]] = []
        self.refusing = set(refusing)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        if host in self.refusing:
            raise httpcore.ConnectError(ConnectionRefusedError(111, "Connection refused"))
        return FakeStream(host)

    async def sleep(self, seconds: float) -> None:
        return None


class FakeResolver:
    def __init__(self, answers: dict[str, Sequence[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.answers[host]


def backend(
    answers: dict[str, Sequence[str]],
    *,
    allow_private: bool = False,
    proxied: bool = False,
    refusing: Iterable[str] = (),
) -> tuple[GuardedBackend, FakeResolver, FakeSockets]:
    resolver, sockets = FakeResolver(answers), FakeSockets(refusing)
    guarded = GuardedBackend(
        allow_private_networks=allow_private, proxied=proxied, resolver=resolver, inner=sockets
    )
    return guarded, resolver, sockets


async def test_connects_to_the_resolved_address_not_the_name() -> None:
    guarded, _, sockets = backend({"news.example": [PUBLIC, PUBLIC_2]})
    stream = await guarded.connect_tcp("news.example", 443)
    assert sockets.connects == [(PUBLIC, 443)]
    assert stream.get_extra_info(CONNECTION_INFO) == ConnectionInfo(PUBLIC, (PUBLIC, PUBLIC_2))
    assert stream.get_extra_info("server_addr") == (PUBLIC, 443)  # the rest is passed on


async def test_rebinding_second_private_answer_is_never_used() -> None:
    guarded, _, sockets = backend({"rebind.example": [PUBLIC, "127.0.0.1"]}, refusing=[PUBLIC])
    with pytest.raises(httpcore.ConnectError):
        await guarded.connect_tcp("rebind.example", 80)
    assert sockets.connects == [(PUBLIC, 80)]  # the private answer was not tried


async def test_private_answers_are_skipped_in_favour_of_public_ones() -> None:
    guarded, _, sockets = backend({"mixed.example": ["10.0.0.5", PUBLIC]})
    stream = await guarded.connect_tcp("mixed.example", 80)
    assert sockets.connects == [(PUBLIC, 80)]
    info = stream.get_extra_info(CONNECTION_INFO)
    assert info.address == PUBLIC
    assert info.resolver_answers == ("10.0.0.5", PUBLIC)  # every answer is recorded


async def test_allowed_answers_are_tried_in_order() -> None:
    guarded, _, sockets = backend({"two.example": [PUBLIC_2, PUBLIC]}, refusing=[PUBLIC_2])
    stream = await guarded.connect_tcp("two.example", 80)
    assert sockets.connects == [(PUBLIC_2, 80), (PUBLIC, 80)]
    assert stream.get_extra_info(CONNECTION_INFO).address == PUBLIC


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (
            ["10.0.0.5"],
            "refusing intranet.example at 10.0.0.5 (private network address); "
            "set network.allow_private_networks = true to allow it",
        ),
        (["127.0.0.1", "::1"], "refusing intranet.example at 127.0.0.1 (loopback address)"),
        (["169.254.169.254"], "refusing intranet.example at 169.254.169.254 (cloud metadata"),
    ],
)
async def test_all_private_answers_are_refused(answers: list[str], message: str) -> None:
    guarded, _, sockets = backend({"intranet.example": answers})
    with pytest.raises(ForbiddenAddressError) as caught:
        await guarded.connect_tcp("intranet.example", 80)
    assert str(caught.value).startswith(message)
    assert sockets.connects == []


async def test_ip_literals_are_checked_without_resolving() -> None:
    guarded, resolver, sockets = backend({})
    with pytest.raises(ForbiddenAddressError) as caught:
        await guarded.connect_tcp("10.0.0.5", 80)
    assert str(caught.value) == (
        "refusing 10.0.0.5 (private network address); "
        "set network.allow_private_networks = true to allow it"
    )
    await guarded.connect_tcp(PUBLIC, 80)
    assert resolver.asked == []
    assert sockets.connects == [(PUBLIC, 80)]


async def test_allow_private_networks_connects_anywhere() -> None:
    guarded, _, sockets = backend({"localhost": ["127.0.0.1"]}, allow_private=True)
    stream = await guarded.connect_tcp("localhost", 8080)
    await guarded.connect_tcp("10.0.0.5", 80)
    assert sockets.connects == [("127.0.0.1", 8080), ("10.0.0.5", 80)]
    assert stream.get_extra_info(CONNECTION_INFO).address == "127.0.0.1"


async def test_unresolvable_names() -> None:
    guarded, _, _ = backend({"empty.example": []})
    with pytest.raises(UnresolvableHostError, match=r"cannot resolve nx\.example"):
        await guarded.connect_tcp("nx.example", 80)
    with pytest.raises(UnresolvableHostError, match="no addresses"):
        await guarded.connect_tcp("empty.example", 80)


async def test_connection_info_survives_the_tls_upgrade() -> None:
    guarded, _, _ = backend({"news.example": [PUBLIC]})
    stream = await guarded.connect_tcp("news.example", 443)
    upgraded = await stream.start_tls(ssl.create_default_context(), "news.example")
    assert upgraded.get_extra_info("tls") is True
    assert upgraded.get_extra_info(CONNECTION_INFO).address == PUBLIC


async def test_through_a_proxy_nothing_is_checked_or_resolved() -> None:
    guarded, resolver, _ = backend({}, proxied=True, refusing=["10.9.9.9"])
    stream = await guarded.connect_tcp("127.0.0.1", 3128)  # the operator's own proxy
    assert stream.get_extra_info(CONNECTION_INFO) == ConnectionInfo(None, (), proxied=True)
    assert resolver.asked == []
    with pytest.raises(
        ProxyUnreachableError, match=r"cannot connect to the proxy 10\.9\.9\.9:3128"
    ):
        await guarded.connect_tcp("10.9.9.9", 3128)


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        ("10.0.0.5", True),
        ("::1", True),
        ("169.254.169.254", True),
        (PUBLIC, False),
        ("localhost", False),  # names are the resolver's business
        ("news.example", False),
    ],
)
def test_forbidden_literal(host: str, refused: bool) -> None:
    message = forbidden_literal(host)
    assert (message is not None) is refused
    if message is not None:
        assert message.startswith(f"refusing {host} (")


async def test_check_target_through_a_proxy_judges_names_without_resolving() -> None:
    guarded, resolver, sockets = backend({"inside.example": ["10.0.0.9"]}, proxied=True)
    for host in ("localhost", "metadata.google.internal", "0x7f.1", "2130706433", "nas"):
        with pytest.raises(ForbiddenAddressError, match=rf"refusing {host} .*allow_private"):
            await guarded.check_target(host, 80)
    await guarded.check_target("inside.example", 80)  # the proxy's business by default
    await guarded.check_target("news.example", 80)
    assert resolver.asked == [] and sockets.connects == []


async def test_check_target_resolve_before_proxy() -> None:
    resolver, sockets = FakeResolver({"inside.example": [PUBLIC, "10.0.0.9"]}), FakeSockets()
    guarded = GuardedBackend(
        proxied=True, resolve_before_proxy=True, resolver=resolver, inner=sockets
    )
    with pytest.raises(ForbiddenAddressError, match=r"inside.example at 10.0.0.9 .*before_proxy"):
        await guarded.check_target("inside.example", 443)
    with pytest.raises(UnresolvableHostError, match=r"nowhere.example.*before_proxy"):
        await guarded.check_target("nowhere.example", 443)
    await guarded.check_target("hidden.onion", 80)  # Tor resolves .onion, never DNS
    await guarded.check_target(PUBLIC, 80)
    assert resolver.asked == ["inside.example", "nowhere.example"] and sockets.connects == []


async def test_check_target_direct_leaves_names_to_connect_time() -> None:
    guarded, resolver, _ = backend({})
    with pytest.raises(ForbiddenAddressError, match=r"0177.0.0.1 at 127.0.0.1 \(loopback"):
        await guarded.check_target("0177.0.0.1", 80)
    await guarded.check_target("localhost", 80)  # resolved and checked by connect_tcp
    assert resolver.asked == []
    allowing, _, _ = backend({}, proxied=True, allow_private=True)
    await allowing.check_target("localhost", 80)
    await allowing.check_target("127.0.0.1", 80)
