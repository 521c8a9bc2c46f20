"""The sections of the settings (:mod:`archiver.config`), one class each, with their
defaults and checks; kept apart from the loading so each file stays readable. Import
them from :mod:`archiver.config`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from archiver.config_display import Redact, redact_url

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> float:
    """Seconds from a number or a string such as "90", "15m", "6h", "2d"."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30, '15m', '6h' or '2d'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION_RE.match(value)):
        seconds = float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    else:
        raise ValueError(f"expected a duration such as 30, '15m', '6h' or '2d', got {value!r}")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


# A field in seconds that also accepts "15m", "6h", "2d" in TOML and the environment.
Duration = Annotated[float, BeforeValidator(parse_duration)]

# Settings that hold credentials: masked wherever settings are shown (the API,
# archiver.config_display), and kept out of repr(). Mark every new one.
Secret = Annotated[str, Redact.SECRET, Field(repr=False)]
# URLs that may carry user:password or ?token=...: shown without them.
CredentialUrl = Annotated[str, Redact.URL, Field(repr=False)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StorageSettings(_Section):
    root: Path = Path("storage")
    # Empty means SQLite at <root>/archiver.db. Any SQLAlchemy URL works, e.g.
    # postgresql+psycopg://user@host/db
    database_url: CredentialUrl = ""
    # Object storage (docs/storage.md): "s3://bucket/prefix" keeps WARCs in an
    # S3-compatible bucket instead of <root>/warcs. Empty: the storage folder.
    warc_url: Annotated[str, Redact.URL] = ""
    # Empty: AWS_ENDPOINT_URL, else AWS itself; region and keys: else boto3's usual
    # environment variables and files (AWS_REGION, AWS_ACCESS_KEY_ID, ...).
    s3_endpoint: Annotated[str, Redact.URL] = ""
    s3_region: str = ""
    s3_access_key_id: Secret = ""
    s3_secret_access_key: Secret = ""
    # Larger files go up in parts of this size (four in flight, five in memory at most).
    s3_part_size: int = Field(default=16 * 1024 * 1024, ge=5 * 1024 * 1024)
    # > 0: every object written under S3 Object Lock for this many days, in this mode
    # (COMPLIANCE: nobody can delete or overwrite it, not even the bucket's owner).
    object_lock_days: int = Field(default=0, ge=0)
    object_lock_mode: Literal["COMPLIANCE", "GOVERNANCE"] = "COMPLIANCE"

    @field_validator("warc_url")
    @classmethod
    def _s3_url(cls, value: str) -> str:
        if value and not re.match(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", value):
            raise ValueError("must be s3://bucket/prefix (or empty: the storage folder)")
        return value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.root / 'archiver.db').resolve()}"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and value.split(":", 1)[0].split("+", 1)[0] not in {"sqlite", "postgresql"}:
            raise ValueError("only sqlite:/// and postgresql:// URLs are supported")
        return value


class HarvestSettings(_Section):
    max_report_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    # Total time for fetching one report or feed by URL, redirects and body included,
    # whatever the server or proxy does (network.timeout is per read).
    fetch_deadline: Duration = Field(default=300.0, gt=0)


class NetworkSettings(_Section):
    # http://host:port or socks5://host:port; used by every fetcher.
    proxy: CredentialUrl = ""
    allow_private_networks: bool = False
    # Through a proxy, also resolve every name here first and refuse private answers.
    # Off by default: it sends each name to the local resolver (a leak when the proxy
    # is Tor). See docs/security.md.
    resolve_before_proxy: bool = False
    user_agent: str = (
        "evidence-archiver/0.1 (+https://github.com/; human-rights evidence preservation)"
    )
    timeout: Duration = Field(default=30.0, gt=0)
    max_redirects: int = Field(default=10, ge=0, le=50)

    @field_validator("proxy")
    @classmethod
    def _proxy_scheme(cls, value: str) -> str:
        if value:
            parts = urlsplit(value)
            if parts.scheme not in {"http", "https", "socks5", "socks5h"} or not parts.hostname:
                raise ValueError("expected http://host:port or socks5://host:port")
        return value

    def proxy_for_display(self) -> str:
        """The proxy URL without user, password or query values: safe to log."""
        return redact_url(self.proxy)


class CaptureSettings(_Section):
    browser: Path = Path("/usr/bin/chromium")
    # How each kind of source is captured: "http" (the bytes the server sent), "browser"
    # (what a reader saw: every request the page made, screenshot, DOM, PDF print), or
    # both. Keys are source kinds (see docs/harvest.md); "default" covers the rest.
    modes: dict[str, tuple[str, ...]] = {
        "article": ("http", "browser"),
        "document": ("http",),
        "image": ("http",),
        "media": ("http",),
        "default": ("browser",),
    }
    # Sources captured at once, and of those, browser captures at once (each is a
    # Chromium tab: memory and CPU bound).
    concurrency: int = Field(default=16, ge=1, le=1000)
    browser_concurrency: int = Field(default=2, ge=1, le=64)
    # Processes for plain-HTTP captures of a large run (one process archives about one
    # core's worth of pages): 0 = one per core, 1 = none (everything in this process).
    # Each gets whole hosts; the daemon (which runs other threads) never forks.
    workers: int = Field(default=0, ge=0, le=64)
    # Politeness: connections per host, and the least time between two requests to one
    # host (a Retry-After from the host lengthens it).
    per_host_concurrency: int = Field(default=2, ge=1, le=256)
    per_host_interval: Duration = 0.5
    # Limits: a capture that hits one records what it got, marks it (WARC-Truncated,
    # provenance), and moves on.
    page_budget: Duration = 60.0
    max_response_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    # Of a body, what the browser is given to render (decoded): the WARC keeps the body
    # as received up to max_response_bytes. Every byte handed to Chromium passes through
    # Playwright's driver as base64 JSON, several copies at once: a 1 GiB gzip bomb
    # decoded to 100 MiB cost the capture over a gigabyte.
    browser_max_body_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    max_snapshot_bytes: int = Field(default=1024 * 1024 * 1024, gt=0)
    max_resources: int = Field(default=1000, ge=1)
    screenshot_max_height: int = Field(default=20000, ge=100)
    # gzip level of WARC records: 1 compresses news pages 2.5x faster than 6 for files
    # about 15% larger (docs/benchmarks.md). Any level reads the same everywhere.
    # Levels 1-3 use ISA-L (about 4x faster than zlib's 1 at the same size).
    warc_compression_level: int = Field(default=1, ge=1, le=9)
    # An extra CA bundle (PEM) to trust besides the system's, e.g. a corporate proxy's.
    # Certificates that do not verify are still captured, and recorded as unverified.
    extra_ca_file: Path | None = None
    # One capture or check per source at a time, whatever runs: a runner claims each
    # source for this long, renews the claim every third of it while it works, and
    # releases it when the capture is recorded. A runner that dies (kill -9, a lost
    # machine) leaves its sources to others this long after its last renewal.
    lease: Duration = Field(default=300.0, gt=0)

    @field_validator("modes")
    @classmethod
    def _known_modes(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for kind, modes in value.items():
            if not modes or not set(modes) <= {"http", "browser"}:
                raise ValueError(f"modes.{kind}: expected a non-empty list of 'http', 'browser'")
        if "default" not in value:
            raise ValueError("modes needs a 'default' entry")
        return value


class CheckSettings(_Section):
    # An accusing state (dead, removed, altered, redirected) needs a second observation
    # at least this long after the first. 0 is allowed (tests).
    confirm_after: Duration = 6 * 3600.0
    # Re-check intervals by the source's age (time since first cited): the entry with the
    # largest age not above the source's age applies. Frequent at first, slower later.
    intervals: dict[str, Duration] = {"0": 3 * 3600.0, "3d": 86400.0, "30d": 7 * 86400.0}
    # Each next check time moves by up to this share of its interval (spreads hosts).
    jitter: float = Field(default=0.1, ge=0, le=0.5)
    # Blocked and unreachable sources back off: interval doubled per failure, capped.
    max_backoff: Duration = 7 * 86400.0
    # Checks in flight at once, and sources per batch (the outage guard judges a batch).
    concurrency: int = Field(default=64, ge=1, le=5000)
    batch_size: int = Field(default=500, ge=1)
    # How often `archiver run` looks for due checks (seconds).
    tick: Duration = Field(default=30.0, gt=0)
    # Time for one probe, redirects included.
    probe_budget: Duration = Field(default=30.0, gt=0)
    # Main text similarity to the baseline at or above which the source is unchanged
    # (small edits such as a fixed typo); below it the source is altered.
    min_similarity: float = Field(default=0.9, gt=0, le=1)
    # Outage guard: control probes. Each batch fetches these (through the network path
    # the checks use, proxy included) at its start and its end; when none answers, or
    # our resolver answers for none of their names, the batch is degraded: no source
    # changes state. Three operators with networks of their own (Google, Cloudflare,
    # Wikimedia), so one provider's outage or one country's block is not taken for ours.
    # Empty: no control probes (see outage_failure_share). docs/recheck.md.
    canary_urls: tuple[str, ...] = (
        "https://www.google.com/generate_204",
        "https://www.cloudflare.com/cdn-cgi/trace",
        "https://www.wikipedia.org/",
    )
    # Only when canary_urls is empty, a guess: a batch where at least this share of
    # checks failed with network errors, across at least outage_min_sites unrelated
    # sites, is degraded (a report citing many dead sites looks the same).
    outage_failure_share: float = Field(default=0.6, gt=0, le=1)
    outage_min_sites: int = Field(default=5, ge=1)
    # How long a host's not-found fingerprint (soft-404 detection) is trusted.
    not_found_refresh: Duration = 7 * 86400.0
    # Capture a new snapshot when a source is confirmed altered.
    recapture_altered: bool = True
    # YouTube sources are checked through yt-dlp (title, description, duration) and
    # Facebook posts by their text (with the operator's session); false: the light
    # HTTP probe for every source.
    platform_probes: bool = True
    # A check's claim on each source of its batch, as capture.lease.
    lease: Duration = Field(default=300.0, gt=0)

    @field_validator("canary_urls")
    @classmethod
    def _canaries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r}: expected an http:// or https:// URL")
        return value

    @field_validator("intervals")
    @classmethod
    def _ages(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("needs at least one entry")
        for age, every in value.items():
            parse_duration(age)
            if every <= 0:
                raise ValueError(f"intervals.{age}: must be more than 0")
        return value

    def interval_table(self) -> list[tuple[float, float]]:
        """(age, interval) pairs in seconds, youngest first."""
        return sorted((parse_duration(age), every) for age, every in self.intervals.items())


class NotifySettings(_Section):
    # State changes (and degraded runs) are sent here as one JSON POST per batch.
    # The whole URL is a credential at most services (Slack, Discord: in the path).
    webhook_url: Annotated[str, Redact.SECRET_PATH_URL, Field(repr=False)] = ""
    # E-mail through SMTP when smtp_host and email_to are set. The password comes from
    # ARCHIVER_NOTIFY__SMTP_PASSWORD and is never logged.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_user: str = ""
    smtp_password: Secret = ""
    email_from: str = "archiver@localhost"
    email_to: tuple[str, ...] = ()
    # Changes are collected for this long and sent together.
    batch_window: Duration = 60.0
    # A failed delivery is retried with back-off, this many times at most.
    max_attempts: int = Field(default=8, ge=1)
    # One delivery (a webhook POST, an e-mail), all included: a total deadline.
    timeout: Duration = Field(default=20.0, gt=0)

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in {"http", "https"}:
            raise ValueError("expected an http(s) URL")
        return value


class IntegritySettings(_Section):
    tsa_urls: Annotated[tuple[str, ...], Redact.URL] = (
        "https://freetsa.org/tsr",
        "http://timestamp.digicert.com",
    )
    # Seconds for one TSA request, all included (a total deadline); a TSA that does not
    # answer within it leaves the stamp pending.
    tsa_timeout: Duration = Field(default=30.0, gt=0)
    # Ed25519 signing keys (private key 0600). None: <storage.root>/keys.
    key_dir: Path | None = None
    # How often a signed, timestamped head of the custody log is sealed (when the log
    # has grown since the last one).
    custody_head_interval: Duration = Field(default=86400.0, gt=0)
    # Fingerprints of the signing keys the organisation published: archiver verify fails
    # anything signed by another key (as --key does). Empty: verify prints the key it saw.
    trusted_keys: tuple[str, ...] = ()
    # Root certificates (PEM files) of the TSAs, as each authority publishes it: every
    # package bundles the root of each of its tokens, so they verify years later. Without
    # one, a root the token carries or the system's trust store is used, if any.
    tsa_roots: tuple[Path, ...] = ()
    # Who captures: the organisation and the person (or team) running the archiver,
    # written into every snapshot's manifest and WARC warcinfo with the OS account.
    organisation: str | None = None
    operator: str | None = None

    @field_validator("tsa_urls")
    @classmethod
    def _http_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if urlsplit(url).scheme not in {"http", "https"}:
                raise ValueError(f"not an http(s) URL: {url!r}")
        return value

    @field_validator("trusted_keys")
    @classmethod
    def _fingerprints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from archiver.integrity.pins import normalize_fingerprint

        return tuple(normalize_fingerprint(v) for v in value)


class DaemonSettings(_Section):
    inbox_poll_interval: Duration = 5.0
    # Capture new sources as they arrive (off: the daemon only takes in reports).
    capture: bool = True
    # Re-check captured sources on their schedule (off: no checks, no notifications).
    check: bool = True
    log_level: str = "INFO"
    # Who runs captures, checks, stamping and notifications (docs/scale.md): "auto" is
    # "procrastinate" on PostgreSQL (tasks for any number of `archiver worker`) and
    # "in-process" on SQLite (everything inside `archiver run`).
    queue: Literal["auto", "procrastinate", "in-process"] = "auto"
    # How often a worker tells the database it is alive; a worker silent for three of
    # these is taken for dead and its task is handed to another (stalled-job retry).
    worker_heartbeat: Duration = Field(default=10.0, gt=0)

    @field_validator("inbox_poll_interval")
    @classmethod
    def _positive(cls, seconds: float) -> float:
        if seconds <= 0:
            raise ValueError("must be more than 0")
        return seconds

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
        return level


class PlatformsSettings(_Section):
    """YouTube and Facebook steps of a capture (docs/platforms.md)."""

    # The video of a YouTube (or Facebook) source, through yt-dlp: best format up to
    # this height, and not beyond this size (a bigger one is recorded as skipped).
    video: bool = True
    video_max_height: int = Field(default=720, ge=144, le=4320)
    video_max_bytes: int = Field(default=2 * 1024 * 1024 * 1024, gt=0)
    # The whole video download, every request included: then it is given up and the
    # snapshot says so (incomplete: "the video download ran out of time after N s").
    video_deadline: Duration = Field(default=1800.0, gt=0)
    # Subtitle languages to keep (yt-dlp language codes or regexes; "all" for all).
    subtitle_languages: tuple[str, ...] = ("all",)
    # Full-size pictures of a Facebook post fetched beside the page, at most this many.
    facebook_max_images: int = Field(default=20, ge=0, le=500)
    # An authenticated Facebook session the operator supplies: a Playwright storage-state
    # JSON file or a Netscape cookies.txt. Its values are sent, never stored.
    facebook_session: Path | None = None
    # Another markers file instead of config/platform_markers.toml.
    markers_file: Path | None = None


class WebSettings(_Section):
    """The web pages and API that ``archiver run`` serves (docs/web.md)."""

    # Serve the pages and API from `archiver run`.
    enabled: bool = True
    # Loopback by default. Any other address needs at least one API token (the server
    # refuses to start otherwise): the evidence is not for everyone.
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Signs the login cookie. Empty: a random secret kept in <storage.root>/web/secret.
    session_secret: Secret = ""
    # How long a login lasts.
    session_max_age: Duration = Field(default=7 * 86400.0, gt=0)
    # Mark the login cookie Secure (sent over HTTPS only): set it when a TLS proxy is in front.
    secure_cookies: bool = False
    # On SIGTERM, requests in flight get this long to finish (at most 5 s in archiver run).
    shutdown_timeout: Duration = Field(default=10.0, gt=0)
    # How often report feeds (RSS, Atom, listing pages) are polled for new reports.
    feed_poll_interval: Duration = Field(default=3600.0, gt=0)
    # ReplayWeb.page's own files (its unpacked npm package: ui.js, sw.js), served by the
    # archiver to replay snapshots in the source page; ./dev run installs them here.
    replay_viewer: Path = Path(".tools-npm/replaywebpage")


class WitnessSettings(_Section):
    """Copies held by public web archives (docs/witnesses.md): earlier copies of sources
    we could not preserve ourselves, and an independent witness of live ones."""

    # Ask public web archives at all (false: no archive is ever contacted).
    enabled: bool = True
    # Memento TimeMaps (RFC 7089) asked in this order for copies of a source: the
    # source's URL is appended to each. An aggregator (many archives at once) and the
    # Wayback Machine's own (the aggregator may miss it or be down).
    timemaps: Annotated[tuple[str, ...], Redact.URL] = (
        "http://timetravel.mementoweb.org/timemap/link/",
        "https://web.archive.org/web/timemap/link/",
    )
    # Wayback CDX APIs asked when no TimeMap listed a copy (its replay prefix is the
    # same host's /web/).
    cdx_urls: Annotated[tuple[str, ...], Redact.URL] = ("https://web.archive.org/cdx/search/cdx",)
    # Look up copies by themselves for sources our capture did not preserve (the daemon,
    # after each capture batch); false: only `archiver witnesses SOURCE` asks.
    lookup_unpreserved: bool = True
    # Time for one request to an archive, all included (TimeMaps can be large).
    timeout: Duration = Field(default=120.0, gt=0)
    # Mementos tried, nearest first, when the nearest cannot be fetched.
    max_tries: int = Field(default=3, ge=1, le=20)
    # Save Page Now: ask the Wayback Machine to capture each new source right after our
    # own capture (needs an archive.org account's S3-style keys, docs/witnesses.md).
    save_page_now: bool = False
    save_page_now_url: Annotated[str, Redact.URL] = "https://web.archive.org/save"
    save_page_now_access_key: Secret = ""
    save_page_now_secret_key: Secret = ""
    # A request Save Page Now refused or failed is retried with back-off this often at most.
    save_page_now_max_attempts: int = Field(default=6, ge=1, le=50)

    @model_validator(mode="after")
    def _keys_for_save_page_now(self) -> WitnessSettings:
        if self.save_page_now and not (
            self.save_page_now_access_key and self.save_page_now_secret_key
        ):
            raise ValueError(
                "save_page_now needs save_page_now_access_key and save_page_now_secret_key "
                "(an archive.org account's keys: https://archive.org/account/s3.php)"
            )
        return self

    @field_validator("timemaps", "cdx_urls", "save_page_now_url")
    @classmethod
    def _http_urls(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        for url in (value,) if isinstance(value, str) else value:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r}: expected an http:// or https:// URL")
        return value
