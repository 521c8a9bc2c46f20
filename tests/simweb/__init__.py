"""The simulated web: a local forward proxy that answers for any host from fixtures.

The archiver under test uses it as its ``network.proxy``. Plain requests arrive in
absolute-form, https ones through CONNECT tunnels terminated with per-host certificates from a
throwaway CA, and every answer (pages, redirects, removals, hangs, resets, DNS failures, the
whole network going down) is scripted by the test. Importing this package does not need
pytest; the ``simweb`` fixture lives in :mod:`tests.simweb.fixtures`.
"""

from tests.simweb.behaviours import (
    Behaviour,
    Delayed,
    EndlessBody,
    GzipBomb,
    Hang,
    HeadersThenStall,
    ResetMidBody,
    Response,
    SlowBody,
    delayed,
    endless_body,
    gzip_bomb,
    gzip_zeros,
    hang,
    headers_then_stall,
    redirect,
    reset_mid_body,
    response,
    slow_body,
    status,
)
from tests.simweb.corpus import DEFAULT_CORPUS, CorpusEntry, read_manifest
from tests.simweb.exchange import Exchange
from tests.simweb.messages import Headers, LoggedRequest, Request
from tests.simweb.registry import Handler, HostConfig, Route
from tests.simweb.urls import normalize_url
from tests.simweb.web import CANARY_URL, CHROMIUM, CHROMIUM_ARGS, SimulatedWeb

__all__ = [
    "CANARY_URL",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "DEFAULT_CORPUS",
    "Behaviour",
    "CorpusEntry",
    "Delayed",
    "EndlessBody",
    "Exchange",
    "GzipBomb",
    "Handler",
    "Hang",
    "Headers",
    "HeadersThenStall",
    "HostConfig",
    "LoggedRequest",
    "Request",
    "ResetMidBody",
    "Response",
    "Route",
    "SimulatedWeb",
    "SlowBody",
    "delayed",
    "endless_body",
    "gzip_bomb",
    "gzip_zeros",
    "hang",
    "headers_then_stall",
    "normalize_url",
    "read_manifest",
    "redirect",
    "reset_mid_body",
    "response",
    "slow_body",
    "status",
]
