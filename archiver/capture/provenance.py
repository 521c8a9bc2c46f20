"""A snapshot's provenance record: how, when, from where and with what it was captured
(the metadata record of its WARC, DESIGN.md "WARC layout"), and the software versions it
names. Pure: built from the capture's input, never from the network or the clock.
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any

from archiver import __version__
from archiver.capture.exchange import Exchange

if TYPE_CHECKING:
    from archiver.capture.snapshot import CaptureInput, MainDocument

__all__ = ["failure_record", "provenance_record", "software_versions"]


def failure_record(exchange: Exchange) -> dict[str, str] | None:
    if exchange.failure is None:
        return None
    return {"kind": str(exchange.failure.kind), "message": exchange.failure.message}


@functools.cache
def _package_versions() -> dict[str, str]:
    # Reading package metadata parses files: once per process, not per snapshot.
    versions = {"archiver": __version__, "python": platform.python_version()}
    for package in ("httpx", "httpcore", "isal", "playwright", "yt-dlp"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def software_versions(browser_version: str | None = None) -> dict[str, str]:
    versions = dict(_package_versions())
    if browser_version:
        versions["chromium"] = browser_version
    return versions


def _exchange_record(exchange: Exchange) -> dict[str, Any]:
    tls = exchange.tls
    return {
        "url": exchange.url,
        "method": exchange.method,
        "status": exchange.status,
        "via": exchange.via,
        "resource_type": exchange.resource_type,
        "ip_address": exchange.ip_address,
        "resolver_answers": list(exchange.resolver_answers),
        "started_at": exchange.started_at.isoformat(),
        "timings": dict(exchange.timings),
        "truncated": exchange.truncated,
        "failure": failure_record(exchange),
        "redacted_headers": list(getattr(exchange, "redacted_headers", ())),
        "tls": None
        if tls is None
        else {
            "version": tls.version,
            "cipher": tls.cipher,
            "verified": tls.verified,
            "verify_error": tls.verify_error,
            "peer_chain_pem": list(tls.peer_chain_pem),
        },
    }


def provenance_record(
    capture: CaptureInput, snapshot_id: str, main: MainDocument, chain: Sequence[Exchange]
) -> dict[str, Any]:
    """The metadata record: how, when, from where and with what it was captured;
    ``chain``: the main document's redirect chain."""
    page = capture.page
    exchanges = list(capture.http_chain) + (list(page.exchanges) if page else [])
    exchanges += capture.extra_exchanges
    truncated = [
        {"url": e.url, "reason": e.truncated, "via": e.via} for e in exchanges if e.truncated
    ]
    return {
        "snapshot_id": snapshot_id,
        "source": {"id": capture.source_id, "url": capture.url, "cited_as": list(capture.cited_as)},
        "capture": {
            "started_at": capture.started_at.isoformat(),
            "finished_at": capture.finished_at.isoformat(),
            "methods": list(capture.methods),
            "notes": list(capture.notes),
        },
        "main": {
            "status": main.status,
            "final_url": main.final_url,
            "payload_sha256": main.payload_sha256,
            "failure": main.failure_kind,
            "failure_detail": main.failure_message,
        },
        "redirect_chain": [_exchange_record(hop) for hop in chain],
        "requests": len(exchanges),
        "truncated": truncated,
        "limits_hit": list(page.limits_hit) if page else [],
        "browser": None
        if page is None
        else {
            "version": page.browser_version,
            "user_agent": page.user_agent,
            "title": page.title,
            "final_url": page.final_url,
            "events": [dict(e) for e in page.events],
            "timings": dict(page.timings),
        },
        "settings": dict(capture.settings),
        "software": software_versions(page.browser_version if page else None),
        **({"platform": dict(capture.platform)} if capture.platform is not None else {}),
    }
