"""Shared fixtures: temporary storage, a fixed clock, SQLite and PostgreSQL databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from archiver.config import Settings, load_settings
from tests.simweb.web import CANARY_URL

if TYPE_CHECKING:
    from archiver.app import Archive

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REPORTS = SHARED / "reports"
REPORT_001 = REPORTS / "001_283ad7e3e1991c06.txt"

POSTGRES_URL = os.environ.get(
    "ARCHIVER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


class FixedClock:
    """A clock tests move by hand, so every timestamp in an output is predictable."""

    def __init__(self, start: datetime = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings on a temporary storage root; keyword args become env-style overrides."""

    def build(database_url: str = "", **overrides: str) -> Settings:
        env = {
            "ARCHIVER_STORAGE__ROOT": str(tmp_path / "storage"),
            "ARCHIVER_STORAGE__DATABASE_URL": database_url,
            # The outage guard's control probe: the simulated web's connectivity check
            # (never the real sites of the default config; tests have no internet).
            "ARCHIVER_CHECK__CANARY_URLS": f'["{CANARY_URL}"]',
            # No public web archive is asked on its own (issue 18): a test that wants
            # earlier copies asks, or turns this on (tests/integration/witnesses).
            "ARCHIVER_WITNESSES__LOOKUP_UNPRESERVED": "false",
            # ReplayWeb.page's files where ./dev test installs them, whatever the cwd.
            "ARCHIVER_WEB__REPLAY_VIEWER": str(REPO / ".tools-npm" / "replaywebpage"),
        }
        for key, value in overrides.items():
            section, name = key.split("__", 1)
            env[f"ARCHIVER_{section.upper()}__{name.upper()}"] = value
        return load_settings(environ=env, config_file=REPO / "config" / "archiver.toml")

    return build


def _postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no server here"
        return False


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A brand-new, empty PostgreSQL database for one test, dropped afterwards."""
    if not _postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but {POSTGRES_URL} is unreachable")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")
    name = f"archiver_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'archiver.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def archive(
    make_settings: Callable[..., Settings], database_url: str, clock: FixedClock
) -> Iterator[Archive]:
    from archiver.app import Archive

    with Archive.open(make_settings(database_url), clock=clock) as opened:
        yield opened
