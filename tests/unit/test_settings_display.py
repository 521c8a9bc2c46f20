"""The settings as the web and API show them: every secret masked (pure functions).

Every field of every section is listed below as secret, URL-like or plain. A new field
makes the first test fail until someone decides which it is: a secret cannot be added
and shown by mistake.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel

from archiver.config import Settings, load_settings
from archiver.config_display import (
    SET,
    Redact,
    display_settings,
    redact_url,
    redaction_of,
)

# Whole value hidden: "(set)", or "" when unset.
SECRET = {
    "notify.smtp_password",
    "web.session_secret",
    "witnesses.save_page_now_access_key",
    "witnesses.save_page_now_secret_key",
    "storage.s3_access_key_id",
    "storage.s3_secret_access_key",
}
# URLs: shown without user:password and without query values.
URLS = {
    "network.proxy",
    "storage.database_url",
    "storage.warc_url",
    "storage.s3_endpoint",
    "integrity.tsa_urls",
    "witnesses.timemaps",
    "witnesses.cdx_urls",
    "witnesses.save_page_now_url",
}
# URLs whose path is a secret too (Slack, Discord and most webhook services).
SECRET_PATH_URLS = {"notify.webhook_url"}


def _fields(model: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found |= _fields(annotation, f"{prefix}{name}.")
        else:
            found[f"{prefix}{name}"] = info
    return found


FIELDS = _fields(Settings)

# Reviewed one by one: none of these holds a credential. (A path to a file that holds
# one, such as platforms.facebook_session, is not itself a secret.)
PLAIN = {
    "storage.s3_region",
    "storage.s3_part_size",
    "storage.object_lock_days",
    "storage.object_lock_mode",
    "witnesses.enabled",
    "witnesses.lookup_unpreserved",
    "witnesses.timeout",
    "witnesses.max_tries",
    "witnesses.save_page_now",
    "witnesses.save_page_now_max_attempts",
    "storage.root",
    "harvest.max_report_bytes",
    "harvest.fetch_deadline",
    "network.allow_private_networks",
    "network.resolve_before_proxy",
    "network.user_agent",
    "network.timeout",
    "network.max_redirects",
    "capture.browser",
    "capture.modes",
    "capture.concurrency",
    "capture.browser_concurrency",
    "capture.workers",
    "capture.per_host_concurrency",
    "capture.per_host_interval",
    "capture.page_budget",
    "capture.max_response_bytes",
    "capture.browser_max_body_bytes",
    "capture.max_snapshot_bytes",
    "capture.max_resources",
    "capture.screenshot_max_height",
    "capture.warc_compression_level",
    "capture.extra_ca_file",
    "capture.lease",
    "check.confirm_after",
    "check.intervals",
    "check.jitter",
    "check.max_backoff",
    "check.concurrency",
    "check.batch_size",
    "check.tick",
    "check.probe_budget",
    "check.min_similarity",
    "check.outage_failure_share",
    "check.outage_min_sites",
    "check.not_found_refresh",
    "check.recapture_altered",
    "check.platform_probes",
    "check.canary_urls",
    "check.lease",
    "integrity.tsa_timeout",
    "integrity.key_dir",
    "integrity.custody_head_interval",
    "integrity.trusted_keys",
    "integrity.tsa_roots",
    "integrity.organisation",
    "integrity.operator",
    "daemon.inbox_poll_interval",
    "daemon.capture",
    "daemon.check",
    "daemon.log_level",
    "daemon.queue",
    "daemon.worker_heartbeat",
    "platforms.video",
    "platforms.video_max_height",
    "platforms.video_max_bytes",
    "platforms.video_deadline",
    "platforms.subtitle_languages",
    "platforms.facebook_max_images",
    "platforms.facebook_session",
    "platforms.markers_file",
    "notify.smtp_host",
    "notify.smtp_port",
    "notify.smtp_starttls",
    "notify.smtp_user",
    "notify.email_from",
    "notify.email_to",
    "notify.batch_window",
    "notify.max_attempts",
    "notify.timeout",
    "web.enabled",
    "web.host",
    "web.port",
    "web.session_max_age",
    "web.secure_cookies",
    "web.shutdown_timeout",
    "web.feed_poll_interval",
    "web.replay_viewer",
}


def test_every_setting_is_classified() -> None:
    classified = SECRET | URLS | SECRET_PATH_URLS | PLAIN
    new = set(FIELDS) - classified
    assert not new, f"decide whether these settings are secret (and mark them): {sorted(new)}"
    assert not (PLAIN & (SECRET | URLS | SECRET_PATH_URLS))


def test_the_marks_on_the_fields_match_the_review() -> None:
    marked = {name: redaction_of(info) for name, info in FIELDS.items()}
    assert {n for n, r in marked.items() if r is Redact.SECRET} == SECRET
    assert {n for n, r in marked.items() if r is Redact.URL} == URLS
    assert {n for n, r in marked.items() if r is Redact.SECRET_PATH_URL} == SECRET_PATH_URLS
    assert {n for n, r in marked.items() if r is None} <= PLAIN


_SECRET_LOOKING = re.compile(r"pass|secret|token|key|credential|auth|dsn|url|proxy|cookie|session")


def test_names_that_sound_secret_are_marked_or_reviewed() -> None:
    """A new text field called ``api_key`` or ``*_token`` must be marked (or added here
    with a reason). Numbers and switches hold no credential."""
    reviewed_plain = {
        "integrity.key_dir",  # the folder of the signing keys (0600 files)
        "integrity.trusted_keys",  # fingerprints of public keys, published on purpose
        "platforms.facebook_session",  # the path of the session file, not its cookies
        "check.canary_urls",  # public sites probed to tell our own outage (no credentials)
    }
    for name, info in FIELDS.items():
        if info.annotation in (bool, int, float):
            continue
        if _SECRET_LOOKING.search(name.split(".", 1)[1]):
            assert redaction_of(info) is not None or name in reviewed_plain, name


def test_secret_fields_are_left_out_of_repr() -> None:
    settings = load_settings(
        environ={
            "ARCHIVER_NOTIFY__SMTP_PASSWORD": "repr-secret-1",
            "ARCHIVER_WEB__SESSION_SECRET": "repr-secret-2",
        }
    )
    assert "repr-secret" not in repr(settings)


def _secret_for(name: str, n: int) -> Any:
    info = FIELDS[name]
    kind = redaction_of(info)
    if kind is Redact.SECRET:
        return f"plain-secret-{n}"
    url = f"https://user{n}:pw-{n}@host{n}.example:8443/path-secret-{n}?token=tok-{n}&k=v-{n}"
    if name == "storage.database_url":
        url = f"postgresql+psycopg://user{n}:pw-{n}@db.example/archiver?password=tok-{n}"
    if name == "storage.warc_url":  # a bucket has no user:password, a query may hold a token
        url = f"s3://bucket-{n}/prefix?token=tok-{n}&k=v-{n}"
    if name == "network.proxy":
        url = f"socks5://user{n}:pw-{n}@proxy.example:1080?token=tok-{n}"
    return [url] if "tuple" in str(info.annotation) else url


def test_display_hides_every_marked_value() -> None:
    """Put a distinct secret into every marked field; none may survive display."""
    marked = sorted(n for n, info in FIELDS.items() if redaction_of(info) is not None)
    data: dict[str, dict[str, Any]] = {}
    for n, name in enumerate(marked):
        section, key = name.split(".")
        data.setdefault(section, {})[key] = _secret_for(name, n)
    settings = Settings.model_validate(data)
    shown = display_settings(settings)
    text = repr(shown)
    for n, _ in enumerate(marked):
        for leaked in (f"pw-{n}", f"tok-{n}", f"v-{n}", f"plain-secret-{n}"):
            assert leaked not in text
    assert shown["notify"]["smtp_password"] == SET
    assert shown["web"]["session_secret"] == SET
    # Where a URL points stays visible; the webhook's path is a secret of its own.
    hook = shown["notify"]["webhook_url"]
    assert hook.startswith("https://***@host") and "path-secret" not in hook
    assert "token=(redacted)&k=(redacted)" in hook
    tsa = shown["integrity"]["tsa_urls"][0]
    assert "/path-secret-" in tsa and "token=(redacted)" in tsa
    assert shown["storage"]["database_url"].startswith("postgresql+psycopg://***@db.example/")
    # Everything else is shown as it is.
    assert shown["capture"] == Settings().capture.model_dump(mode="json")


def test_display_of_defaults_is_the_plain_dump() -> None:
    settings = Settings()
    assert display_settings(settings) == settings.model_dump(mode="json")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("", ""),
        ("http://proxy:3128", "http://proxy:3128"),
        ("http://alice:s3cret@proxy:3128", "http://***@proxy:3128"),
        ("http://alice@proxy:3128", "http://***@proxy:3128"),
        ("https://h.example/x?token=abc&a=1", "https://h.example/x?token=(redacted)&a=(redacted)"),
        ("https://h.example/x?abcdef", "https://h.example/x?(redacted)"),
        ("https://h.example/x#frag", "https://h.example/x#(redacted)"),
        ("https://u:p@[::1]:8443/x", "https://***@[::1]:8443/x"),
        ("sqlite:////var/lib/archiver/archiver.db", "sqlite:////var/lib/archiver/archiver.db"),
        ("sqlite:///relative.db?mode=ro", "sqlite:///relative.db?mode=(redacted)"),
        ("postgresql://u:p%40ss@db/archiver", "postgresql://***@db/archiver"),
        ("http://a:b@host:notaport/", SET),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_url_hides_a_secret_path() -> None:
    hook = "https://hooks.slack.com/services/T1/B2/XYZ?x=1"
    assert redact_url(hook, hide_path=True) == "https://hooks.slack.com/(redacted)?x=(redacted)"
    assert redact_url("https://h.example/", hide_path=True) == "https://h.example/"


def test_proxy_for_display_uses_the_same_rules() -> None:
    settings = load_settings(
        environ={"ARCHIVER_NETWORK__PROXY": "http://alice:s3cret@proxy:3128?auth=zzz"}
    )
    assert settings.network.proxy_for_display() == "http://***@proxy:3128?auth=(redacted)"
