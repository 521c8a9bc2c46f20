"""One request/response exchange on one client connection: what a behaviour may do to the wire.

Behaviours (normal responses, hangs, resets, endless bodies) are written against this small
surface instead of raw asyncio streams, so each behaviour states only how it misbehaves and
the framing rules (Content-Length, chunking, keep-alive) live in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import termios
from datetime import datetime

from tests.simweb.messages import HOP_BY_HOP, Headers, Request, encode_head

# Linux SIOCOUTQ: bytes the kernel still holds for the peer (unsent or unacknowledged).
_SIOCOUTQ = termios.TIOCOUTQ


class Exchange:
    """The request, and the connection to answer it on."""

    def __init__(
        self,
        request: Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        keep_alive: bool,
        now: datetime,
    ) -> None:
        self.request = request
        self.reader = reader
        self.writer = writer
        self.keep_alive = keep_alive
        self.now = now

    @property
    def is_head(self) -> bool:
        return self.request.method == "HEAD"

    def head(
        self,
        status: int,
        headers: Headers,
        *,
        length: int | None = None,
        chunked: bool = False,
        close: bool = False,
    ) -> bytes:
        """Encode a response head. Framing headers given by the test are replaced by the ones
        that match what will really be sent; ``close`` (or a client that asked to close) adds
        ``Connection: close``."""
        out = Headers([(n, v) for n, v in headers.items() if n.lower() not in HOP_BY_HOP])
        if length is not None:
            out.add("Content-Length", str(length))
        if chunked:
            out.add("Transfer-Encoding", "chunked")
        if close or not self.keep_alive:
            out.add("Connection", "close")
        elif self.request.http_version == "HTTP/1.0":
            out.add("Connection", "keep-alive")
        return encode_head(status, out, date=self.now)

    def write(self, data: bytes) -> None:
        if data:
            self.writer.write(data)

    async def send(self, data: bytes) -> None:
        """Write and wait for the transport buffer to drain (back-pressure from the client)."""
        self.write(data)
        await self.writer.drain()

    async def stream(self, data: bytes) -> None:
        """Send one piece of a long body, yielding to the event loop and raising
        ``ConnectionResetError`` once the client is gone.

        Needed for loops that write until the client leaves: once the peer has reset the
        connection, asyncio's TLS transport silently drops writes and ``drain()`` returns
        without suspending, so a loop of ``send()`` alone would spin forever and starve
        every other connection."""
        await self.send(data)
        await asyncio.sleep(0)
        if self.writer.transport.is_closing():
            raise ConnectionResetError("client went away")

    async def flush_to_peer(self, timeout: float = 1.0) -> None:
        """Wait until everything written so far has left asyncio's buffer and been
        acknowledged by the peer's kernel, so that a following reset cannot discard it."""
        await self.writer.drain()
        deadline = asyncio.get_running_loop().time() + timeout
        transport = self.writer.transport
        sock = transport.get_extra_info("socket")
        while asyncio.get_running_loop().time() < deadline:
            pending = transport.get_write_buffer_size()
            if pending == 0 and sock is not None:
                pending = _kernel_outq(sock)
            if pending == 0:
                return
            await asyncio.sleep(0.005)

    def reset(self) -> None:
        """Drop the connection with a TCP RST (SO_LINGER 0, then close), the way a crashed
        server or a middlebox tearing down a connection does."""
        transport = self.writer.transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    async def wait_until_client_leaves(self) -> None:
        """Read and discard until the client closes the connection (or the server shuts
        down): the way a hung server holds a connection without blocking anyone else."""
        with contextlib.suppress(ConnectionError, OSError):
            while await self.reader.read(65536):
                pass


def _kernel_outq(sock: socket.socket) -> int:
    try:
        raw = fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0
    value: int = struct.unpack("i", raw)[0]
    return value
