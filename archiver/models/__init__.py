"""The domain model as SQLAlchemy 2 tables: reports, citations, sources, snapshots,
observations and the custody log.

Schema changes go through Alembic migrations in archiver/store/migrations; a test checks
that the migrations and these models agree on SQLite and PostgreSQL.

One module per domain (base, sources, custody, checks, access, witnesses), all
re-exported here: import from ``archiver.models``. Every module is imported below, so
every table is on ``Base.metadata`` and relationship targets given as strings resolve.
"""

from __future__ import annotations

from archiver.models.access import ApiToken, FeedEntry, ReportFeed
from archiver.models.base import Base, UTCDateTime
from archiver.models.checks import (
    Baseline,
    CheckResult,
    CheckRun,
    HostProfile,
    Notification,
    StateTransition,
)
from archiver.models.custody import CustodyEvent, CustodyHead, SnapshotSeal, TimestampRecord
from archiver.models.sources import (
    Citation,
    Observation,
    PlatformRecord,
    Report,
    Snapshot,
    Source,
)
from archiver.models.witnesses import LiveWitness, ThirdPartyCopy, WitnessLookup

__all__ = [
    "ApiToken",
    "Base",
    "Baseline",
    "CheckResult",
    "CheckRun",
    "Citation",
    "CustodyEvent",
    "CustodyHead",
    "FeedEntry",
    "HostProfile",
    "LiveWitness",
    "Notification",
    "Observation",
    "PlatformRecord",
    "Report",
    "ReportFeed",
    "Snapshot",
    "SnapshotSeal",
    "Source",
    "StateTransition",
    "ThirdPartyCopy",
    "TimestampRecord",
    "UTCDateTime",
    "WitnessLookup",
]
