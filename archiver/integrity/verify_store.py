"""``archiver verify --store``: every snapshot's WARC against its recorded sha256 and its
signed manifest, every stored timestamp token, the custody chain and its sealed heads,
the log against its anchors outside the database, captures and reports
(:mod:`.verify_custody`), and files under warcs/ that no snapshot refers to (a crash
between sealing a file and recording its row) or leftover ``.part`` files (a capture
killed while writing): those fail, with the command that moves them to quarantine
(:mod:`archiver.integrity.strays`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from archiver.errors import KeyStoreError, TimestampError
from archiver.integrity import custody
from archiver.integrity.keys import KeyStore, verify
from archiver.integrity.pins import check_store_keys
from archiver.integrity.strays import GRACE_SECONDS, find_strays, report_strays
from archiver.integrity.timestamp import verify_token
from archiver.integrity.verify import Findings, _check_warc_against
from archiver.integrity.verify_custody import check_store_custody
from archiver.integrity.verify_objects import (
    check_bucket_strays,
    check_report_objects,
    check_snapshot_object,
)
from archiver.models import CustodyHead, Report, Snapshot, SnapshotSeal, TimestampRecord
from archiver.storage import open_store

if TYPE_CHECKING:
    from archiver.app import Archive


def _pem(keys: KeyStore, fingerprint: str, cache: dict[str, bytes | None]) -> bytes | None:
    if fingerprint not in cache:
        try:
            cache[fingerprint] = keys.public_key_pem(fingerprint)
        except KeyStoreError:
            cache[fingerprint] = None
    return cache[fingerprint]


def verify_store(
    archive: Archive, *, grace: float = GRACE_SECONDS, trusted: Sequence[str] = ()
) -> Findings:
    """``grace``: files under warcs/ without a row younger than this are warnings
    (a capture running now may still record them), older ones failures. ``trusted``:
    the published key fingerprints; a seal or head signed by another key fails."""
    found = Findings()
    root = archive.settings.storage.root
    store = open_store(archive.settings)
    # Read-only: public keys by fingerprint, no key is created or loaded.
    keys = KeyStore(archive.settings.keys_dir)
    pems: dict[str, bytes | None] = {}
    with archive.db.session() as session:
        snapshots = session.scalars(select(Snapshot).order_by(Snapshot.started_at)).all()
        seals = {s.snapshot_id: s for s in session.scalars(select(SnapshotSeal))}
        stamps = session.scalars(select(TimestampRecord).order_by(TimestampRecord.id)).all()
        heads = session.scalars(select(CustodyHead).order_by(CustodyHead.id)).all()
        chain = custody.load_chain(session)
        referenced = {s.warc_path for s in snapshots}
        digests: dict[tuple[str, str], str] = {}
        for snap in snapshots:
            item = snap.warc_path
            path = root / snap.warc_path
            if store.remote:  # storage.warc_url: in the bucket, read back from it
                check_snapshot_object(found, store, archive.settings, snap)
            elif not path.is_file():
                found.fail(item, f"WARC file of snapshot {snap.id} is missing")
            else:
                _check_warc_against(path, snap.warc_sha256, snap.warc_size, None, found, item)
            seal = seals.get(snap.id)
            if seal is None:
                found.warn(
                    f"snapshot {snap.id}", "has no signed manifest (captured before sealing)"
                )
                continue
            manifest = bytes(seal.manifest)
            digests[("snapshot", snap.id)] = seal.manifest_sha256
            item = f"manifest of snapshot {snap.id}"
            if hashlib.sha256(manifest).hexdigest() != seal.manifest_sha256:
                found.fail(item, "does not match its recorded sha256")
                continue
            try:
                warc = json.loads(manifest)["warc"]
                names = warc["sha256"] == snap.warc_sha256 and warc["path"] == snap.warc_path
            except (ValueError, KeyError, TypeError):
                names = False
            found.check(
                item,
                names,
                "names this WARC file and its sha256",
                "names another WARC file or sha256 than the snapshot row",
            )
            pem = _pem(keys, seal.key_fingerprint, pems)
            found.check(
                item,
                pem is not None and verify(pem, manifest, bytes(seal.signature)),
                f"Ed25519 signature verifies (key {seal.key_fingerprint[:16]})",
                f"Ed25519 signature does not verify (key {seal.key_fingerprint[:16]})",
            )
        for head in heads:
            item = f"custody head {head.id}"
            digests[("custody_head", str(head.id))] = head.document_sha256
            document = bytes(head.document)
            pem = _pem(keys, head.key_fingerprint, pems)
            good = pem is not None and verify(pem, document, bytes(head.signature))
            good = good and hashlib.sha256(document).hexdigest() == head.document_sha256
            found.check(item, good, "signed", "signature or sha256 does not verify")
            ok_link = (
                0 < head.seq <= len(chain) and chain[head.seq - 1].entry_hash == head.head_hash
            )
            found.check(
                item,
                ok_link,
                f"entry {head.seq} of the log still has the sealed hash",
                f"entry {head.seq} of the custody log no longer has the sealed hash "
                "(entries changed or cut off the end)",
            )
    pending = 0
    for stamp in stamps:
        item = f"timestamp {stamp.id} ({stamp.subject_type} {stamp.subject_id}, {stamp.tsa_url})"
        if stamp.status == "retired":  # its TSA is no longer configured: asked again
            continue
        if stamp.status != "granted" or stamp.token is None:
            pending += 1
            continue
        expected = digests.get((stamp.subject_type, stamp.subject_id))
        try:
            if expected != stamp.digest:
                raise TimestampError("stamps a digest its subject does not have")
            check = verify_token(bytes(stamp.token), bytes.fromhex(stamp.digest))
            found.ok(item, f"token verifies, stamped {check.gen_time:%Y-%m-%dT%H:%M:%SZ}")
        except (TimestampError, ValueError) as exc:
            found.fail(item, f"token does not verify: {exc}")
    if pending:
        found.warn(
            "timestamps", f"{pending} still pending (archiver stamp, or the daemon, retries)"
        )
    report = custody.verify_chain(chain)
    for problem in report.problems:
        found.fail(f"custody entry {problem.seq}", f"{problem.kind}: {problem.message}")
    if report.ok:
        found.ok(
            "custody log",
            f"{report.entries} entries, hashes and links intact, head {report.head_hash}",
        )
    # The log against its anchors, captures and reports (and the reverse).
    check_store_custody(found, archive, chain, snapshots, seals, lambda fp: _pem(keys, fp, pems))
    report_strays(found, find_strays(root, referenced, grace=grace), grace)
    if store.remote:
        check_bucket_strays(found, store, referenced, grace)
        with archive.db.session() as session:
            reports = session.scalars(select(Report).order_by(Report.id)).all()
            check_report_objects(found, store, archive.settings, reports)
    # Last: without a pin, the line naming the key is the one to read.
    check_store_keys(found, chain, snapshots, seals, heads, trusted)
    return found
