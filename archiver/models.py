"""The domain model as SQLAlchemy 2 tables: reports, citations, sources, snapshots,
observations and the custody log.

Schema changes go through Alembic migrations in archiver/store/migrations; a test checks
that the migrations and these models agree on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
        list[dict[str, Any]]: JSON,
    }


class Report(Base):
    """A document that cites sources. Its original bytes are kept under storage/reports."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str | None] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    encoding: Mapped[str | None] = mapped_column(String(32))
    # Where it came from as the operator gave it: a path, a URL, "inbox:<name>".
    origin: Mapped[str] = mapped_column(Text)
    # The final URL when fetched from the web (redirects followed).
    fetched_url: Mapped[str | None] = mapped_column(Text)
    # Path of the stored original, relative to storage.root.
    stored_path: Mapped[str] = mapped_column(Text)
    ingested_at: Mapped[datetime]
    # {"skipped": [{"url", "reason"}], "warnings": [...]}: what the harvest left out and why.
    harvest_notes: Mapped[dict[str, Any]]

    citations: Mapped[list[Citation]] = relationship(
        back_populates="report", order_by="Citation.position", cascade="all, delete-orphan"
    )


class Source(Base):
    """One normalized URL, cited by one or more citations."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    # Unique key on the hash, not the URL: B-tree keys are size-limited on PostgreSQL
    # and cited URLs can be thousands of characters long.
    url_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    state_since: Mapped[datetime]
    first_seen_at: Mapped[datetime]
    last_checked_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    # Capture bookkeeping: a source is captured until one snapshot preserves it; failed
    # attempts are retried with back-off.
    capture_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_capture_at: Mapped[datetime | None]
    # One capture or check of a source at a time, whatever runs (two daemons, a daemon
    # and `archiver capture`): the runner holding it, and until when (expires if it dies).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]

    citations: Mapped[list[Citation]] = relationship(back_populates="source")
    snapshots: Mapped[list[Snapshot]] = relationship(
        back_populates="source", order_by="Snapshot.started_at"
    )

    __table_args__ = (
        Index("ix_sources_state", "state"),
        Index("ix_sources_next_check_at", "next_check_at"),
        Index("ix_sources_next_capture_at", "next_capture_at"),
    )


class Citation(Base):
    """One citing occurrence of a source in a report: footnote marker and claim."""

    __tablename__ = "citations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    position: Mapped[int]
    marker: Mapped[str | None] = mapped_column(String(32))
    url_as_cited: Mapped[str] = mapped_column(Text)
    context: Mapped[str] = mapped_column(Text)

    report: Mapped[Report] = relationship(back_populates="citations")
    source: Mapped[Source] = relationship(back_populates="citations")

    __table_args__ = (
        UniqueConstraint("report_id", "position", name="uq_citations_report_position"),
        Index("ix_citations_source_id", "source_id"),
    )


class Snapshot(Base):
    """One capture of a source at one time: one immutable WARC file and its hashes.

    A row is written only after its WARC file is sealed (fsynced and renamed), so a row
    never points to a missing file. A failed attempt (DNS failure, refused connection)
    is a snapshot too: its WARC holds the provenance record of what was tried and seen.
    """

    __tablename__ = "snapshots"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    # "http", "browser" or both, in the order run.
    methods: Mapped[list[str]] = mapped_column(JSON)
    # Path relative to storage.root, its sha256 and size as written.
    warc_path: Mapped[str] = mapped_column(Text)
    warc_sha256: Mapped[str] = mapped_column(String(64))
    warc_size: Mapped[int] = mapped_column(BigInteger)
    # The main document: status, where the redirects ended, payload as received.
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    redirect_chain: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    payload_size: Mapped[int | None] = mapped_column(BigInteger)
    content_type: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    # Failure of the main document when there was no response.
    failure_kind: Mapped[str | None] = mapped_column(String(32))
    failure_message: Mapped[str | None] = mapped_column(Text)
    # None for plain http; False when the certificate did not verify (captured anyway).
    tls_verified: Mapped[bool | None] = mapped_column(Boolean)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    # Derived artefacts: [{"kind", "uri", "content_type", "size", "sha256"}].
    artefacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    records: Mapped[int] = mapped_column(Integer)
    # What the snapshot lacks: [{"artefact", "reason"}], [] when complete; None for
    # snapshots written before this was recorded.
    incomplete: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    source: Mapped[Source] = relationship(back_populates="snapshots")

    __table_args__ = (Index("ix_snapshots_source_id", "source_id"),)


class Observation(Base):
    """What one look at a source saw (a capture, later a check), and the state it implies.

    Append-only: the evidence behind every state change.
    """

    __tablename__ = "observations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    observed_at: Mapped[datetime]
    # "capture" or "check".
    via: Mapped[str] = mapped_column(String(16))
    snapshot_id: Mapped[str | None] = mapped_column(ForeignKey("snapshots.id"))
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    failure_kind: Mapped[str | None] = mapped_column(String(32))
    # The state this observation points to, and the state the source was given.
    implied_state: Mapped[str] = mapped_column(String(16))
    resulting_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_observations_source_id", "source_id", "observed_at"),)


class CustodyEvent(Base):
    """One entry of the custody log: who did what to which piece of evidence, and when.

    Append-only and hash-chained (archiver.integrity.custody): ``entry_hash`` is the
    sha256 of the canonical JSON of every other field including ``prev_hash``, the
    previous entry's ``entry_hash``. ``seq`` is unique, so two writers can never fork
    the chain.
    """

    __tablename__ = "custody_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime]
    # "system", "daemon", "cli:<user>", "web:<user>": who acted.
    actor: Mapped[str] = mapped_column(Text)
    # "capture", "check", "export", "download", "key_created", "key_rotated", ...
    action: Mapped[str] = mapped_column(String(32))
    # "snapshot", "source", "report", "key", "export": what it was done to.
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_custody_events_subject", "subject_type", "subject_id"),)


# --- Integrity records (issue 6): manifests, signatures, timestamp tokens -------------
# (tables for migration 0004 go below this line)


class SnapshotSeal(Base):
    """A snapshot's signed manifest (archiver.integrity.manifest): the exact canonical
    JSON bytes that were signed and timestamped, their sha256, the Ed25519 signature and
    the fingerprint of the key that made it. Written once with the snapshot's row;
    never updated or deleted."""

    __tablename__ = "snapshot_seals"

    snapshot_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("snapshots.id"), primary_key=True
    )
    manifest: Mapped[bytes] = mapped_column(LargeBinary)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime]


class CustodyHead(Base):
    """A signed statement of the custody log's head (its last ``seq`` and hash), so
    entries cut off the end of the chain are detectable. Timestamped like a manifest."""

    __tablename__ = "custody_heads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    # Canonical JSON {"format", "seq", "head_hash", "at"}: the bytes signed and stamped.
    document: Mapped[bytes] = mapped_column(LargeBinary)
    document_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime]


class TimestampRecord(Base):
    """One RFC 3161 stamp of one digest from one TSA: pending until a token is received
    and verified, then granted. A token, once stored, is never replaced."""

    __tablename__ = "timestamp_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "snapshot" (the manifest) or "custody_head" (the head document).
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    tsa_url: Mapped[str] = mapped_column(Text)
    # "pending" or "granted".
    status: Mapped[str] = mapped_column(String(16))
    token: Mapped[bytes | None] = mapped_column(LargeBinary)
    gen_time: Mapped[datetime | None]
    # TSA serial numbers can be 160 bits: kept as decimal text.
    serial: Mapped[str | None] = mapped_column(Text)
    tsa_certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime]
    received_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("digest", "tsa_url", name="uq_timestamp_tokens_digest_tsa"),
        Index("ix_timestamp_tokens_due", "status", "next_attempt_at"),
        Index("ix_timestamp_tokens_subject", "subject_type", "subject_id"),
    )


# --- Platform records (issue 4): YouTube and Facebook ---------------------------------
# (tables for migration 0005 go below this line)


class PlatformRecord(Base):
    """What the platform step of one snapshot found (YouTube, Facebook): the platform's
    own verdict on the content, the video fetched through yt-dlp (its sha256 as written
    into the snapshot's WARC), and the extracted metadata or post text. One per
    snapshot; immutable like the snapshot."""

    __tablename__ = "platform_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[str] = mapped_column(ForeignKey("snapshots.id"), unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    recorded_at: Mapped[datetime]
    # "youtube" or "facebook".
    platform: Mapped[str] = mapped_column(String(16))
    # The recogniser's verdict: detail (available, removed, private, age_restricted,
    # geo_blocked, login_wall, checkpoint, ...), the DESIGN state it implies, and why.
    detail: Mapped[str | None] = mapped_column(String(32))
    implied_state: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    # The video: "saved", "failed", "skipped" (too big, a playlist) or "none" (not tried).
    media_status: Mapped[str] = mapped_column(String(16))
    media_error: Mapped[str | None] = mapped_column(Text)
    media_sha256: Mapped[str | None] = mapped_column(String(64))
    media_size: Mapped[int | None] = mapped_column(BigInteger)
    ytdlp_version: Mapped[str | None] = mapped_column(String(32))
    # Title, description, duration, channel (YouTube); post text, image URLs (Facebook);
    # yt-dlp's format summary.
    extracted: Mapped[dict[str, Any]]
    # Whether an operator session was used, and where its values were redacted.
    session_used: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_platform_records_source_id", "source_id"),)


# --- Re-check (issue 5): check runs, state transitions, baselines ---------------------
# (tables for migration 0006 go below this line)


class CheckRun(Base):
    """One batch of checks. A degraded run (our own network was down) changed no state."""

    __tablename__ = "check_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # "daemon" or "cli": who started it.
    trigger: Mapped[str] = mapped_column(String(16))
    checked: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    degraded: Mapped[bool] = mapped_column(Boolean, default=False)
    degraded_reason: Mapped[str | None] = mapped_column(Text)
    # {"by_implied_state": {...}, "failures": {...}}
    summary: Mapped[dict[str, Any]]
    # The process running it ("host:pid:token", archiver.check.abandoned); NULL: a run
    # from before this was recorded.
    owner: Mapped[str | None] = mapped_column(String(255))
    # Set (with finished_at) when the run was found left unfinished by a process that
    # ended: its checks were not recorded.
    abandoned_reason: Mapped[str | None] = mapped_column(Text)


class CheckResult(Base):
    """What a check saw beyond the observation row: similarity to the baseline, the
    changed sentences, and whether its run was degraded (then it is no evidence)."""

    __tablename__ = "check_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id"), unique=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("check_runs.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    degraded: Mapped[bool] = mapped_column(Boolean, default=False)
    baseline_snapshot_id: Mapped[str | None] = mapped_column(ForeignKey("snapshots.id"))
    similarity: Mapped[float | None] = mapped_column(Float)
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    # Readable diff against the baseline: "- removed sentence", "+ added sentence".
    diff: Mapped[list[str]] = mapped_column(JSON)
    # An accusation seen but not yet confirmed, and when a confirming check counts.
    pending_state: Mapped[str | None] = mapped_column(String(16))
    confirm_at: Mapped[datetime | None]
    details: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_check_results_source_id", "source_id"),)


class StateTransition(Base):
    """A source's state changed: when, from what to what, why, and the observations
    that justified it (append-only)."""

    __tablename__ = "state_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    at: Mapped[datetime]
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    observation_ids: Mapped[list[int]] = mapped_column(JSON)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("check_runs.id"))
    # The snapshot captured because the source was found altered.
    snapshot_id: Mapped[str | None] = mapped_column(ForeignKey("snapshots.id"))

    __table_args__ = (Index("ix_state_transitions_source_id", "source_id", "at"),)


class Baseline(Base):
    """The main text of a source's first good snapshot: what later checks compare with.
    Written once, never replaced (its snapshot never changes; the literal text is read
    again from that snapshot's WARC when its form is older than the code's)."""

    __tablename__ = "baselines"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), primary_key=True)
    snapshot_id: Mapped[str] = mapped_column(ForeignKey("snapshots.id"))
    created_at: Mapped[datetime]
    # Digits and date words masked: the similarity score is computed on this form.
    normalized_text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    final_url: Mapped[str | None] = mapped_column(Text)
    # Literal form (figures and names kept; archiver.check.text.literal) and which
    # ("article-1": extracted article body, "page-1": whole visible text). NULL in rows
    # made before numbers counted (migration 0010): filled from the WARC at next check.
    main_text: Mapped[str | None] = mapped_column(Text)
    text_form: Mapped[str | None] = mapped_column(String(16))


class HostProfile(Base):
    """How a host answers a URL that cannot exist (soft-404 detection), refreshed now
    and then."""

    __tablename__ = "host_profiles"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    checked_at: Mapped[datetime]
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    normalized_text: Mapped[str] = mapped_column(Text)


class Notification(Base):
    """One state change (or degraded run) to tell the operator about, per channel
    ("webhook", "email"); sent in batches, retried with back-off until delivered."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_notifications_pending", "delivered_at", "next_attempt_at"),)


# --- Web access (issue 7): API tokens, report feeds -----------------------------------
# (tables for migration 0007 go below this line)


class ApiToken(Base):
    """A bearer token for the web pages and the API. Only its sha256 is stored: the
    token itself is shown once, when created, and cannot be recovered."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # "viewer" (status), "lawyer" (+ downloads), "admin" (+ adding reports, settings).
    role: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, to tell tokens apart in listings.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ReportFeed(Base):
    """A feed of reports (RSS, Atom, or a listing page) polled on a schedule."""

    __tablename__ = "report_feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    url_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    added_at: Mapped[datetime]
    added_by: Mapped[str] = mapped_column(Text)
    # Listing pages: a regular expression report links must match (None: links to
    # documents such as .pdf or .docx). Ignored for RSS and Atom.
    link_pattern: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_polled_at: Mapped[datetime | None]
    # The last poll's problem in one line, None when it went well.
    last_error: Mapped[str | None] = mapped_column(Text)


class FeedEntry(Base):
    """One report link a feed listed: remembered so it is harvested once."""

    __tablename__ = "feed_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("report_feeds.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    url_sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime]
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    # Why it could not be added (kept, and not retried automatically).
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("feed_id", "url_sha256", name="uq_feed_entries_url"),)


# --- Witnesses (issue 18): copies held by public web archives ------------------------
# (tables for migration 0011 go below this line)


class ThirdPartyCopy(Base):
    """A copy of the source held by a public web archive (a memento), fetched raw and
    kept in its own sealed WARC: its snapshot row is ours (we retrieved it), the copy is
    the archive's. Never counted as our own capture: its snapshot row has no
    ``http_status`` (the archived page's status is ``original_status`` here)."""

    __tablename__ = "third_party_copies"

    snapshot_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("snapshots.id"), primary_key=True
    )
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    # The archive holding it, by host name ("web.archive.org").
    archive: Mapped[str] = mapped_column(String(255))
    # The memento as the archive lists it, and the URL of its raw bytes we fetched.
    memento_url: Mapped[str] = mapped_column(Text)
    raw_url: Mapped[str] = mapped_column(Text)
    # When the archive captured the page (its Memento-Datetime).
    memento_datetime: Mapped[datetime]
    # The page's own status as the archive recorded it.
    original_status: Mapped[int | None]
    # The TimeMap (or CDX query) that listed it.
    listed_by: Mapped[str] = mapped_column(Text)
    # The moment the copy was chosen nearest to, and why that moment ("report_text":
    # the date the citing report names; "intake": when the report was taken in).
    target_at: Mapped[datetime]
    target_basis: Mapped[str] = mapped_column(String(16))
    retrieved_at: Mapped[datetime]

    __table_args__ = (Index("ix_third_party_copies_source_id", "source_id"),)


class WitnessLookup(Base):
    """One search of the archives for copies of a source: whom we asked, what each
    answered, and what came of it ("found", "none", "failed")."""

    __tablename__ = "witness_lookups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    asked_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    # [{"archive", "url", "result"}]: every TimeMap or CDX API asked, and its answer.
    archives: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    snapshot_id: Mapped[str | None] = mapped_column(ForeignKey("snapshots.id"))
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_witness_lookups_source_id", "source_id", "asked_at"),)


class LiveWitness(Base):
    """An independent archive asked to capture a source right after our snapshot
    (Save Page Now): the request, its retries, and the memento it made."""

    __tablename__ = "live_witnesses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    snapshot_id: Mapped[str] = mapped_column(ForeignKey("snapshots.id"), unique=True)
    service: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text)
    # "pending" (to ask), "running" (a job to poll), "done", "failed" (gave up).
    status: Mapped[str] = mapped_column(String(16))
    job_id: Mapped[str | None] = mapped_column(Text)
    memento_url: Mapped[str | None] = mapped_column(Text)
    memento_datetime: Mapped[datetime | None]
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None]
    # The witness's copy compared with ours (migration 0012): main-text similarity, and
    # the outcome in words ("matches our snapshot", "differs", "not compared: ...").
    similarity: Mapped[float | None] = mapped_column(Float)
    compared_at: Mapped[datetime | None]
    comparison: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_live_witnesses_due", "status", "next_attempt_at"),)
