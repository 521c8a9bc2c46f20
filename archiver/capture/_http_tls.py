"""TLS for captures: verify when we can, capture anyway when we cannot, record which.

A source behind an expired or self-signed certificate is still evidence: the fetcher
first tries a verifying handshake (system roots plus ``capture.extra_ca_file``) and, when
only the certificate check failed, captures over an unverified connection and says so in
:class:`~archiver.capture.exchange.TlsInfo`. The peer's certificate chain is kept (PEM)
so a verifier can judge it later.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from pathlib import Path
from typing import Any

from archiver.capture.exchange import TlsInfo
from archiver.errors import ConfigError

# How long "this host's certificate does not verify" is remembered, so that every request
# to such a host does not pay a failed handshake first.
UNVERIFIED_MEMORY = 600.0


def verifying_context(extra_ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if extra_ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(extra_ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"capture.extra_ca_file {extra_ca_file}: {exc}") from exc
    return context


def unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def cert_verification_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate-verification failure behind an httpcore connect error, if that is
    what it was. httpcore wraps the ssl error (as cause, context and first argument;
    the pool drops the cause on the way out), so every link is searched."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        todo += [a for a in current.args if isinstance(a, BaseException)]
    return None


def describe_verify_error(error: ssl.SSLCertVerificationError) -> str:
    detail = getattr(error, "verify_message", None) or getattr(error, "reason", None) or str(error)
    return f"certificate did not verify: {detail}"


def tls_info(ssl_object: Any, *, verified: bool, verify_error: str | None) -> TlsInfo | None:
    """What the handshake showed, from an ``ssl.SSLObject`` (None for plain HTTP)."""
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    return TlsInfo(
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        verified=verified,
        verify_error=verify_error,
        peer_chain_pem=peer_chain_pem(ssl_object),
    )


def peer_chain_pem(ssl_object: Any) -> tuple[str, ...]:
    """The chain the server sent, leaf first, as PEM.

    Python 3.13 has ``get_unverified_chain()`` on SSL objects; 3.10-3.12 have it only on
    the private ``_sslobj``. Without either, the leaf alone."""
    getter = getattr(ssl_object, "get_unverified_chain", None)
    if getter is None:
        getter = getattr(getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)
    if getter is not None:
        try:
            chain = getter() or []
        except (ssl.SSLError, ValueError):
            chain = []
        pems = tuple(_pem(cert) for cert in chain)
        if pems:
            return pems
    der = ssl_object.getpeercert(binary_form=True)
    return (ssl.DER_cert_to_PEM_cert(der),) if der else ()


def _pem(cert: Any) -> str:
    if isinstance(cert, bytes | bytearray):  # 3.13: DER bytes
        return ssl.DER_cert_to_PEM_cert(bytes(cert))
    pem: str = cert.public_bytes()  # 3.10-3.12: _ssl.Certificate, PEM by default
    return pem


Origin = tuple[str, int]


class CertificateMemory:
    """What the fetcher knows about origins' certificates.

    A certificate that did not verify is remembered for a while with its error, so
    every later request to that origin goes straight to an unverified connection
    instead of paying a failed handshake first. While the first handshake to an
    origin is under way, other requests to it wait for its outcome (``probe``) rather
    than all failing verification at once.
    """

    def __init__(self, memory: float = UNVERIFIED_MEMORY) -> None:
        self._memory = memory
        self._failed: dict[Origin, tuple[str, float]] = {}
        self._verified: set[Origin] = set()
        self._probes: dict[Origin, asyncio.Event] = {}

    def verify_error(self, origin: Origin) -> str | None:
        entry = self._failed.get(origin)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            del self._failed[origin]
            return None
        return entry[0]

    def remember_failure(self, origin: Origin, verify_error: str) -> None:
        if len(self._failed) > 10_000:
            self._failed.clear()
        self._failed[origin] = (verify_error, time.monotonic() + self._memory)
        self._verified.discard(origin)

    def remember_success(self, origin: Origin) -> None:
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified.add(origin)

    async def settle(self, origin: Origin, deadline: float | None) -> asyncio.Event | None:
        """Before a request to an origin of unknown standing: wait for a probe under
        way (returns None), or become the probe (returns the Event to set as soon as
        the outcome is known; :meth:`end_probe` must follow)."""
        if origin in self._verified or self.verify_error(origin) is not None:
            return None
        pending = self._probes.get(origin)
        if pending is None:
            probe = self._probes[origin] = asyncio.Event()
            return probe
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(remaining):
                await pending.wait()
        return None

    def end_probe(self, origin: Origin, probe: asyncio.Event) -> None:
        probe.set()
        if self._probes.get(origin) is probe:
            del self._probes[origin]
