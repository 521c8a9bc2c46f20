"""Servers that misbehave: every limit keeps what arrived and says why it stopped."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import pytest

from archiver.capture.exchange import FailureKind
from archiver.capture.http import decode
from tests.integration.http_capture.conftest import MiB, make_fetcher, sha256
from tests.simweb import (
    SimulatedWeb,
    endless_body,
    gzip_bomb,
    hang,
    headers_then_stall,
    reset_mid_body,
    slow_body,
)


async def test_gzip_bomb_stored_compressed_and_decoded_within_limit(
    simweb: SimulatedWeb, tmp_path: Path
) -> None:
    bomb = gzip_bomb()  # 1 GiB of zeros, about 1 MB on the wire
    simweb.page("https://bomb.example/", bomb)
    async with make_fetcher(tmp_path, simweb) as fetcher:
        exchange = await fetcher.fetch("https://bomb.example/")
    assert exchange.ok and exchange.truncated is None
    assert exchange.body is not None
    assert exchange.body.size == len(bomb.body) < 2 * MiB
    assert exchange.body.sha256 == sha256(bomb.body)
    decoded = decode(exchange, 4 * MiB)
    assert decoded.truncated and len(decoded.data) == 4 * MiB


@pytest.mark.parametrize("framing", ["chunked", "close"])
async def test_endless_body_stops_at_max_bytes(
    simweb: SimulatedWeb, tmp_path: Path, framing: Literal["chunked", "close"]
) -> None:
    simweb.page("http://stream.example/", endless_body(framing))
    async with make_fetcher(tmp_path, simweb) as fetcher:
        exchange = await fetcher.fetch("http://stream.example/", max_bytes=2 * MiB)
        # The connection was dropped, the fetcher still works for the host.
        simweb.page("http://stream.example/ok", "fine")
        after = await fetcher.fetch("http://stream.example/ok")
    assert exchange.ok and exchange.truncated == "length"
    assert exchange.body is not None and exchange.body.size == 2 * MiB
    assert exchange.body.read(13) == b"endless body "
    assert after.ok and after.body is not None and after.body.read() == b"fine"


async def test_headers_then_stall_keeps_the_head_until_the_deadline(
    simweb: SimulatedWeb, tmp_path: Path
) -> None:
    simweb.page("https://stall.example/", headers_then_stall())
    async with make_fetcher(tmp_path, simweb, timeout=30) as fetcher:
        started = time.monotonic()
        exchange = await fetcher.fetch("https://stall.example/", deadline=started + 0.5)
        elapsed = time.monotonic() - started
    assert exchange.ok and exchange.status == 200
    assert exchange.truncated == "time"
    assert exchange.body is not None and exchange.body.size == 0
    # Ended by the 0.5 s deadline, not by the 30 s timeout (generous for a loaded machine).
    assert 0.4 < elapsed < 10


async def test_idle_read_timeout_mid_body(simweb: SimulatedWeb, tmp_path: Path) -> None:
    simweb.page("http://stall.example/", headers_then_stall())
    async with make_fetcher(tmp_path, simweb, timeout=0.3) as fetcher:
        exchange = await fetcher.fetch("http://stall.example/")
    assert exchange.status == 200 and exchange.truncated == "time"


async def test_hang_is_a_timeout_within_the_deadline(simweb: SimulatedWeb, tmp_path: Path) -> None:
    simweb.page("https://hang.example/", hang())
    async with make_fetcher(tmp_path, simweb, timeout=30) as fetcher:
        started = time.monotonic()
        exchange = await fetcher.fetch("https://hang.example/", deadline=started + 0.5)
        elapsed = time.monotonic() - started
    assert exchange.failure is not None and exchange.failure.kind is FailureKind.TIMEOUT
    assert exchange.status is None and exchange.body is None
    assert elapsed < 10  # the 0.5 s deadline, not the 30 s timeout


async def test_slow_body_cut_by_the_deadline_keeps_what_arrived(
    simweb: SimulatedWeb, tmp_path: Path
) -> None:
    served = b"x" * 100_000  # 5 s at 20 kB/s; the deadline leaves time for some of it
    simweb.page("http://slow.example/", slow_body(served, bytes_per_second=20_000))
    async with make_fetcher(tmp_path, simweb) as fetcher:
        exchange = await fetcher.fetch("http://slow.example/", deadline=time.monotonic() + 1.5)
    assert exchange.truncated == "time"
    assert exchange.body is not None and 0 < exchange.body.size < len(served)


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("rst", [True, False])
async def test_reset_mid_body_keeps_the_partial_body(
    simweb: SimulatedWeb, tmp_path: Path, scheme: str, rst: bool
) -> None:
    served = b"<html>" + bytes(range(256)) * 400 + b"</html>"
    simweb.page("http://reset.example/", reset_mid_body(served, after=60_000, rst=rst))
    async with make_fetcher(tmp_path, simweb) as fetcher:
        exchange = await fetcher.fetch(f"{scheme}://reset.example/")
    assert exchange.ok and exchange.status == 200
    assert exchange.truncated == "disconnect"
    assert exchange.body is not None
    kept = exchange.body.read()
    # A TCP reset may discard bytes not yet read by us; an orderly close never does.
    assert 0 < len(kept) <= 60_000 if rst else len(kept) == 60_000
    assert kept == served[: len(kept)]


async def test_twenty_megabytes_captured_whole_and_spooled(
    simweb: SimulatedWeb, tmp_path: Path
) -> None:
    served = b"<html><body>" + b"<p>paragraph of a long report</p>\n" * (20 * MiB // 34)
    simweb.page("https://big.example/report.html", served)
    async with make_fetcher(tmp_path, simweb) as fetcher:
        exchange = await fetcher.fetch("https://big.example/report.html")
    assert exchange.ok and exchange.truncated is None
    assert exchange.body is not None
    assert exchange.body.size == len(served) > 20 * MiB - 100
    assert exchange.body.sha256 == sha256(served)
    assert exchange.body.on_disk  # not held in memory
    exchange.close()
