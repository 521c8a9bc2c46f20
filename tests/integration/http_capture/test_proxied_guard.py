"""Capture through a proxy: names that mean this machine or the local network, and IP
addresses in any spelling, are refused before the proxy sees the request (the proxy would
resolve them itself, on the archiver's own network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.capture.exchange import FailureKind
from archiver.net import guard
from tests.integration.http_capture.conftest import make_fetcher
from tests.simweb import SimulatedWeb

REFUSED = [
    ("http://localhost/admin", "refusing localhost (a name for this machine"),
    ("https://localhost:8443/", "refusing localhost (a name for this machine"),
    ("http://api.localhost/", "refusing api.localhost (a name for this machine"),
    (
        "http://metadata.google.internal/computeMetadata/v1/",
        "refusing metadata.google.internal (a .internal name",
    ),
    ("http://printer.local/", "refusing printer.local (a .local name"),
    ("http://intranet/", "refusing intranet (a single-label name"),
    ("http://build-box.example.org/", "listed in /etc/hosts as 127.0.1.1, a loopback address"),
    ("http://2130706433/", "refusing 2130706433 at 127.0.0.1 (loopback address)"),
    ("http://0x7f.1/", "refusing 0x7f.1 at 127.0.0.1 (loopback address)"),
    ("http://127.1/", "refusing 127.1 at 127.0.0.1 (loopback address)"),
    ("https://[::ffff:169.254.169.254]/", "(cloud metadata address)"),
    ("http://127.0.0.1./", "(loopback address)"),
]


@pytest.fixture
def hosts_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "hosts"
    path.write_text("127.0.0.1 localhost\n127.0.1.1 build-box.example.org build-box\n")
    monkeypatch.setattr(guard, "HOSTS_FILE", path, raising=False)
    return path


@pytest.mark.parametrize(("url", "message"), REFUSED)
async def test_local_destinations_refused_through_the_proxy(
    simweb: SimulatedWeb, tmp_path: Path, hosts_file: Path, url: str, message: str
) -> None:
    simweb.page(url, "would be served")  # reachable through the proxy, if it were asked
    async with make_fetcher(tmp_path, simweb) as fetcher:
        exchange = await fetcher.fetch(url)
    assert exchange.failure is not None
    assert exchange.failure.kind is FailureKind.FORBIDDEN_ADDRESS
    assert message in exchange.failure.message
    assert "set network.allow_private_networks = true" in exchange.failure.message
    assert simweb.requests == [] and simweb.connects == []


async def test_redirect_to_localhost_refused_at_its_hop(
    simweb: SimulatedWeb, tmp_path: Path, hosts_file: Path
) -> None:
    simweb.redirect("http://news.example/a", "http://localhost:6379/")
    simweb.page("http://localhost:6379/", "would be served")
    async with make_fetcher(tmp_path, simweb) as fetcher:
        chain = await fetcher.fetch_chain("http://news.example/a")
    assert [e.url for e in chain] == ["http://news.example/a", "http://localhost:6379/"]
    assert chain[-1].failure is not None
    assert chain[-1].failure.kind is FailureKind.FORBIDDEN_ADDRESS
    assert [r.url for r in simweb.requests] == ["http://news.example/a"]


async def test_public_names_still_go_through_the_proxy(
    simweb: SimulatedWeb, tmp_path: Path, hosts_file: Path
) -> None:
    simweb.page("http://news.example/local.html", "ok")
    async with make_fetcher(tmp_path, simweb) as fetcher:
        exchange = await fetcher.fetch("http://news.example/local.html")
    assert exchange.ok and exchange.status == 200
    async with make_fetcher(tmp_path, simweb, allow_private_networks=True) as fetcher:
        allowed = await fetcher.fetch("http://localhost/admin")
    assert allowed.failure is None or allowed.failure.kind is not FailureKind.FORBIDDEN_ADDRESS
    assert [r.url for r in simweb.requests] == [
        "http://news.example/local.html",
        "http://localhost/admin",
    ]
