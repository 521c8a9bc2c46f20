"""Which URL answers what, per-host settings, and the request log.

The registry is shared between the test thread (which scripts it between captures and
checks) and the server's event-loop thread (which reads it on every request), so every
access goes through one lock. Lookups are dictionary hits; nothing slow runs under the lock.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from tests.simweb.behaviours import Behaviour, Response
from tests.simweb.messages import LoggedRequest, Request
from tests.simweb.urls import normalize_host, normalize_url, other_scheme, url_host

RouteResult = Behaviour | bytes | str
Handler = Callable[[Request], RouteResult | Awaitable[RouteResult]]
Route = Behaviour | Handler

HostFailure = Literal["dns", "refused"]

NOT_FOUND_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
    "<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body>"
    "</html>\n"
)
GONE_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>410 Gone</title></head>\n"
    "<body><h1>Gone</h1><p>The requested resource is no longer available on this server."
    "</p></body></html>\n"
)


@dataclass
class HostConfig:
    """Settings of one simulated host.

    ``not_found_body`` is what unknown paths answer: with status 404, or with 200 when
    ``soft_404`` is set (sites that answer "page not found" with a success status).
    ``failure`` makes the proxy answer as if the host could not be resolved or refused the
    connection; ``override`` answers every URL of the host (a host-wide hang, say)."""

    name: str
    not_found_body: bytes = NOT_FOUND_PAGE.encode()
    not_found_content_type: str = "text/html; charset=utf-8"
    soft_404: bool = False
    latency: float | None = None
    failure: HostFailure | None = None
    override: Route | None = None

    def not_found(self) -> Response:
        status = 200 if self.soft_404 else 404
        return Response(status, self.not_found_body, content_type=self.not_found_content_type)


@dataclass
class _Entry:
    route: Route
    both_schemes: bool


@dataclass
class _Log:
    requests: list[LoggedRequest] = field(default_factory=list)
    connects: list[str] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


ROBOTS_NOT_FOUND = Response(404, "Not Found\n", content_type="text/plain; charset=utf-8")


class Registry:
    """URL -> route table, host settings and request log; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, _Entry] = {}
        self._hosts: dict[str, HostConfig] = {}
        self._log = _Log()
        self.default_latency = 0.0

    # --- scripting (test thread) -------------------------------------------------------

    def set_route(self, url: str, route: Route, *, both_schemes: bool = True) -> str:
        key = normalize_url(url)
        with self._lock:
            self._host_locked(url_host(key))
            self._routes[key] = _Entry(route, both_schemes)
        return key

    def delete_route(self, url: str) -> None:
        """Forget a URL (both schemes): it answers like any unknown path of its host."""
        key = normalize_url(url)
        with self._lock:
            self._host_locked(url_host(key))
            self._routes.pop(key, None)
            twin = other_scheme(key)
            if twin is not None:
                self._routes.pop(twin, None)

    def host(self, name: str) -> HostConfig:
        """The host's settings (created, i.e. the host becomes resolvable, on first use).
        Mutate the returned object only through :meth:`update_host`."""
        with self._lock:
            return self._host_locked(normalize_host(name))

    def update_host(self, name: str, **changes: object) -> HostConfig:
        with self._lock:
            config = self._host_locked(normalize_host(name))
            for key, value in changes.items():
                if not hasattr(config, key) or key == "name":
                    raise TypeError(f"unknown host setting {key!r}")
                setattr(config, key, value)
            return config

    def _host_locked(self, host: str) -> HostConfig:
        config = self._hosts.get(host)
        if config is None:
            config = self._hosts[host] = HostConfig(host)
        return config

    def urls(self) -> list[str]:
        with self._lock:
            return list(self._routes)

    # --- serving (event-loop thread) -----------------------------------------------------

    def failure_for(self, host: str) -> HostFailure | None:
        """How the proxy fails to reach ``host``; unknown hosts do not resolve."""
        with self._lock:
            config = self._hosts.get(host)
            return "dns" if config is None else config.failure

    def latency_for(self, host: str) -> float:
        with self._lock:
            config = self._hosts.get(host)
            if config is not None and config.latency is not None:
                return config.latency
            return self.default_latency

    def resolve(self, url: str) -> Route:
        """What answers a normalised URL: the host's override, the exact URL, the same URL
        over the other scheme (unless registered for one scheme only), then the host's
        robots.txt default (404) or not-found page."""
        host = url_host(url)
        with self._lock:
            config = self._hosts.get(host) or HostConfig(host)
            if config.override is not None:
                return config.override
            entry = self._routes.get(url)
            if entry is not None:
                return entry.route
            twin = other_scheme(url)
            entry = self._routes.get(twin) if twin is not None else None
            if entry is not None and entry.both_schemes:
                return entry.route
            if urlsplit(url).path == "/robots.txt":
                return ROBOTS_NOT_FOUND
            return config.not_found()

    # --- log --------------------------------------------------------------------------------

    def log_request(self, request: Request) -> None:
        with self._lock:
            self._log.requests.append(
                LoggedRequest(request.method, request.url, request.headers.copy())
            )
            self._log.hits[request.url] += 1

    def log_connect(self, authority: str) -> None:
        with self._lock:
            self._log.connects.append(authority)

    def log_error(self, message: str) -> None:
        with self._lock:
            self._log.errors.append(message)

    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log.requests)

    def connects(self) -> list[str]:
        with self._lock:
            return list(self._log.connects)

    def errors(self) -> list[str]:
        with self._lock:
            return list(self._log.errors)

    def hits(self, url: str) -> int:
        key = normalize_url(url)
        with self._lock:
            return self._log.hits[key]

    def clear_log(self) -> None:
        with self._lock:
            self._log = _Log()


def coerce_result(result: RouteResult) -> Behaviour:
    """Handlers may return a behaviour, or just a body (served 200 as HTML)."""
    if isinstance(result, Behaviour):
        return result
    if isinstance(result, bytes | str):
        return Response(200, result)
    raise TypeError(f"handler returned {type(result).__name__}, not a Behaviour/bytes/str")
