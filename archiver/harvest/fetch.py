"""Fetching a report's web page (or file) by URL, within size and time limits."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from archiver.config import NetworkSettings
from archiver.errors import FetchError, ReportTooLargeError
from archiver.net.guard import check_host


@dataclass(frozen=True)
class FetchedReport:
    data: bytes
    content_type: str | None
    final_url: str
    status: int


def fetch_report(
    url: str,
    network: NetworkSettings,
    *,
    max_bytes: int,
    transport: httpx.BaseTransport | None = None,
) -> FetchedReport:
    """GET ``url`` following redirects; the body is read up to ``max_bytes``."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FetchError(f"{url}: not an http(s) URL")
    client = httpx.Client(
        proxy=network.proxy or None,
        timeout=network.timeout,
        follow_redirects=False,
        headers={"User-Agent": network.user_agent},
        transport=transport,
    )
    try:
        with client:
            current = url
            for _ in range(network.max_redirects + 1):
                _guard(current, network)
                with client.stream("GET", current) as response:
                    if response.is_redirect and "location" in response.headers:
                        current = str(response.url.join(response.headers["location"]))
                        continue
                    if response.status_code >= 400:
                        raise FetchError(f"{url}: the server answered HTTP {response.status_code}")
                    body = _read_capped(response, max_bytes, url)
                    return FetchedReport(
                        body,
                        response.headers.get("content-type"),
                        str(response.url),
                        response.status_code,
                    )
            raise FetchError(f"{url}: more than {network.max_redirects} redirects")
    except httpx.TimeoutException as exc:
        raise FetchError(f"{url}: timed out after {network.timeout:g}s") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc


def _guard(url: str, network: NetworkSettings) -> None:
    # Through a proxy the proxy resolves the name; the capture layer checks the address
    # actually connected to. Without one, refuse private destinations up front.
    if network.allow_private_networks or network.proxy:
        return
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FetchError(f"{url}: redirected to a non-http(s) URL")
    check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def _read_capped(response: httpx.Response, max_bytes: int, url: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ReportTooLargeError(
            f"{url}: {int(declared)} bytes, over the {max_bytes} byte limit (harvest.max_report_bytes)"
        )
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise ReportTooLargeError(
                f"{url}: more than {max_bytes} bytes (harvest.max_report_bytes)"
            )
        chunks.append(chunk)
    return b"".join(chunks)
