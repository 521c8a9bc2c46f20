"""The root certificate of each timestamp authority, so that a token verifies for as long
as the evidence matters, long after the authority's certificates have expired.

A token is checked *as of the time it states* (``openssl ts -verify -attime``): the TSA's
certificate and every certificate up to the root must have been valid then, not now. A
package bundles, for every granted token, the root its certificate chain leads to, one
file per authority named after it (``timestamps/roots/freetsa.org.pem``), with where the
archiver got it (``timestamps/timestamps.json``: ``root``, ``root_sha256``,
``root_source``). Where from, in this order:

1. ``integrity.tsa_roots``: PEM files the operator downloaded from the authorities;
2. a self-signed certificate the token itself carries;
3. the system's trust store (Debian's ca-certificates, or certifi's copy of Mozilla's).

A bundled root is a convenience, not a proof: anyone can make a root. VERIFY.md tells
the verifier to compare it with the one the authority publishes.
"""

from __future__ import annotations

import itertools
import json
import re
import ssl
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.utils import CryptographyDeprecationWarning

from archiver.errors import IntegrityError, TimestampError

ROOTS_DIR = "timestamps/roots"
# Where the default authorities publish their roots, for VERIFY.md to name.
PUBLISHED_AT = {
    "freetsa.org": "https://freetsa.org/files/cacert.pem",
    "timestamp.digicert.com": "https://www.digicert.com/kb/digicert-root-certificates.htm",
}
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
_MAX_DEPTH = 8


def authority_name(tsa_url: str) -> str:
    """A file name for an authority: its host, and its port when the URL names one."""
    parts = urlsplit(tsa_url)
    name = parts.hostname or "tsa"
    if parts.port is not None:
        name += f"-{parts.port}"
    return re.sub(r"[^A-Za-z0-9.-]", "-", name)


def published_at(tsa_url: str) -> str | None:
    return PUBLISHED_AT.get(urlsplit(tsa_url).hostname or "")


def pem_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM file; blocks that do not parse are skipped."""
    found = []
    with warnings.catch_warnings():
        # Trust stores hold a few old roots with a negative serial number.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        for block in _PEM.findall(data):
            try:
                found.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                continue
    return found


def pem_of(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def sha256_of(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    if child.issuer != issuer.subject:
        return False
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.version == x509.Version.v1  # an old self-signed root has no extensions


def chain_error(
    signer: x509.Certificate,
    carried: Sequence[x509.Certificate],
    root: x509.Certificate,
    at: datetime,
) -> str | None:
    """Why ``signer`` does not chain to ``root`` through certificates the token
    ``carried``, every one of them valid at ``at`` (None: it does)."""
    if not _issued_by(root, root):
        return f"{root.subject.rfc4514_string()} is not a self-signed root"
    path = [signer]
    current = signer
    for _ in range(_MAX_DEPTH):
        if _issued_by(current, root):
            path.append(root)
            break
        issuer = next(
            (c for c in carried if c not in path and _issued_by(current, c) and _is_ca(c)), None
        )
        if issuer is None:
            return (
                f"{current.subject.rfc4514_string()} is issued neither by the root "
                f"{root.subject.rfc4514_string()} nor by a certificate the token carries"
            )
        path.append(issuer)
        current = issuer
    else:
        return "certificate chain too long"
    if not _is_ca(root):
        return f"{root.subject.rfc4514_string()} is not a CA certificate"
    for cert in path:
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            return (
                f"{cert.subject.rfc4514_string()} was not valid at {at:%Y-%m-%dT%H:%M:%SZ} "
                f"(valid {cert.not_valid_before_utc:%Y-%m-%d} to "
                f"{cert.not_valid_after_utc:%Y-%m-%d})"
            )
    return None


@dataclass(frozen=True)
class Root:
    certificate: x509.Certificate
    source: str


def _configured(paths: Sequence[Path]) -> Iterator[Root]:
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise IntegrityError(f"integrity.tsa_roots: cannot read {path}: {exc}") from exc
        certs = pem_certificates(data)
        if not certs:
            raise IntegrityError(f"integrity.tsa_roots: {path} holds no PEM certificate")
        for cert in certs:
            yield Root(cert, f"integrity.tsa_roots: {path}")


def _trust_store_iter() -> Iterator[Root]:
    yield from _trust_store()


@lru_cache(maxsize=1)
def _trust_store() -> tuple[Root, ...]:
    found: list[Root] = []
    paths = ssl.get_default_verify_paths()
    for name in (paths.cafile, paths.openssl_cafile):
        if name and Path(name).is_file():
            found += [
                Root(c, f"the system's trust store ({name})")
                for c in pem_certificates(Path(name).read_bytes())
            ]
            break
    try:
        import certifi

        found += [
            Root(c, f"certifi's copy of Mozilla's trust store ({certifi.where()})")
            for c in pem_certificates(Path(certifi.where()).read_bytes())
        ]
    except (ImportError, OSError):
        pass
    return tuple(found)


def signer_of(carried: Sequence[x509.Certificate], sha256: str) -> x509.Certificate:
    for cert in carried:
        if sha256_of(cert) == sha256:
            return cert
    raise IntegrityError("the token's signing certificate is not among its certificates")


def find_root(
    carried: Sequence[x509.Certificate],
    signer_sha256: str,
    at: datetime,
    configured: Sequence[Path],
) -> Root | None:
    """The root the token's chain leads to, valid at ``at`` (its time), or None."""
    signer = signer_of(carried, signer_sha256)
    from_token = [
        Root(c, "carried in the token itself")
        for c in carried
        if c is not signer and _issued_by(c, c)
    ]
    issuers = {signer.issuer} | {c.issuer for c in carried}
    # Lazily: the trust store is read only when nothing before it fits.
    candidates = itertools.chain(_configured(configured), from_token, _trust_store_iter())
    for candidate in candidates:
        if candidate.certificate.subject not in issuers:
            continue
        if chain_error(signer, carried, candidate.certificate, at) is None:
            return candidate
    return None


def root_check(
    root_pem: bytes | None, name: str, token: bytes, signer_sha256: str, at: datetime
) -> str:
    """Whether a token's certificates chain to the root bundled for its authority (file
    ``name``, ``root_pem``; None when none was), as of the token's own time, as
    ``openssl ts -verify -attime`` checks it. A sentence, starting "FAIL " when not."""
    from archiver.integrity.timestamp import token_certificates

    if root_pem is None:
        return (
            "no root certificate bundled for its authority: check the chain with "
            "openssl ts -verify -CAfile and the authority's root"
        )
    roots = pem_certificates(root_pem)
    if len(roots) != 1:
        return f"FAIL {name} is not one PEM certificate"
    try:
        carried = token_certificates(token)
        error = chain_error(signer_of(carried, signer_sha256), carried, roots[0], at)
    except (TimestampError, IntegrityError) as exc:
        error = str(exc)
    if error is not None:
        return f"FAIL does not chain to {name} at the time it states: {error}"
    return (
        f"chains to {name} at that time (root sha256 {sha256_of(roots[0])}: compare it with "
        "the root the authority publishes)"
    )


def bundle_root(
    work: Path, tsa_url: str, token: bytes, configured: Sequence[Path]
) -> dict[str, str | None]:
    """Write the root the token chains to (at its time) into the package folder ``work``
    as ``timestamps/roots/<authority>.pem``; the fields timestamps.json gets for it."""
    from archiver.integrity.timestamp import token_certificates, token_info, verify_token

    try:
        digest, _gen_time, _serial = token_info(token)
        check = verify_token(token, bytes.fromhex(digest))
        found = find_root(
            token_certificates(token), check.tsa_certificate_sha256, check.gen_time, configured
        )
    except TimestampError as exc:
        return {"root": None, "root_sha256": None, "root_source": f"token unreadable: {exc}"}
    if found is None:
        return {
            "root": None,
            "root_sha256": None,
            "root_source": "none found in integrity.tsa_roots, the token or the system's "
            "trust store",
        }
    pem = pem_of(found.certificate)
    base = authority_name(tsa_url)
    name, number = f"{ROOTS_DIR}/{base}.pem", 1
    while (work / name).exists() and (work / name).read_bytes() != pem:
        number += 1  # the same authority under another root (a rare root change)
        name = f"{ROOTS_DIR}/{base}-{number}.pem"
    (work / name).parent.mkdir(parents=True, exist_ok=True)
    (work / name).write_bytes(pem)
    return {"root": name, "root_sha256": sha256_of(found.certificate), "root_source": found.source}


def write_timestamps(
    work: Path, stamps: Sequence[Mapping[str, Any]], tsa_roots: Sequence[Path] = ()
) -> list[dict[str, Any]]:
    """Into the package folder ``work``: each granted token (DER), the certificates it
    carries, and the root of its authority; the listing of all, pending too."""
    from archiver.integrity._package import HEAD, MANIFEST, TIMESTAMPS
    from archiver.integrity.manifest import utc_text
    from archiver.integrity.timestamp import token_certificates

    def write(name: str, data: bytes) -> None:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(data)

    listing: list[dict[str, Any]] = []
    counters = {"snapshot": 0, "custody_head": 0}
    for row in stamps:
        kind = str(row["subject_type"])
        counters[kind] += 1
        stem = f"timestamps/{'manifest' if kind == 'snapshot' else 'custody-head'}-{counters[kind]}"
        entry: dict[str, Any] = {
            "subject": MANIFEST if kind == "snapshot" else HEAD,
            "tsa_url": row["tsa_url"],
            "status": row["status"],
            "attempts": row["attempts"],
            "file": None,
            "certificates": None,
            "gen_time": None,
            "serial": row["serial"],
        }
        if row["status"] == "granted" and row["token"] is not None:
            token = bytes(row["token"])
            write(f"{stem}.tsr", token)
            write(f"{stem}-certs.pem", b"".join(pem_of(c) for c in token_certificates(token)))
            entry.update(
                file=f"{stem}.tsr",
                certificates=f"{stem}-certs.pem",
                gen_time=utc_text(row["gen_time"]),
            )
            entry.update(bundle_root(work, str(row["tsa_url"]), token, tsa_roots))
        listing.append(entry)
    write(TIMESTAMPS, json.dumps(listing, indent=2).encode() + b"\n")
    return listing
