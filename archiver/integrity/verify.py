"""``archiver verify``: check an evidence package, a WARC file, or the whole store,
offline, and say item by item what holds and what does not.

Every check is a :class:`Finding` (``ok``, ``fail`` or ``warn``) naming the item it is
about (a file of the package, a snapshot's WARC, a custody entry by ``seq``), so a
failure says exactly what changed. ``warn`` is for what is not evidence of tampering
(a timestamp still pending, a leftover temporary file); only ``fail`` fails the run.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from archiver.capture.warc import list_records, verify_warc
from archiver.errors import ArchiverError, CanonicalizationError, KeyStoreError, TimestampError
from archiver.integrity._claims import check_claims
from archiver.integrity._package import (
    CHAIN,
    ENTRIES_DIR,
    ENTRIES_SUMS,
    FINGERPRINT,
    HEAD,
    HEAD_SIG,
    MANIFEST,
    MANIFEST_FINGERPRINT,
    MANIFEST_KEY,
    MANIFEST_SIG,
    PUBLIC_KEY,
    SUMS,
    SUMS_SIG,
    TIMESTAMPS,
    WACZ,
    parse_sums,
)
from archiver.integrity.canonical import canonical_json
from archiver.integrity.custody import GENESIS
from archiver.integrity.keys import fingerprint_of, verify
from archiver.integrity.pins import check_introduced, check_pins, introductions
from archiver.integrity.timestamp import verify_token
from archiver.integrity.tsa_roots import root_check


@dataclass(frozen=True)
class Finding:
    item: str
    status: str  # "ok", "fail" or "warn"
    detail: str

    def line(self) -> str:
        return f"{self.status.upper():4} {self.item}: {self.detail}"


class Findings(list[Finding]):
    def ok(self, item: str, detail: str) -> None:
        self.append(Finding(item, "ok", detail))

    def fail(self, item: str, detail: str) -> None:
        self.append(Finding(item, "fail", detail))

    def warn(self, item: str, detail: str) -> None:
        self.append(Finding(item, "warn", detail))

    def check(self, item: str, holds: bool, ok: str, fail: str) -> bool:
        self.append(Finding(item, "ok" if holds else "fail", ok if holds else fail))
        return holds

    @property
    def failed(self) -> bool:
        return any(f.status == "fail" for f in self)


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


# -- packages ------------------------------------------------------------------------


def verify_package(path: Path, trusted: Sequence[str] = ()) -> Findings:
    """A package zip (or the folder it was extracted to). ``trusted``: the fingerprints
    of the keys the organisation published; anything signed by another key fails."""
    if path.is_dir():
        return _verify_package_dir(path, trusted)
    return verify_zip(path, lambda root: _verify_package_dir(root, trusted))


def verify_zip(path: Path, verify_dir: Callable[[Path], Findings]) -> Findings:
    """A zip checked as the folder it extracts to (into a temporary one): refused when a
    name would land outside it, a member damaged (CRC) is a failure of its own."""
    found = Findings()
    try:
        with zipfile.ZipFile(path) as zf, tempfile.TemporaryDirectory() as tmp:
            for name in zf.namelist():
                parts = PurePosixPath(name).parts
                if name.startswith("/") or ".." in parts:
                    found.fail(name, "unsafe path in the zip; not extracted")
                    return found
            bad = zf.testzip()
            if bad is not None:
                found.fail(bad, "damaged in the zip (CRC mismatch)")
            zf.extractall(tmp)
            found += verify_dir(Path(tmp))
    except (zipfile.BadZipFile, OSError) as exc:
        found.fail(str(path), f"not a readable zip: {exc}")
    return found


def _verify_package_dir(root: Path, trusted: Sequence[str] = ()) -> Findings:
    found = Findings()
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    pem, fingerprint = _check_key(root, found)
    # 1. Every file against SHA256SUMS, and SHA256SUMS against its signature.
    if SUMS not in files:
        found.fail(SUMS, "missing")
        return found
    sums_data = (root / SUMS).read_bytes()
    listed, bad_lines = parse_sums(sums_data)
    for problem in bad_lines:
        found.fail(SUMS, problem)
    _check_sig(found, SUMS, pem, sums_data, root / SUMS_SIG)
    for name in sorted(listed):
        if name not in files:
            found.fail(name, "listed in SHA256SUMS but missing")
        else:
            actual = _sha256(root / name)
            found.check(
                name,
                actual == listed[name],
                "sha256 matches SHA256SUMS",
                f"sha256 is {actual}, SHA256SUMS says {listed[name]}: the file was changed",
            )
    for name in sorted(files - set(listed) - {SUMS, SUMS_SIG}):
        found.fail(name, "not listed in SHA256SUMS (added after the export)")
    if pem is None:
        return found
    # 2. The manifest, its signature and timestamps.
    manifest = _load_manifest(root, found)
    manifest_pem: bytes | None = pem
    manifest_fingerprint = fingerprint
    if MANIFEST_KEY in files:  # signed before a key rotation, by an older key
        manifest_pem, manifest_fingerprint = _check_key(
            root, found, MANIFEST_KEY, MANIFEST_FINGERPRINT
        )
    _check_sig(found, MANIFEST, manifest_pem, _read(root / MANIFEST), root / MANIFEST_SIG)
    _check_stamps(root, found)
    # 3. The WACZ and the WARC in it, against the manifest.
    if manifest is not None:
        _check_wacz(root / WACZ, manifest, found)
    # 4. Custody entries, chain and head.
    _check_custody(root, pem, manifest, found)
    # The citing reports and the claims quoted, against what was sealed.
    check_claims(root, found)
    # 5. Which keys signed, when each came into use, and whether they are the pinned ones
    # (last: without a pin, the line naming the key is the one to read).
    if fingerprint is not None and manifest is not None:
        _check_signers(root, found, manifest, fingerprint, manifest_fingerprint, trusted)
    return found


def _check_signers(
    root: Path,
    found: Findings,
    manifest: dict[str, Any],
    fingerprint: str,
    manifest_fingerprint: str | None,
    trusted: Sequence[str],
) -> None:
    """Each signing key was introduced (key_created / key_rotated entry) before what it
    signed: the capture for the manifest's key, the head for the current key."""
    entries: list[tuple[int, str, str | None, datetime]] = []
    capture_seq: int | None = None
    for path in sorted((root / ENTRIES_DIR).glob("*.json")):
        try:
            entry = json.loads(path.read_bytes())
            at = datetime.fromisoformat(str(entry["at"]).replace("Z", "+00:00"))
            entries.append((int(entry["seq"]), str(entry["action"]), entry["subject_id"], at))
        except (ValueError, KeyError, TypeError):
            continue  # named by the custody checks
        if entry["action"] == "capture" and entry["subject_id"] == manifest.get("snapshot_id"):
            capture_seq = int(entry["seq"])
    known = introductions(entries)
    try:
        started = manifest["capture"]["started_at"]
        started_at = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
        head_seq = int(json.loads(_read(root / HEAD))["seq"])
    except (ValueError, KeyError, TypeError):
        started_at, head_seq = None, None
    signed: dict[str, list[str]] = {fingerprint: [SUMS, HEAD]}
    if manifest_fingerprint is not None:
        signed.setdefault(manifest_fingerprint, []).append(MANIFEST)
        check_introduced(
            found, MANIFEST, manifest_fingerprint, known, seq=capture_seq, started_at=started_at
        )
    check_introduced(found, HEAD, fingerprint, known, head_seq=head_seq)
    check_pins(found, signed, trusted)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _check_key(
    root: Path, found: Findings, key_file: str = PUBLIC_KEY, fingerprint_file: str = FINGERPRINT
) -> tuple[bytes | None, str | None]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    pem = _read(root / key_file)
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        found.fail(key_file, "not a PEM public key")
        return None, None
    if not isinstance(key, Ed25519PublicKey):
        found.fail(key_file, "not an Ed25519 key")
        return None, None
    fingerprint = fingerprint_of(key)
    stated = _read(root / fingerprint_file).decode("utf-8", "replace").strip()
    found.check(
        fingerprint_file,
        stated == fingerprint,
        f"matches {key_file}",
        f"says {stated[:64]!r}, {key_file} has {fingerprint}",
    )
    return pem, fingerprint


def _check_sig(found: Findings, item: str, pem: bytes | None, data: bytes, sig: Path) -> None:
    """The Ed25519 signature ``sig`` of the file ``item`` (whose bytes are ``data``)."""
    if pem is None:
        return
    name = sig.name
    try:
        good = verify(pem, data, _read(sig))
    except KeyStoreError as exc:
        found.fail(item, str(exc))
        return
    found.check(
        item,
        good,
        f"Ed25519 signature ({name}) verifies",
        f"Ed25519 signature ({name}) does not verify: the file or its signature changed",
    )


def _load_manifest(root: Path, found: Findings) -> dict[str, Any] | None:
    data = _read(root / MANIFEST)
    try:
        manifest = json.loads(data)
        canonical = canonical_json(manifest) == data
    except (ValueError, CanonicalizationError):
        found.fail(MANIFEST, "not valid JSON")
        return None
    if not isinstance(manifest, dict) or "warc" not in manifest:
        found.fail(MANIFEST, "not a snapshot manifest")
        return None
    found.check(MANIFEST, canonical, "canonical JSON (RFC 8785)", "not in canonical form")
    return manifest


def _check_stamps(root: Path, found: Findings) -> None:
    try:
        listing = json.loads(_read(root / TIMESTAMPS))
        stamps = [s for s in listing if isinstance(s, dict)]
    except (ValueError, TypeError):
        found.fail(TIMESTAMPS, "not valid JSON")
        return
    for stamp in stamps:
        subject, file = str(stamp.get("subject")), stamp.get("file")
        if not file:
            found.warn(
                subject, f"timestamp from {stamp.get('tsa_url')} was still pending at export"
            )
            continue
        digest = hashlib.sha256(_read(root / subject)).digest()
        token = _read(root / str(file))
        try:
            check = verify_token(token, digest)
        except TimestampError as exc:
            found.fail(str(file), f"RFC 3161 token for {subject} does not verify: {exc}")
            continue
        at = f"{check.gen_time:%Y-%m-%dT%H:%M:%SZ}"
        name = stamp.get("root")
        chained = root_check(
            _read(root / str(name)) if name else None,
            str(name),
            token,
            check.tsa_certificate_sha256,
            check.gen_time,
        )
        if chained.startswith("FAIL "):
            found.fail(str(file), f"RFC 3161 token for {subject} stamped {at}: {chained[5:]}")
            continue
        found.ok(
            str(file),
            f"RFC 3161 token stamps {subject} at {at}, signed by {check.tsa_subject}; {chained}",
        )


def _check_wacz(path: Path, manifest: dict[str, Any], found: Findings) -> None:
    warc_meta = manifest["warc"]
    try:
        with zipfile.ZipFile(path) as zf, tempfile.TemporaryDirectory() as tmp:
            zf.extractall(tmp)
            base = Path(tmp)
            package_bytes = _read(base / "datapackage.json")
            digest = json.loads(_read(base / "datapackage-digest.json"))
            actual = "sha256:" + hashlib.sha256(package_bytes).hexdigest()
            found.check(
                f"{WACZ}:datapackage.json",
                digest.get("hash") == actual,
                "matches datapackage-digest.json",
                "does not match datapackage-digest.json",
            )
            package = json.loads(package_bytes)
            for res in package.get("resources", []):
                name = f"{WACZ}:{res['path']}"
                target = base / res["path"]
                if not target.is_file():
                    found.fail(name, "listed in datapackage.json but missing")
                    continue
                h = "sha256:" + _sha256(target)
                found.check(
                    name,
                    h == res.get("hash") and target.stat().st_size == res.get("bytes"),
                    "hash and size match datapackage.json",
                    "hash or size differs from datapackage.json",
                )
            warcs = sorted((base / "archive").glob("*.warc.gz"))
            if len(warcs) != 1:
                found.fail(WACZ, f"expected one WARC file in archive/, found {len(warcs)}")
                return
            _check_warc_against(
                warcs[0],
                warc_meta["sha256"],
                int(warc_meta["size"]),
                manifest,
                found,
                f"{WACZ}:archive/{warcs[0].name}",
            )
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, TypeError) as exc:
        found.fail(WACZ, f"not a readable WACZ: {exc}")


def _check_warc_against(
    warc: Path, sha256: str, size: int, manifest: dict[str, Any] | None, found: Findings, item: str
) -> None:
    report = verify_warc(warc, expected_sha256=sha256, expected_size=size)
    if report.ok:
        found.ok(item, f"sha256 {sha256} and {len(report.records)} record digests verify")
    for problem in report.failures()[:20]:
        found.fail(item, problem)
    if manifest is None or not report.ok:
        return
    payloads = {
        (r.target_uri, r.payload_digest) for r in list_records(warc) if r.warc_type == "resource"
    }
    for artefact in manifest.get("artefacts", []):
        found.check(
            f"{item}:{artefact['kind']}",
            (artefact["uri"], f"sha256:{artefact['sha256']}") in payloads,
            "artefact sha256 matches the manifest",
            "no resource record with the manifest's sha256",
        )


def _check_custody(
    root: Path, pem: bytes, manifest: dict[str, Any] | None, found: Findings
) -> None:
    try:
        chain = [json.loads(line) for line in _read(root / CHAIN).splitlines()]
        links = {int(e["seq"]): e for e in chain}
    except (ValueError, KeyError, TypeError):
        found.fail(CHAIN, "not valid JSON lines")
        return
    previous = GENESIS
    intact = True
    for number, entry in enumerate(chain, 1):
        if entry.get("seq") != number or entry.get("prev_hash") != previous:
            found.fail(CHAIN, f"entry {number} does not link to entry {number - 1}")
            intact = False
            break
        previous = str(entry.get("entry_hash"))
    if intact:
        found.ok(CHAIN, f"{len(chain)} entries link from the start to head {previous}")
    try:
        head = json.loads(_read(root / HEAD))
        found.check(
            HEAD,
            head.get("seq") == len(chain) and head.get("head_hash") == previous,
            f"names the chain's head (entry {len(chain)})",
            "does not match custody/chain.jsonl",
        )
    except ValueError:
        found.fail(HEAD, "not valid JSON")
    _check_sig(found, HEAD, pem, _read(root / HEAD), root / HEAD_SIG)
    entry_sums, bad = parse_sums(_read(root / ENTRIES_SUMS))
    for problem in bad:
        found.fail(ENTRIES_SUMS, problem)
    captured = False
    for path in sorted((root / ENTRIES_DIR).glob("*.json")):
        name = f"{ENTRIES_DIR}/{path.name}"
        data = path.read_bytes()
        try:
            entry = json.loads(data)
            link = links[int(entry["seq"])]
        except (ValueError, KeyError, TypeError):
            found.fail(name, "not a custody entry of this chain")
            continue
        digest = hashlib.sha256(data).hexdigest()
        good = digest == link["entry_hash"] and entry.get("prev_hash") == link["prev_hash"]
        good = good and entry_sums.get(name.removeprefix("custody/")) == digest
        found.check(
            name,
            good,
            f"entry {entry['seq']} ({entry.get('action')}) is intact and in the chain",
            f"entry {entry.get('seq')} does not match its hash in the chain: changed",
        )
        if (
            manifest is not None
            and entry.get("action") == "capture"
            and entry.get("subject_id") == manifest.get("snapshot_id")
        ):
            captured = (
                entry.get("details", {}).get("manifest_sha256")
                == hashlib.sha256(_read(root / MANIFEST)).hexdigest()
            )
    if manifest is not None:
        found.check(
            "custody",
            captured,
            "the capture entry names this manifest's sha256",
            "no custody capture entry for this manifest",
        )


# -- single WARC files and the store -----------------------------------------------------


def verify_warc_file(path: Path, expected: tuple[str, int] | None = None) -> Findings:
    found = Findings()
    if expected is None:
        found.warn(str(path), "not a snapshot of this store: only record digests checked")
        _check_warc_against(path, _sha256(path), path.stat().st_size, None, found, str(path))
    else:
        _check_warc_against(path, expected[0], expected[1], None, found, str(path))
    return found


def walk_store_files(warcs: Path) -> Iterator[Path]:
    if warcs.is_dir():
        yield from sorted(p for p in warcs.rglob("*") if p.is_file())


class VerifyError(ArchiverError):
    """The thing to verify cannot be read at all."""
