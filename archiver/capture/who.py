"""Who captures: the organisation and operator (settings ``integrity.organisation`` and
``integrity.operator``) and the OS account the archiver runs as. Each snapshot's
warcinfo record, provenance and signed manifest name them."""

from __future__ import annotations

import getpass
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archiver.config import Settings


def captured_by(settings: Settings) -> dict[str, str | None]:
    return {
        "organisation": settings.integrity.organisation,
        "operator": settings.integrity.operator,
        "os_account": os_account(),
    }


def os_account() -> str | None:
    """The login name of the process's user; its uid when it has none."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else None
