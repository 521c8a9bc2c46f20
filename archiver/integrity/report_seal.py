"""A report's claims, sealed when the report is added.

A certificate quotes a report's claim (the footnote's context) beside the evidence, so
the claim is evidence too: the database row it is shown from can be edited. When a
report is stored, its ``report_added`` custody entry records, besides the sha256 of its
original bytes, the sha256 of its *citations document*: every citation the harvest found
in those bytes, ``[{"position", "marker", "url", "context"}]`` by position, as canonical
JSON (RFC 8785). The custody log is hash-chained and anchored (signed heads, signed
manifests), so from then on:

- ``archiver verify --store`` compares every report's file with its sealed sha256 and its
  citation rows with the sealed document, and names an edited claim by reading the
  report's own bytes again (:func:`reharvest`);
- ``archiver export`` quotes the claims of the sealed document, never a row that does not
  match it, and puts the report file, the document and the custody entry in the package;
- ``archiver verify PATH`` checks the quote against the document, the document against
  the custody entry, and the quote against the report file read again.

Pure functions of their inputs; the harvest is the same one that read the report.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from archiver.errors import CanonicalizationError, HarvestError
from archiver.integrity.canonical import canonical_json

Citations = list[dict[str, Any]]


def citations_document(rows: Iterable[tuple[int, str | None, str, str]]) -> Citations:
    """``(position, marker, url as cited, context)`` rows as the sealed document."""
    return [
        {"position": int(position), "marker": marker, "url": url, "context": context}
        for position, marker, url, context in sorted(rows, key=lambda row: row[0])
    ]


def document_bytes(document: Sequence[Mapping[str, Any]]) -> bytes:
    """The exact bytes whose sha256 is sealed: canonical JSON; text no canonical form
    can hold (a lone surrogate from a damaged file) as escaped ASCII JSON instead."""
    try:
        return canonical_json(list(document))
    except CanonicalizationError:
        return json.dumps(
            list(document), ensure_ascii=True, sort_keys=True, separators=(",", ":")
        ).encode("ascii")


def document_sha256(document: Sequence[Mapping[str, Any]]) -> str:
    return hashlib.sha256(document_bytes(document)).hexdigest()


def seal_details(
    size: int, file_format: str, document: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """What a ``report_added`` entry records beside the report's sha256 and origin."""
    return {
        "size": size,
        "format": file_format,
        "citations": len(document),
        "citations_sha256": document_sha256(document),
    }


def reharvest(data: bytes, stored_name: str, fetched_url: str | None) -> Citations | None:
    """The citations document read again from a report's bytes (None: unreadable now).
    ``stored_name`` (``<sha256>.<suffix>``) gives the format the first reading found."""
    from archiver.harvest import harvest

    try:
        result = harvest(
            data, filename=stored_name, base_url=fetched_url, max_bytes=max(len(data), 1)
        )
    except HarvestError:
        return None
    return citations_document((c.position, c.marker, c.url, c.context) for c in result.citations)


def label(report_id: int | str, marker: str | None, position: int) -> str:
    """How a citation is named in findings: by its footnote, else by its position."""
    if marker:
        return f"report {report_id} footnote {marker}"
    return f"report {report_id} citation {position + 1}"


def differences(
    rows: Sequence[Mapping[str, Any]], sealed: Sequence[Mapping[str, Any]]
) -> list[tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]]:
    """``(row, sealed)`` pairs, by position, that are not the same citation."""
    by_position = {int(s["position"]): s for s in sealed}
    seen = set()
    found: list[tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]] = []
    for row in rows:
        position = int(row["position"])
        seen.add(position)
        other = by_position.get(position)
        if other is None or dict(other) != dict(row):
            found.append((row, other))
    found += [(None, s) for p, s in sorted(by_position.items()) if p not in seen]
    return found
