"""Pinned keys and TSA roots, as pure functions: fingerprints as published, which keys
may sign what, and certificate chains judged as of a token's own time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from archiver.integrity.pins import (
    Introduction,
    check_introduced,
    check_pins,
    introductions,
    normalize_fingerprint,
)
from archiver.integrity.tsa_roots import authority_name, chain_error
from archiver.integrity.verify import Findings

FP = "3f6c" + "0" * 56 + "e1a2"
OTHER = "ab" * 32
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


GROUPED = " ".join(FP[i : i + 4] for i in range(0, 64, 4))
COLONS = ":".join(FP[i : i + 2] for i in range(0, 64, 2))


@pytest.mark.parametrize(
    "published", [FP, FP.upper(), f"sha256:{FP}", f"SHA256:{FP}", GROUPED, COLONS]
)
def test_a_fingerprint_is_taken_as_published(published: str) -> None:
    assert normalize_fingerprint(published) == FP


@pytest.mark.parametrize("wrong", ["", "abc", FP[:-1], FP + "0", "g" * 64, f"sha1:{FP}"])
def test_what_is_not_a_fingerprint_is_refused(wrong: str) -> None:
    with pytest.raises(ValueError, match="not a key fingerprint"):
        normalize_fingerprint(wrong)


def test_pins_fail_other_keys_and_without_pins_one_line_names_the_key() -> None:
    found = Findings()
    check_pins(found, {FP: ["manifest.json"], OTHER: ["SHA256SUMS"]}, [FP])
    assert [f.status for f in found] == ["ok", "fail"]
    assert OTHER in found[1].detail and "not a pinned key" in found[1].detail
    unpinned = Findings()
    check_pins(unpinned, {FP: ["manifest.json"]}, [])
    [line] = unpinned
    assert (line.status, line.item) == ("warn", "KEY")
    assert FP in line.detail and "published" in line.detail and f"--key {FP}" in line.detail


def test_a_key_signs_only_after_its_introduction() -> None:
    known = introductions(
        [
            (2, "key_created", FP, T0),
            (3, "capture", "snap", T0),
            (5, "key_rotated", OTHER, T0 + timedelta(days=400)),
            (9, "key_rotated", FP, T0 + timedelta(days=800)),  # not its first: ignored
        ]
    )
    assert known == {FP: Introduction(2, T0), OTHER: Introduction(5, T0 + timedelta(days=400))}

    def fails(**kwargs: object) -> str | None:
        found = Findings()
        check_introduced(found, "item", **kwargs)  # type: ignore[arg-type]
        return next((f.detail for f in found if f.status == "fail"), None)

    assert fails(fingerprint=FP, known=known, seq=3, started_at=T0) is None
    assert fails(fingerprint=OTHER, known=known, seq=6, started_at=T0 + timedelta(days=401)) is None
    # Recorded before the key existed in the log.
    assert "introduced at entry 5" in str(fails(fingerprint=OTHER, known=known, seq=3))
    # Appended later, but claiming a capture from before the key was made.
    backdated = fails(fingerprint=OTHER, known=known, seq=7, started_at=T0)
    assert backdated is not None and "before the key that signed it" in backdated
    # An hour of clock difference between machines is allowed.
    skew = T0 + timedelta(days=400) - timedelta(minutes=30)
    assert fails(fingerprint=OTHER, known=known, seq=7, started_at=skew) is None
    # A head may cover its own key's entry (the key's first signature), not end before it.
    assert fails(fingerprint=OTHER, known=known, head_seq=5) is None
    assert "up to 4" in str(fails(fingerprint=OTHER, known=known, head_seq=4))
    assert "no key_created" in str(fails(fingerprint="cd" * 32, known=known, seq=3))


def test_authorities_are_named_after_their_host() -> None:
    assert authority_name("https://freetsa.org/tsr") == "freetsa.org"
    assert authority_name("http://timestamp.digicert.com") == "timestamp.digicert.com"
    assert authority_name("http://127.0.0.1:8318/tsr") == "127.0.0.1-8318"


def _cert(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    start: datetime,
    days: int,
    *,
    ca: bool,
) -> x509.Certificate:
    issuer_name, issuer_key = issuer or (name, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(issuer_key, hashes.SHA256())


def test_a_chain_is_judged_as_of_the_token_time() -> None:
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(4)]
    root = _cert("Root", keys[0], None, T0 - timedelta(days=30), 3650, ca=True)
    middle = _cert("Middle", keys[1], ("Root", keys[0]), T0 - timedelta(days=10), 1000, ca=True)
    tsa = _cert("TSA", keys[2], ("Middle", keys[1]), T0 - timedelta(days=1), 365, ca=False)
    stamped = T0
    # Valid when stamped, whatever today's date: the TSA certificate expired in 2027.
    assert chain_error(tsa, [tsa, middle], root, stamped) is None
    later = chain_error(tsa, [tsa, middle], root, T0 + timedelta(days=15 * 365))
    assert later is not None and "CN=TSA was not valid" in later
    # Another root does not do, nor a chain missing its intermediate.
    other = _cert("Root", keys[3], None, T0 - timedelta(days=30), 3650, ca=True)
    assert "issued neither" in str(chain_error(tsa, [tsa, middle], other, stamped))
    assert "issued neither" in str(chain_error(tsa, [tsa], root, stamped))
    # A "root" that is not self-signed is no root.
    assert "not a self-signed root" in str(chain_error(tsa, [tsa], middle, stamped))
