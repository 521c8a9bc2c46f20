"""Direct connections (no proxy): the private-address guard, and TLS verification
against a local https server whose CA is not trusted unless configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.capture.exchange import FailureKind
from archiver.errors import ConfigError
from tests.integration.http_capture.conftest import TlsServer, make_fetcher
from tests.support.httpserver import Response, serve


async def test_self_signed_certificate_is_captured_and_marked_unverified(
    tls_server: TlsServer, tmp_path: Path
) -> None:
    async with make_fetcher(tmp_path, allow_private_networks=True) as fetcher:
        exchange = await fetcher.fetch(tls_server.url())
        again = await fetcher.fetch(tls_server.url())  # remembered: no second failed handshake
    assert exchange.ok and exchange.status == 200, exchange.failure
    assert exchange.body is not None and exchange.body.read() == b"<p>direct and secret</p>"
    tls = exchange.tls
    assert tls is not None and tls.verified is False
    assert tls.verify_error is not None and "certificate" in tls.verify_error
    assert tls.version is not None and tls.cipher is not None
    assert tls.peer_chain_pem and tls.peer_chain_pem[0].startswith("-----BEGIN CERTIFICATE-----")
    assert exchange.ip_address == "127.0.0.1"
    assert exchange.resolver_answers == ("127.0.0.1",)
    assert {"connected", "tls", "headers", "done"} <= exchange.timings.keys()
    assert again.tls is not None and again.tls.verified is False
    assert again.tls.verify_error == tls.verify_error
    assert len(tls_server.requests) == 2  # each request was sent once


async def test_extra_ca_file_makes_it_verified(tls_server: TlsServer, tmp_path: Path) -> None:
    async with make_fetcher(
        tmp_path, allow_private_networks=True, extra_ca_file=tls_server.ca_pem
    ) as fetcher:
        exchange = await fetcher.fetch(tls_server.url())
    assert exchange.ok and exchange.tls is not None
    assert exchange.tls.verified is True and exchange.tls.verify_error is None
    assert exchange.tls.peer_chain_pem[0].startswith("-----BEGIN CERTIFICATE-----")


def test_unreadable_extra_ca_file_fails_when_the_fetcher_is_made(tmp_path: Path) -> None:
    # TLS contexts are built lazily (at the first https:// origin), except that a
    # configured CA file is checked at once: a typo fails the run, not each source.
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"capture\.extra_ca_file"):
        make_fetcher(tmp_path, extra_ca_file=bad)


async def test_loopback_refused_unless_private_networks_allowed(tmp_path: Path) -> None:
    with serve({"/": Response(200, b"router admin page")}) as server:
        async with make_fetcher(tmp_path) as fetcher:
            refused = await fetcher.fetch(server.url("/"))
        async with make_fetcher(tmp_path, allow_private_networks=True) as fetcher:
            allowed = await fetcher.fetch(server.url("/"))
        assert server.requests == ["/"]  # only the allowed fetch reached it
    assert refused.failure is not None
    assert refused.failure.kind is FailureKind.FORBIDDEN_ADDRESS
    assert refused.failure.message == (
        "refusing 127.0.0.1 (loopback address); "
        "set network.allow_private_networks = true to allow it"
    )
    assert refused.status is None
    assert allowed.ok and allowed.status == 200 and allowed.ip_address == "127.0.0.1"


async def test_a_name_resolving_to_a_private_address_is_refused(tmp_path: Path) -> None:
    with serve({"/": Response(200, b"internal")}) as server:
        port = server.base.rsplit(":", 1)[1]
        async with make_fetcher(tmp_path) as fetcher:
            exchange = await fetcher.fetch(f"http://localhost:{port}/")
        assert server.requests == []
    assert exchange.failure is not None
    assert exchange.failure.kind is FailureKind.FORBIDDEN_ADDRESS
    assert exchange.failure.message.startswith("refusing localhost at ")
    assert "loopback address" in exchange.failure.message


async def test_refused_connection_direct(tmp_path: Path) -> None:
    with serve({}) as server:
        url = server.url("/")
    # The server is gone now: its port refuses.
    async with make_fetcher(tmp_path, allow_private_networks=True) as fetcher:
        exchange = await fetcher.fetch(url)
    assert exchange.failure is not None and exchange.failure.kind is FailureKind.REFUSED
