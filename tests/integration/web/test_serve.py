"""``archiver.web.serve`` on a real socket: answers, then stops when told, within its
shutdown time even with a client holding a connection open."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

import httpx
import pytest

from archiver.app import Archive
from archiver.config import Settings
from archiver.errors import ConfigError
from archiver.web import serve
from archiver.web.server import check_exposure, is_loopback
from archiver.web.tokens import Role, create_token
from tests.conftest import FixedClock


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_serve_answers_and_stops_in_bounded_time(
    make_settings: Callable[..., Settings], clock: FixedClock
) -> None:
    port = _free_port()
    settings = make_settings(web__port=str(port), web__shutdown_timeout="2")
    with Archive.open(settings, clock=clock) as archive:
        stop = asyncio.Event()
        task = asyncio.create_task(serve(archive, settings, stop=stop))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(200):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("the server never answered")
            assert (await client.get("/api/v1/status")).status_code == 401
            # A client that opened a connection and sends nothing keeps it busy.
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            await writer.drain()
            started = time.monotonic()
            stop.set()
            await asyncio.wait_for(task, timeout=15)
            assert time.monotonic() - started < 10
            writer.close()
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_exposure_rule(make_settings: Callable[..., Settings], clock: FixedClock) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    settings = make_settings(web__host="0.0.0.0")
    with Archive.open(settings, clock=clock) as archive:
        with pytest.raises(ConfigError, match="no access token exists"):
            check_exposure(archive, settings)
        create_token(archive.db, name="ops", role=Role.ADMIN, clock=clock)
        check_exposure(archive, settings)
