"""Running the web application inside ``archiver run`` (or alone) with uvicorn.

The daemon owns the signals: it sets ``stop`` on SIGTERM/SIGINT, and the server then
stops accepting connections and gives requests in flight ``web.shutdown_timeout``
seconds to finish (at most ``grace``: the daemon's own stop is bounded). Run alone
(``stop`` not given), it handles the signals itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
from collections.abc import Iterator

import uvicorn

from archiver.app import Archive
from archiver.config import Settings
from archiver.errors import ConfigError
from archiver.web.app import create_app
from archiver.web.tokens import active_token_count

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(archive: Archive, settings: Settings) -> None:
    """Refuse to listen beyond this machine while no token exists: the pages would only
    ever answer 401, and an operator who meant to open them has not finished set-up."""
    host = settings.web.host
    if is_loopback(host) or active_token_count(archive.db) > 0:
        return
    raise ConfigError(
        f"web.host is {host!r}, not a loopback address, and no access token exists: "
        "create one first (archiver token create --role admin --name YOUR-NAME), "
        'or set web.host = "127.0.0.1"'
    )


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the daemon decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _config(archive: Archive, settings: Settings, grace: float | None = None) -> uvicorn.Config:
    shutdown = settings.web.shutdown_timeout
    if grace is not None:
        shutdown = min(shutdown, grace)
    return uvicorn.Config(
        create_app(archive, settings),
        host=settings.web.host,
        port=settings.web.port,
        log_level="warning",
        # Access logs carry paths only; tokens travel in headers and form bodies, never
        # in URLs, so nothing secret is logged either way.
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=max(1, int(shutdown)),
        lifespan="off",
    )


async def serve(
    archive: Archive,
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    grace: float | None = None,
) -> None:
    check_exposure(archive, settings)
    server = _Server(_config(archive, settings, grace))
    own_signals = stop is None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if own_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

    async def stopper() -> None:
        await stop.wait()
        server.should_exit = True

    watcher = asyncio.create_task(stopper())
    try:
        try:
            sockets = [_bind(settings.web.host, settings.web.port)]
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {settings.web.host}:{settings.web.port} "
                f"(web.host, web.port): {exc.strerror}"
            ) from exc
        log.info(
            "web pages at http://%s:%d/", _display(settings.web.host), sockets[0].getsockname()[1]
        )
        await server.serve(sockets=sockets)
    finally:
        watcher.cancel()
        if own_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _display(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
