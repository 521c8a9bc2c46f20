"""Large bodies reach Chromium over a loopback socket, not through Playwright's driver.

``Fetch.fulfillRequest`` carries the whole body base64-encoded in one DevTools message,
and Playwright relays that message through its Node.js driver: a 16 MiB body cost the
driver 300 MiB and the archiver's own process 100 MiB more (docs/benchmarks.md,
"Browser capture of hostile bodies"). DevTools has no way to fulfil a request in
pieces, so a large body goes another way: the paused request is continued to an
address only this server answers (``Fetch.continueRequest`` with a new URL, which the
page does not see: its document, ``location`` and ``response.url`` stay the cited ones),
and Chromium, whose proxy this server is, asks it for that address; the server answers
with the status and headers the fetcher received and the body, decoded within the browser's limit
(off the event loop), written in pieces.

Chromium is launched with this server as its only proxy, so whatever escapes the
interception arrives here too and is refused (the connection closed), as the closed
port used before did. Each address is a random token, answered once.

Not used for responses that set cookies (Chromium would file them under the
replacement address, not the site's) nor for requests with a body (a POST's answer):
those keep the DevTools path and its limit.
No library serves here: an HTTP server framework would parse Chromium's request into
objects and buffer responses; this needs one request line read and bytes written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from archiver.capture.decode import decode_body
from archiver.capture.exchange import Exchange

log = logging.getLogger(__name__)

# The host of the replacement addresses: ".invalid" can never be a real site (RFC 2606).
HOST = "archiver-body.invalid"
# Bodies this large (as received), or compressed, go over the socket; the rest the
# DevTools way.
STREAM_BYTES = 256 * 1024
_WRITE_BYTES = 256 * 1024
_READ_TIMEOUT = 30.0


@dataclass
class Delivery:
    """What one replacement address answers with, and whom to tell how it went."""

    exchange: Exchange
    headers: list[tuple[str, str]]
    limit: int
    # Called once the body is written: (cut at the limit, decode error or None).
    done: Callable[[bool, str | None], None]


def _head(status: int, reason: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason or 'Answer'}"]
    lines += [f"{name}: {value}" for name, value in headers]
    # The body ends when the connection does: no length to promise before decoding.
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


class BodyServer:
    """The loopback server (and Chromium's proxy) answering replacement addresses."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._pending: dict[str, Delivery] = {}
        # Bodies delivered this way (for tests and the benchmark).
        self.served = 0

    @property
    def proxy_url(self) -> str:
        assert self._server is not None, "start() first"
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        self._pending.clear()

    def register(self, delivery: Delivery) -> str:
        """The address (an ``http://`` URL) Chromium is to fetch ``delivery`` from."""
        token = secrets.token_urlsafe(24)
        self._pending[token] = delivery
        return f"http://{HOST}/{token}"

    @property
    def waiting(self) -> int:
        """Addresses handed out and not asked for yet."""
        return len(self._pending)

    def forget(self, url: str) -> None:
        """Drop an address that will not be asked for (the request went away)."""
        self._pending.pop(url.rsplit("/", 1)[-1], None)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_READ_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b"\r\n", 1)[0].split(b" ")
            prefix = f"http://{HOST}/".encode()
            delivery = None
            if len(target) == 3 and target[1].startswith(prefix):
                delivery = self._pending.pop(
                    target[1][len(prefix) :].decode("ascii", "replace"), None
                )
            if delivery is None:
                return  # escaped the interception, or asked twice: nothing to say
            await self._send(delivery, writer)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return  # Chromium went away (page closed); the capture records what it saw
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _send(self, delivery: Delivery, writer: asyncio.StreamWriter) -> None:
        exchange = delivery.exchange
        assert exchange.status is not None and exchange.body is not None
        writer.write(_head(exchange.status, exchange.reason or "", delivery.headers))
        # Decoding a bomb up to the limit takes a while: off the event loop.
        decoded = await asyncio.to_thread(
            decode_body,
            exchange.body.chunks(),
            exchange.header("content-encoding"),
            delivery.limit,
        )
        view = memoryview(decoded.data)
        for start in range(0, len(view), _WRITE_BYTES):
            writer.write(view[start : start + _WRITE_BYTES])
            await writer.drain()
        # Said once the whole body went out (a Chromium gone meanwhile raised above).
        delivery.done(decoded.truncated, decoded.error)
        self.served += 1
