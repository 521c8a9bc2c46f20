"""The fetcher on the wire (plain http://, the same engine as https) against scripted
local servers: keep-alive reuse, framing, heads as received, a kept-alive connection the
server dropped, proxy credentials, and requests that must not be sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from archiver.capture.exchange import FailureKind
from tests.integration.http_capture.conftest import make_fetcher

# One answer per request: the bytes to send back, and whether to close afterwards.
Script = Callable[[int, bytes], tuple[bytes, bool]]


class Scripted:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0


@asynccontextmanager
async def scripted(script: Script) -> AsyncIterator[Scripted]:
    state = Scripted(script)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        try:
            while True:
                try:
                    request = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                state.requests.append(request)
                answer, close = state.script(len(state.requests), request)
                writer.write(answer)
                await writer.drain()
                if close:
                    return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    async with server:
        yield state


def ok(body: bytes, *extra: bytes) -> bytes:
    lines = [b"HTTP/1.1 200 OK", b"Content-Length: %d" % len(body), *extra]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def test_keep_alive_connection_is_reused(tmp_path: Path) -> None:
    async with (
        scripted(lambda n, _: (ok(b"page %d" % n), False)) as server,
        make_fetcher(tmp_path, allow_private_networks=True) as fetcher,
    ):
        results = [await fetcher.fetch(f"http://127.0.0.1:{server.port}/{i}") for i in range(4)]
    assert [r.body.read() if r.body else None for r in results] == [
        b"page 1", b"page 2", b"page 3", b"page 4"
    ]  # fmt: skip
    assert server.connections == 1
    assert "connected" in results[0].timings and "connected" not in results[1].timings
    assert all(r.ip_address == "127.0.0.1" for r in results)


async def test_close_delimited_http_1_0_body_and_a_new_connection_after(tmp_path: Path) -> None:
    def answer(n: int, _: bytes) -> tuple[bytes, bool]:
        return b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<p>%d</p>" % n, True

    async with (
        scripted(answer) as server,
        make_fetcher(tmp_path, allow_private_networks=True) as fetcher,
    ):
        first = await fetcher.fetch(f"http://127.0.0.1:{server.port}/")
        second = await fetcher.fetch(f"http://127.0.0.1:{server.port}/")
    assert first.ok and first.http_version == "HTTP/1.0" and first.truncated is None
    assert first.body is not None and first.body.read() == b"<p>1</p>"
    assert second.body is not None and second.body.read() == b"<p>2</p>"
    assert server.connections == 2


async def test_chunked_with_extensions_trailers_and_an_interim_response(tmp_path: Path) -> None:
    body = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    async with (
        scripted(lambda n, _: (body if n == 1 else ok(b"again"), False)) as server,
        make_fetcher(tmp_path, allow_private_networks=True) as fetcher,
    ):
        first = await fetcher.fetch(f"http://127.0.0.1:{server.port}/")
        second = await fetcher.fetch(f"http://127.0.0.1:{server.port}/")
    assert first.status == 200 and first.body is not None
    assert first.body.read() == b"hello world" and first.truncated is None
    assert (first.response_head or b"").startswith(b"HTTP/1.1 200 OK\r\n")
    assert second.body is not None and second.body.read() == b"again"
    assert server.connections == 1  # the chunked body ended cleanly: reused


async def test_head_kept_as_received_folded_lines_joined(tmp_path: Path) -> None:
    answer = ok(b"x", b"X-Mixed-Case:  yes ", b"set-cookie: a=b", b"X-Long: one", b"  two",
                b"Set-Cookie: c=d")  # fmt: skip
    async with (
        scripted(lambda n, _: (answer, False)) as server,
        make_fetcher(tmp_path, allow_private_networks=True) as fetcher,
    ):
        exchange = await fetcher.fetch(f"http://127.0.0.1:{server.port}/")
    assert exchange.response_headers == [
        ("Content-Length", "1"),
        ("X-Mixed-Case", "yes"),
        ("set-cookie", "a=b"),
        ("X-Long", "one two"),
        ("Set-Cookie", "c=d"),
    ]
    assert (exchange.response_head or b"").startswith(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nX-Mixed-Case: yes\r\nset-cookie: a=b\r\n"
    )


async def test_bodiless_answers_keep_the_connection_in_step(tmp_path: Path) -> None:
    # A 304 and a HEAD answer announce a length but carry no body: the next answer on the
    # same connection must not be read as their body.
    def answer(n: int, _: bytes) -> tuple[bytes, bool]:
        if n == 1:
            return b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", False
        if n == 2:
            return b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", False
        return ok(b"third"), False

    async with (
        scripted(answer) as server,
        make_fetcher(tmp_path, allow_private_networks=True) as fetcher,
    ):
        url = f"http://127.0.0.1:{server.port}/"
        results = [
            await fetcher.fetch(url),
            await fetcher.fetch(url, method="HEAD"),
            await fetcher.fetch(url),
        ]
    assert [r.status for r in results] == [304, 200, 200]
    assert [r.body.read() if r.body else b"" for r in results] == [b"", b"", b"third"]
    assert server.connections == 1


async def test_conflicting_lengths_are_a_protocol_failure(tmp_path: Path) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Length: 11\r\n\r\n0123456789"
    async with (
        scripted(lambda n, _: (answer, True)) as server,
        make_fetcher(tmp_path, allow_private_networks=True) as fetcher,
    ):
        exchange = await fetcher.fetch(f"http://127.0.0.1:{server.port}/")
    assert exchange.failure is not None and exchange.failure.kind is FailureKind.PROTOCOL


async def test_a_dropped_keep_alive_connection_is_retried_once(tmp_path: Path) -> None:
    # The second request arrives on the kept-alive connection and is dropped unanswered
    # (a server closing an idle connection at that moment): sent again on a new one.
    def answer(n: int, _: bytes) -> tuple[bytes, bool]:
        return (b"", True) if n == 2 else (ok(b"fine %d" % n), False)

    async with (
        scripted(answer) as server,
        make_fetcher(tmp_path, allow_private_networks=True) as fetcher,
    ):
        first = await fetcher.fetch(f"http://127.0.0.1:{server.port}/")
        second = await fetcher.fetch(f"http://127.0.0.1:{server.port}/")
    assert first.ok and second.ok, second.failure
    assert second.body is not None and second.body.read() == b"fine 3"
    assert server.connections == 2 and len(server.requests) == 3


async def test_a_post_dropped_on_a_kept_alive_connection_is_not_sent_again(
    tmp_path: Path,
) -> None:
    def answer(n: int, _: bytes) -> tuple[bytes, bool]:
        return (b"", True) if n == 2 else (ok(b"fine %d" % n), False)

    async with (
        scripted(answer) as server,
        make_fetcher(tmp_path, allow_private_networks=True) as fetcher,
    ):
        await fetcher.fetch(f"http://127.0.0.1:{server.port}/")
        posted = await fetcher.fetch(f"http://127.0.0.1:{server.port}/", method="POST", body=b"x")
    assert posted.failure is not None and posted.failure.kind is FailureKind.RESET
    assert len(server.requests) == 2


async def test_no_answer_on_a_new_connection_is_a_reset(tmp_path: Path) -> None:
    async with (
        scripted(lambda n, _: (b"", True)) as server,
        make_fetcher(tmp_path, allow_private_networks=True) as fetcher,
    ):
        exchange = await fetcher.fetch(f"http://127.0.0.1:{server.port}/")
    assert exchange.failure is not None and exchange.failure.kind is FailureKind.RESET
    assert len(server.requests) == 1  # a new connection is never retried


async def test_garbage_instead_of_a_response_is_a_protocol_failure(tmp_path: Path) -> None:
    async with (
        scripted(lambda n, _: (b"SSH-2.0-OpenSSH\r\n\r\n", True)) as server,
        make_fetcher(tmp_path, allow_private_networks=True) as fetcher,
    ):
        exchange = await fetcher.fetch(f"http://127.0.0.1:{server.port}/")
    assert exchange.failure is not None and exchange.failure.kind is FailureKind.PROTOCOL


async def test_proxy_credentials_go_to_the_proxy_only(tmp_path: Path) -> None:
    async with scripted(lambda n, _: (ok(b"via proxy"), False)) as proxy:
        url = f"http://archivist:s3cret@127.0.0.1:{proxy.port}"
        async with make_fetcher(tmp_path, proxy=url) as fetcher:
            exchange = await fetcher.fetch("http://news.example/a?b=1")
    assert exchange.ok and exchange.body is not None and exchange.body.read() == b"via proxy"
    sent = proxy.requests[0]
    assert sent.startswith(b"GET http://news.example/a?b=1 HTTP/1.1\r\n")  # absolute-form
    assert b"\r\nHost: news.example\r\n" in sent
    assert b"\r\nProxy-Authorization: Basic YXJjaGl2aXN0OnMzY3JldA==\r\n" in sent
    assert exchange.request_head.startswith(b"GET /a?b=1 HTTP/1.1\r\n")
    assert b"Proxy-Authorization" not in exchange.request_head
    assert exchange.ip_address is None


async def test_a_header_with_a_line_break_is_never_sent(tmp_path: Path) -> None:
    async with (
        scripted(lambda n, _: (ok(b"x"), False)) as server,
        make_fetcher(tmp_path, allow_private_networks=True) as fetcher,
    ):
        exchange = await fetcher.fetch(
            f"http://127.0.0.1:{server.port}/",
            headers=[("X-Note", "a\r\nX-Injected: 1")],
            via="browser",
        )
    assert exchange.failure is not None and exchange.failure.kind is FailureKind.PROTOCOL
    assert server.requests == []


async def test_plain_http_builds_no_tls_context(tmp_path: Path) -> None:
    # Loading the system's CA certificates costs about 50 ms per worker process: a run
    # of http:// pages never pays it.
    async with (
        scripted(lambda n, _: (ok(b"x"), False)) as server,
        make_fetcher(tmp_path, allow_private_networks=True) as fetcher,
    ):
        assert (await fetcher.fetch(f"http://127.0.0.1:{server.port}/")).ok
        assert "_verifying" not in vars(fetcher) and "_not_verifying" not in vars(fetcher)
