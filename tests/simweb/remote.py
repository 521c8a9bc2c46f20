"""The simulated web in a process of its own, and which process each request came from.

``SimulatedWeb`` serves from a thread of the test process. A capture run forks worker
processes only while its process runs no other thread (``archiver.capture.workers.
can_fork``), so a test of those workers runs the simulated web elsewhere: ``RemoteWeb``
starts it in a spawned process with fixed pages and reports, for every request to
them, the process (and its parent) whose socket sent it::

    with RemoteWeb([Page("https://a.example/1.pdf", b"%PDF", "application/pdf")]) as web:
        settings = make_settings(network__proxy=web.proxy_url,
                                 capture__extra_ca_file=str(web.ca_pem_path))
        ...
        web.hits()  # [Hit(url, pid, ppid), ...]

``client_process`` is the lookup itself (Linux ``/proc``), usable from a handler of an
in-process ``SimulatedWeb`` too (e.g. for a CLI run in a subprocess).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from tests.simweb.behaviours import Response, redirect, response
from tests.simweb.messages import Request


class Page(NamedTuple):
    url: str
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    # The first request for this page kills (SIGKILL) the process that sent it, as the
    # kernel's OOM killer would: only ever a child of the process that started the
    # RemoteWeb (a capture worker), never that process itself.
    kill_client: bool = False
    # Answer a 302 to this URL instead of the body.
    redirect_to: str | None = None
    # Seconds the answer is held back, so that overlapping requests can be seen.
    hold: float = 0.0


class Hit(NamedTuple):
    """One request to a page: its URL (normalised, as the server saw it) and the process
    that sent it, with that process's parent; ``0`` when it could not be found."""

    url: str
    pid: int
    ppid: int
    killed: bool = False
    # Requests to this URL's host being answered when it arrived, itself included.
    concurrent: int = 1


def _socket_inode(client_port: int, server_port: int) -> str | None:
    """The inode of the client's end of a loopback TCP connection (IPv4)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if (
                int(local.rsplit(":", 1)[1], 16) == client_port
                and int(remote.rsplit(":", 1)[1], 16) == server_port
                and inode != "0"
            ):
                return inode
    return None


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    # "pid (comm) state ppid ...": comm may contain spaces and parentheses.
    return int(stat.rpartition(")")[2].split()[1])


def client_process(client: tuple[str, int] | None, server_port: int) -> tuple[int, int]:
    """``(pid, ppid)`` of the process holding the client end of a connection to
    ``server_port`` from ``client`` (a request's ``client``); ``(0, 0)`` if not found.

    Must be called while the connection is open (from a handler). Takes a few
    milliseconds: it reads /proc/net/tcp and the file descriptors of every process."""
    if client is None:
        return 0, 0
    inode = _socket_inode(client[1], server_port)
    if inode is None:
        return 0, 0
    target = f"socket:[{inode}]"
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = f"/proc/{entry}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") == target:
                    return int(entry), _parent(int(entry))
            except OSError:
                continue
    return 0, 0


def recording(
    page: Page,
    port: Callable[[], int],
    hits: list[Hit],
    *,
    protected: int = 0,
    in_flight: Counter[str] | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """A handler answering ``page`` and noting which process asked (in ``hits``); for a
    ``kill_client`` page, killing the first asker if it is a child of ``protected``.
    ``in_flight`` counts requests being answered per host (share it between pages)."""
    flying = Counter[str]() if in_flight is None else in_flight

    async def handle(request: Request) -> Response:
        pid, ppid = client_process(request.client, port())
        kill = (
            page.kill_client
            and not any(hit.killed for hit in hits if hit.url == request.url)
            and protected not in (0, pid)
            and ppid == protected
        )
        host = request.host
        flying[host] += 1
        hits.append(Hit(request.url, pid, ppid, kill, flying[host]))
        try:
            if kill:
                os.kill(pid, signal.SIGKILL)
            if page.hold:
                await asyncio.sleep(page.hold)
        finally:
            flying[host] -= 1
        if page.redirect_to is not None:
            return redirect(page.redirect_to, 302)
        return response(page.body, content_type=page.content_type)

    return handle


def _serve(pages: Sequence[Page], protected: int, conn: Connection) -> None:
    """The spawned process: serve ``pages`` until told to stop (or the test is gone)."""
    from tests.simweb.web import SimulatedWeb

    hits: list[Hit] = []
    in_flight: Counter[str] = Counter()
    with SimulatedWeb() as web:
        for page in pages:
            handler = recording(
                page, lambda: web.port, hits, protected=protected, in_flight=in_flight
            )
            web.page(page.url, handler)
        conn.send((web.proxy_url, str(web.ca_pem_path)))
        while True:
            try:
                command = conn.recv()
            except EOFError:
                break
            if command == "hits":
                conn.send(list(hits))
            elif command == "requests":
                conn.send([(method, url) for method, url, _ in web.requests])
            elif command == "errors":
                conn.send(web.errors)
            else:
                break
    conn.close()


class RemoteWeb:
    """A ``SimulatedWeb`` serving ``pages`` from a spawned process (see the module)."""

    def __init__(self, pages: Sequence[Page], *, timeout: float = 30.0) -> None:
        self.pages = list(pages)
        self._timeout = timeout
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self.proxy_url = ""
        self.ca_pem_path = Path()

    def __enter__(self) -> RemoteWeb:
        # Spawned, not forked: the test process may run threads, and the child starts
        # its own (the proxy's event loop).
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_serve, args=(self.pages, os.getpid(), theirs), name="remote-simweb", daemon=True
        )
        process.start()
        theirs.close()
        self._conn, self._process = ours, process
        started = self._ask(None)
        assert isinstance(started, tuple)
        self.proxy_url, self.ca_pem_path = str(started[0]), Path(started[1])
        return self

    def _ask(self, command: str | None) -> object:
        assert self._conn is not None, "RemoteWeb is not running; use it as a context manager"
        if command is not None:
            self._conn.send(command)
        if not self._conn.poll(self._timeout):
            raise TimeoutError(f"the simulated web process did not answer {command!r}")
        return self._conn.recv()

    def hits(self) -> list[Hit]:
        """Every request to a page so far, in arrival order, with its client process."""
        answer = self._ask("hits")
        assert isinstance(answer, list)
        return answer

    def requests(self) -> list[tuple[str, str]]:
        """Every HTTP request so far (``method, url``), pages or not."""
        answer = self._ask("requests")
        assert isinstance(answer, list)
        return answer

    def errors(self) -> list[str]:
        answer = self._ask("errors")
        assert isinstance(answer, list)
        return answer

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, process = self._conn, self._process
        self._conn = self._process = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send("stop")
            conn.close()
        if process is not None:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
