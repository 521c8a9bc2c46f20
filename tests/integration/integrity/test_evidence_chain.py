"""The building blocks together, checked from outside with openssl only: a manifest is
signed (pkeyutl), timestamped by a real TSA (ts -verify -data), and logged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from archiver.integrity.custody import append, verify_stored_chain
from archiver.integrity.keys import KeyStore
from archiver.integrity.manifest import (
    ManifestInput,
    build_manifest,
    manifest_bytes,
    manifest_sha256,
)
from archiver.integrity.timestamp import TimestampClient, TimestampToken
from archiver.store.db import Database
from tests.integration.integrity.conftest import LocalTsa, openssl

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_manifest_signed_stamped_and_logged(local_tsa: LocalTsa, tmp_path: Path) -> None:
    manifest = build_manifest(
        ManifestInput(
            snapshot_id="snap-1", source_url="https://example.org/ü", cited_as=("https://example.org/ü?x=1",),
            final_url="https://example.org/ü", http_status=200, redirect_chain=(),
            started_at=NOW, finished_at=NOW, methods=("http",), software={"archiver": "0.1.0"},
            settings={"timeout": 30.0}, warc_path="warcs/a.warc.gz", warc_sha256="ab" * 32, warc_size=1,
        )
    )  # fmt: skip
    data = manifest_bytes(manifest)
    (tmp_path / "manifest.json").write_bytes(data)

    keys = KeyStore(tmp_path / "keys", lambda: NOW)
    created = keys.load_or_create(actor="system")
    signature = keys.sign(data)
    (tmp_path / "manifest.sig").write_bytes(signature.signature)
    (tmp_path / "pub.pem").write_bytes(keys.public_key_pem())
    openssl("pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "manifest.json", "-sigfile", "manifest.sig", cwd=tmp_path)  # fmt: skip

    [token] = TimestampClient([local_tsa.url], clock=lambda: NOW).stamp(manifest_sha256(manifest))
    assert isinstance(token, TimestampToken)
    (tmp_path / "manifest.tst").write_bytes(token.token)
    # openssl hashes the manifest file itself: the token covers exactly these bytes.
    out = openssl(
        "ts", "-verify", "-data", "manifest.json", "-token_in", "-in", "manifest.tst",
        "-CAfile", str(local_tsa.ca), "-untrusted", str(local_tsa.cert), cwd=tmp_path,
    )  # fmt: skip
    assert b"Verification: OK" in out

    db = Database.open(f"sqlite:///{tmp_path / 'a.db'}")
    with db.session() as session:
        assert created is not None
        append(session, at=created.at, actor=created.actor, action=created.action, subject_type="key", subject_id=created.fingerprint, details=created.as_details())  # fmt: skip
        append(
            session, at=NOW, actor="daemon", action="capture", subject_type="snapshot", subject_id="snap-1",
            details={"manifest_sha256": manifest_sha256(manifest), "key": signature.fingerprint, "timestamps": [token.tsa_url]},
        )  # fmt: skip
    with db.session() as session:
        report = verify_stored_chain(session)
    assert report.ok and report.entries == 2
    db.close()
