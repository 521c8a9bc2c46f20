"""Secrets: what they are, the forms they take, and their removal from everything written.

``Secrets`` searches for and replaces values in bytes, text, JSON and streams;
``settings_secrets`` collects the credentials the settings hold; ``redact_logs`` scrubs
every log record of the process. The operator's platform session adds its cookie values
(:mod:`archiver.capture.session`).
"""

from .collect import redact_logs, settings_secrets, url_secrets
from .scrub import NO_SECRETS, REDACTED, Scanner, Secrets

__all__ = [
    "NO_SECRETS",
    "REDACTED",
    "Scanner",
    "Secrets",
    "redact_logs",
    "settings_secrets",
    "url_secrets",
]
