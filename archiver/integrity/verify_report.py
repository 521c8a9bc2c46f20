"""``archiver verify`` of a report export (archiver.integrity.report_export): the
signature of SHA256SUMS, its RFC 3161 timestamps, every file it lists (the index and
every package) by sha256, the index against SHA256SUMS, and then every package as
``archiver verify PACKAGE`` checks it (its findings named ``packages/<name>: ...``)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from archiver.integrity._package import (
    FINGERPRINT,
    MANIFEST_FINGERPRINT,
    SUMS,
    SUMS_SIG,
    file_sha256,
    parse_sums,
)
from archiver.integrity.pins import check_pins
from archiver.integrity.verify import (
    Finding,
    Findings,
    _check_key,
    _check_sig,
    _check_stamps,
    verify_package,
    verify_zip,
)

FORMAT = "evidence-archiver/report-export/1"
INDEX_JSON = "index.json"
# Not listed in SHA256SUMS: they are written after it (docs/integrity.md).
UNLISTED = ("VERIFY.md", "timestamps/")


def is_report_export(path: Path) -> bool:
    """A folder or zip whose index.json says it is a report export."""
    try:
        if path.is_dir():
            data = (path / INDEX_JSON).read_bytes()
        else:
            with zipfile.ZipFile(path) as zf:
                data = zf.read(INDEX_JSON)
        return bool(json.loads(data).get("format") == FORMAT)
    except (OSError, KeyError, ValueError, AttributeError, zipfile.BadZipFile):
        return False


def verify_report_export(path: Path, trusted: Sequence[str] = ()) -> Findings:
    if path.is_dir():
        return _verify_dir(path, trusted)
    return verify_zip(path, lambda root: _verify_dir(root, trusted))


def _verify_dir(root: Path, trusted: Sequence[str]) -> Findings:
    found = Findings()
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    pem, fingerprint = _check_key(root, found)
    if SUMS not in files:
        found.fail(SUMS, "missing")
        return found
    sums = (root / SUMS).read_bytes()
    listed, bad_lines = parse_sums(sums)
    for problem in bad_lines:
        found.fail(SUMS, problem)
    _check_sig(found, SUMS, pem, sums, root / SUMS_SIG)
    _check_stamps(root, found)
    for name in sorted(listed):
        if name not in files:
            found.fail(name, "listed in SHA256SUMS but missing")
            continue
        actual = file_sha256(root / name)
        found.check(
            name,
            actual == listed[name],
            "sha256 matches SHA256SUMS",
            f"sha256 is {actual}, SHA256SUMS says {listed[name]}: the file was changed",
        )
    for name in sorted(files - set(listed) - {SUMS, SUMS_SIG}):
        if not name.startswith(UNLISTED):
            found.fail(name, "not listed in SHA256SUMS (added after the export)")
    rows = _index_rows(root, found)
    for row in rows:
        _check_row(row, listed, found)
    # Every package as archiver verify PACKAGE checks it; without pins, the keys seen
    # are named once, at the end, for the whole export.
    signed: dict[str, list[str]] = {fingerprint: [SUMS]} if fingerprint else {}
    for package in sorted({str(r["package"]) for r in rows if r.get("package")}):
        if package not in files:
            continue
        for finding in verify_package(root / package, trusted):
            if finding.item == "KEY" and not trusted:
                continue
            found.append(Finding(f"{package}: {finding.item}", finding.status, finding.detail))
        for key in _package_keys(root / package):
            signed.setdefault(key, []).append(package)
    check_pins(found, signed, trusted)
    return found


def _package_keys(package: Path) -> list[str]:
    """The fingerprints a package names (its current key, and its manifest's)."""
    keys = []
    try:
        with zipfile.ZipFile(package) as zf:
            for name in (FINGERPRINT, MANIFEST_FINGERPRINT):
                if name in zf.namelist():
                    keys.append(zf.read(name).decode("ascii", "replace").strip())
    except (OSError, zipfile.BadZipFile):
        return []
    return keys


def _index_rows(root: Path, found: Findings) -> list[dict[str, Any]]:
    try:
        document = json.loads((root / INDEX_JSON).read_bytes())
        rows = [r for r in document["footnotes"] if isinstance(r, dict)]
    except (OSError, ValueError, KeyError, TypeError):
        found.fail(INDEX_JSON, "not a readable index")
        return []
    with_package = sum(1 for r in rows if r.get("package"))
    found.ok(
        INDEX_JSON,
        f"{len(rows)} footnotes: {with_package} with a package, "
        f"{len(rows) - with_package} without one (each with its reason)",
    )
    return rows


def _check_row(row: dict[str, Any], listed: dict[str, str], found: Findings) -> None:
    number = int(row.get("position") or 0) + 1
    label = f"footnote {row.get('footnote') or '(inline)'} (citation {number})"
    package = row.get("package")
    if not package:
        found.check(
            label,
            bool(row.get("no_package")),
            f"no package: {row.get('no_package')}",
            "no package and no reason given",
        )
        return
    found.check(
        label,
        listed.get(str(package)) == row.get("package_sha256"),
        f"{package} has the sha256 the index gives",
        f"the index gives {package} sha256 {row.get('package_sha256')}, SHA256SUMS "
        f"{listed.get(str(package))}",
    )
