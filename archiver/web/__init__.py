"""The daemon's web side: evidence-status pages, the JSON API, downloads (docs/web.md).

``create_app(archive, settings)`` builds the FastAPI application; ``serve(archive,
settings)`` runs it with uvicorn until stopped. Both import FastAPI only when called,
so the CLI's other commands do not pay for loading it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from archiver.app import Archive
    from archiver.config import Settings


def create_app(archive: Archive, settings: Settings | None = None) -> FastAPI:
    from archiver.web.app import create_app as build

    return build(archive, settings)


async def serve(
    archive: Archive,
    settings: Settings | None = None,
    *,
    stop: asyncio.Event | None = None,
    grace: float | None = None,
) -> None:
    from archiver.web.server import serve as run

    await run(archive, settings or archive.settings, stop=stop, grace=grace)


__all__ = ["create_app", "serve"]
