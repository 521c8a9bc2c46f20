"""What every request handler needs, kept on ``app.state.ctx``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.templating import Jinja2Templates

from archiver.app import Archive
from archiver.config import Settings


@dataclass(frozen=True)
class WebContext:
    archive: Archive
    settings: Settings
    templates: Jinja2Templates
