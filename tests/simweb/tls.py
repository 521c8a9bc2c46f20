"""A throwaway certificate authority and per-host server certificates for CONNECT tunnels.

Browsers upgrade HSTS-preloaded hosts (facebook.com, youtube.com, bbc.com...) to https and
reach them through ``CONNECT``, so the simulated web must terminate TLS for any host name.
Each ``SimulatedWeb`` makes its own CA with trustme and issues a leaf certificate for a host
the first time a client tunnels to it. Clients either trust the CA (``ca_pem_path``,
``client_context()``; Chromium: ``chromium_args()``) or skip verification.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
import threading
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.simweb.urls import normalize_host


class CertificateAuthority:
    """One trustme CA plus a cache of server ``SSLContext`` objects, one per host."""

    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA(organization_name="simweb test CA")
        self.directory = directory
        self.ca_pem_path = directory / "simweb-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_pem_path))
        self._certificate = x509.load_pem_x509_certificate(self.ca.cert_pem.bytes())
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def server_context(self, host: str) -> ssl.SSLContext:
        """The TLS server context for ``host`` (issued on first use, then cached). Offers only
        HTTP/1.1 via ALPN so browsers do not try HTTP/2. A client whose SNI names another
        host than the CONNECT line gets that host's certificate instead.

        The served chain ends with the CA certificate itself. Verifying clients do not need
        it, but Chromium's ``--ignore-certificate-errors-spki-list`` only matches keys of
        certificates the server sent, so without it pinning the CA's key has no effect."""
        host = normalize_host(host)
        with self._lock:
            context = self._contexts.get(host)
        if context is not None:
            return context
        leaf = self.ca.issue_cert(host)
        pem = self.directory / f"leaf-{host}.pem"
        pem.write_bytes(
            leaf.private_key_pem.bytes()
            + b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
            + self.ca.cert_pem.bytes()
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.set_alpn_protocols(["http/1.1"])
        context.load_cert_chain(pem)
        context.sni_callback = self._switch_on_sni
        with self._lock:
            return self._contexts.setdefault(host, context)

    def _switch_on_sni(
        self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        if not server_name:
            return
        try:
            connection.context = self.server_context(server_name)
        except ValueError:
            return

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only this CA."""
        context = ssl.create_default_context(cafile=str(self.ca_pem_path))
        return context

    @property
    def spki_sha256_base64(self) -> str:
        """base64(SHA-256(SubjectPublicKeyInfo)) of the CA certificate: the format of
        Chromium's ``--ignore-certificate-errors-spki-list``."""
        spki = self._certificate.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")
