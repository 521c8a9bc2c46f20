"""A third-party copy as a WARC file of its own (I/O: writes under the storage root).

The file holds exactly what we exchanged with the archives, and says whose copy it is:

- ``warcinfo``: our software and settings, who retrieved it;
- ``request``/``response`` for every TimeMap or CDX query asked (the lists of copies as
  the archives gave them: why this copy was chosen);
- ``request``/``response`` for the memento's raw bytes (the ``id_`` URL and any
  redirect the archive made to its exact capture time), at the URLs we fetched, never
  at the original URL: a replay tool must not show the archive's copy as our capture;
- a ``metadata`` record (``urn:provenance:<source url>``): ``kind: third_party``, the
  archive, the memento URL, its ``Memento-Datetime``, the original status, the moment
  the copy was chosen nearest to and why, and when we retrieved it.

Its manifest is the snapshot manifest with ``kind`` and ``third_party`` added, so it is
signed, timestamped and logged in custody like any snapshot, and says what it is.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver.capture.exchange import Exchange
from archiver.capture.provenance import software_versions
from archiver.capture.snapshot import MainDocument, WrittenSnapshot
from archiver.capture.warc import Truncated, artefact_uri, open_snapshot, snapshot_relpath
from archiver.integrity.manifest import (
    build_manifest,
    input_from_snapshot,
    manifest_bytes,
    utc_text,
)
from archiver.witnesses.timemap import Memento

KIND = "third_party"
METHOD = "memento"


@dataclass(frozen=True)
class Retrieved:
    """What a lookup brought back for one source: the copy, and everything asked."""

    source_id: int
    source_url: str
    cited_as: tuple[str, ...]
    memento: Memento
    raw_url: str
    # The memento's hops (the id_ URL, the archive's redirect to the exact time).
    chain: Sequence[Exchange]
    # Every TimeMap or CDX exchange made, in order.
    queries: Sequence[Exchange]
    # [{"archive", "url", "result"}] as recorded in the lookup.
    asked: Sequence[Mapping[str, str]]
    target_at: datetime
    target_basis: str
    memento_datetime: datetime
    started_at: datetime
    finished_at: datetime


def original_status(exchange: Exchange) -> int | None:
    """The page's own status as the archive recorded it: the Wayback Machine and pywb
    serve a raw memento with its recorded status; ``X-Archive-Orig-Status`` or a
    Memento ``Link`` do not change that."""
    return exchange.status


def _hop(exchange: Exchange) -> dict[str, Any]:
    failure = exchange.failure
    return {
        "url": exchange.url,
        "status": exchange.status,
        "started_at": utc_text(exchange.started_at),
        "ip_address": exchange.ip_address,
        "truncated": exchange.truncated,
        "failure": None
        if failure is None
        else {"kind": str(failure.kind), "detail": failure.message},
    }


def provenance(
    retrieved: Retrieved, snapshot_id: str, settings: Mapping[str, Any]
) -> dict[str, Any]:
    memento = retrieved.memento
    final = retrieved.chain[-1]
    return {
        "snapshot_id": snapshot_id,
        "kind": KIND,
        "source": {
            "id": retrieved.source_id,
            "url": retrieved.source_url,
            "cited_as": list(retrieved.cited_as),
        },
        "third_party": {
            "archive": memento.archive,
            "memento_url": memento.url,
            "raw_url": retrieved.raw_url,
            "memento_datetime": utc_text(retrieved.memento_datetime),
            "memento_datetime_header": final.header("memento-datetime"),
            "listed_datetime": utc_text(memento.datetime),
            "listed_by": memento.listed_by,
            "original_status": original_status(final),
            "target_at": utc_text(retrieved.target_at),
            "target_basis": retrieved.target_basis,
            "statement": "a copy held by a third-party web archive, not captured by us",
        },
        "capture": {
            "started_at": utc_text(retrieved.started_at),
            "finished_at": utc_text(retrieved.finished_at),
            "methods": [METHOD],
            "notes": [f"retrieved from {memento.archive}; the archive captured the page"],
        },
        "lookup": [dict(a) for a in retrieved.asked],
        "redirect_chain": [_hop(hop) for hop in retrieved.chain],
        "queries": [_hop(q) for q in retrieved.queries],
        "settings": dict(settings),
        "software": software_versions(),
    }


def write_copy(
    storage_root: Path,
    retrieved: Retrieved,
    *,
    settings: Mapping[str, Any],
    captured_by: Mapping[str, str | None],
    clock: Callable[[], datetime],
    id_factory: Callable[[], uuid.UUID] = uuid.uuid4,
    compress_level: int = 6,
) -> WrittenSnapshot:
    """Write the copy's WARC (atomically, never over a file) and return it as a
    snapshot with its manifest built (``kind``, ``third_party`` included)."""
    snapshot_uuid = id_factory()
    relpath = snapshot_relpath(retrieved.source_id, snapshot_uuid, retrieved.started_at)
    final = retrieved.chain[-1]
    payload_sha256: str | None = None
    payload_size: int | None = None
    main_record = ""
    records = 0
    with open_snapshot(
        storage_root / relpath, clock=clock, id_factory=id_factory, compress_level=compress_level
    ) as writer:
        writer.write_warcinfo(
            operator=captured_by.get("operator"),
            organisation=captured_by.get("organisation"),
            os_account=captured_by.get("os_account"),
            settings=settings,
        )
        records += 1
        for exchange in [*retrieved.queries, *retrieved.chain]:
            response_id = None
            if exchange.response_head is not None and exchange.body is not None:
                written = writer.write_response(
                    exchange.url,
                    exchange.response_head,
                    exchange.body,
                    ip_address=exchange.ip_address,
                    truncated=Truncated(exchange.truncated) if exchange.truncated else None,
                    date=exchange.started_at,
                )
                records += 1
                response_id = written.record_id
                if exchange is final:
                    main_record = written.record_id
                    payload_sha256 = (written.payload_digest or "").removeprefix("sha256:")
                    payload_size = exchange.body.size
            if exchange.request_head:
                writer.write_request(
                    exchange.url,
                    exchange.request_head,
                    exchange.request_body,
                    concurrent_to=response_id,
                    ip_address=exchange.ip_address,
                    date=exchange.started_at,
                )
                records += 1
        document = provenance(retrieved, str(snapshot_uuid), settings)
        document["captured_by"] = dict(captured_by)
        writer.write_metadata(
            artefact_uri("provenance", retrieved.source_url),
            document,
            refers_to=main_record or writer.warcinfo_id or "",
        )
        records += 1
    sealed = writer.sealed
    main = MainDocument(
        # No status of ours: we did not capture the page (the archive's is in
        # third_party.original_status), so nothing counts this as our preservation.
        status=None,
        final_url=final.url,
        chain=[{"url": hop.url, "status": hop.status} for hop in retrieved.chain],
        payload_sha256=payload_sha256,
        payload_size=payload_size,
        content_type=final.header("content-type"),
        failure_kind=None,
        failure_message=None,
        tls_verified=None if final.tls is None else final.tls.verified,
        title=None,
    )
    written_snapshot = WrittenSnapshot(
        id=str(snapshot_uuid),
        relpath=relpath,
        sha256=sealed.sha256,
        size=sealed.size,
        records=records,
        main=main,
        truncated=any(e.truncated for e in [*retrieved.queries, *retrieved.chain]),
        started_at=retrieved.started_at,
        finished_at=retrieved.finished_at,
        methods=(METHOD,),
        provenance=document,
    )
    manifest = build_manifest(input_from_snapshot(written_snapshot, document))
    manifest["kind"] = KIND
    manifest["third_party"] = json.loads(json.dumps(document["third_party"]))
    return dataclasses.replace(written_snapshot, manifest=manifest_bytes(manifest))
