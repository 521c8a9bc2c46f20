"""The per-snapshot manifest: what was captured, when, how, and the hash of every part.

The manifest is the one document that is signed and timestamped, so it must name
everything a court needs to tie a WARC file to a claim: the URL as the report cited
it and as it was reached, capture start and end (UTC), the software and settings that
did it, each artefact's size and sha256, and the WARC file's own sha256. It is
serialised as RFC 8785 canonical JSON (:mod:`.canonical`) so anyone can rebuild the
exact signed bytes from the data.

Building it is a pure function of :class:`ManifestInput`; :func:`input_from_snapshot`
fills that from what the capture step returns (``WrittenSnapshot`` and the provenance
document written into the WARC's metadata record). Fields added since the first
format (``incomplete``, ``captured_by``, ``network``, ``custody``) are absent from older
manifests, whose signed bytes are unchanged and still verify.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from archiver.integrity.canonical import canonical_json

if TYPE_CHECKING:
    from archiver.capture.snapshot import WrittenSnapshot

MANIFEST_FORMAT = "evidence-archiver/manifest/1"


@dataclass(frozen=True)
class ManifestInput:
    snapshot_id: str
    source_url: str
    cited_as: tuple[str, ...]
    final_url: str | None
    http_status: int | None
    redirect_chain: tuple[str, ...]
    started_at: datetime
    finished_at: datetime
    methods: tuple[str, ...]
    software: Mapping[str, str]
    settings: Mapping[str, Any]
    warc_path: str
    warc_sha256: str
    warc_size: int
    payload_sha256: str | None = None
    payload_size: int | None = None
    content_type: str | None = None
    truncated: bool = False
    artefacts: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    # Added later (absent from older manifests when None): what the snapshot lacks
    # ([{"artefact", "reason"}], archiver.capture.completeness), who captured
    # ({"organisation", "operator", "os_account"}) and how the server was reached
    # ({"server_ip", "proxy"}: the address connected to, None through a proxy).
    incomplete: Sequence[Mapping[str, str]] | None = None
    captured_by: Mapping[str, str | None] | None = None
    network: Mapping[str, str | None] | None = None


def utc_text(moment: datetime) -> str:
    """``2026-01-02T03:04:05.000000Z``: one fixed form, microseconds always present."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; use an aware UTC datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_manifest(data: ManifestInput) -> dict[str, Any]:
    """The manifest as plain JSON data (dicts, lists, str, int, bool, None)."""
    for name, digest in (
        ("warc_sha256", data.warc_sha256),
        ("payload_sha256", data.payload_sha256),
    ):
        if digest is not None:
            _check_sha256(name, digest)
    artefacts = []
    for artefact in data.artefacts:
        _check_sha256(f"artefact {artefact.get('uri')}", str(artefact.get("sha256", "")))
        artefacts.append(
            {
                "kind": str(artefact["kind"]),
                "uri": str(artefact["uri"]),
                "content_type": artefact.get("content_type"),
                "size": int(artefact["size"]),
                "sha256": str(artefact["sha256"]),
            }
        )
    artefacts.sort(key=lambda a: (a["kind"], a["uri"]))
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "snapshot_id": data.snapshot_id,
        "source": {
            "url": data.source_url,
            "cited_as": list(data.cited_as),
            "final_url": data.final_url,
            "http_status": data.http_status,
            "redirect_chain": list(data.redirect_chain),
        },
        "capture": {
            "started_at": utc_text(data.started_at),
            "finished_at": utc_text(data.finished_at),
            "methods": list(data.methods),
            "truncated": data.truncated,
        },
        "software": dict(sorted(data.software.items())),
        "settings": _plain(data.settings),
        "main_payload": None
        if data.payload_sha256 is None
        else {
            "sha256": data.payload_sha256,
            "size": data.payload_size,
            "content_type": data.content_type,
        },
        "artefacts": artefacts,
        "warc": {"path": data.warc_path, "sha256": data.warc_sha256, "size": data.warc_size},
    }
    if data.incomplete is not None:
        manifest["incomplete"] = [
            {"artefact": str(p["artefact"]), "reason": str(p["reason"])} for p in data.incomplete
        ]
    if data.captured_by is not None:
        manifest["captured_by"] = _who(data.captured_by)
    if data.network is not None:
        manifest["network"] = {
            "server_ip": data.network.get("server_ip"),
            "proxy": data.network.get("proxy"),
        }
    return manifest


def _who(captured_by: Mapping[str, str | None]) -> dict[str, str | None]:
    return {k: captured_by.get(k) for k in ("organisation", "operator", "os_account")}


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """The exact bytes that are signed and timestamped."""
    return canonical_json(manifest)


def manifest_sha256(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(manifest_bytes(manifest)).hexdigest()


def with_custody(data: bytes, seq: int, head_hash: str) -> bytes:
    """The manifest ``data`` with the custody position it is sealed at: ``custody``,
    ``{"seq", "head_hash"}`` of the log's last entry before this snapshot's capture
    entry (``seq`` 0 for an empty log). A signed manifest thereby anchors the log
    outside the database: a log later shorter than ``seq``, or whose entry ``seq`` has
    another hash, was cut or rewritten. Manifests sealed before this field have none."""
    manifest = json.loads(data)
    manifest["custody"] = {"seq": seq, "head_hash": head_hash}
    return manifest_bytes(manifest)


def input_from_snapshot(written: WrittenSnapshot, document: Mapping[str, Any]) -> ManifestInput:
    """Fill a :class:`ManifestInput` from a written snapshot and its provenance record
    (``archiver.capture.snapshot.provenance``): the URL as cited, settings, software."""
    source = document.get("source", {})
    # The main document's hops as recorded in the provenance (with their addresses).
    chain = document.get("redirect_chain") or written.main.chain
    proxy = document.get("settings", {}).get("network", {}).get("proxy")
    return ManifestInput(
        snapshot_id=written.id,
        source_url=str(source.get("url", "")),
        cited_as=tuple(source.get("cited_as", ())),
        final_url=written.main.final_url,
        http_status=written.main.status,
        redirect_chain=tuple(str(hop["url"]) for hop in written.main.chain),
        started_at=written.started_at,
        finished_at=written.finished_at,
        methods=tuple(written.methods),
        software=dict(document.get("software", {})),
        settings=dict(document.get("settings", {})),
        warc_path=written.relpath.as_posix(),
        warc_sha256=written.sha256,
        warc_size=written.size,
        payload_sha256=written.main.payload_sha256,
        payload_size=written.main.payload_size,
        content_type=written.main.content_type,
        truncated=written.truncated,
        artefacts=tuple(written.artefacts),
        incomplete=tuple(written.incomplete),
        captured_by=document.get("captured_by"),
        network={
            "server_ip": chain[-1].get("ip_address") if chain else None,
            "proxy": proxy or None,
        },
    )


def snapshot_manifest(written: WrittenSnapshot) -> bytes:
    """The canonical manifest bytes of a written snapshot: what its seal signs."""
    return manifest_bytes(build_manifest(input_from_snapshot(written, written.provenance)))


def _check_sha256(name: str, digest: str) -> None:
    if len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise ValueError(f"{name}: expected a lowercase hex sha256, got {digest!r}")


def _plain(value: Any) -> Any:
    """Settings as JSON data: mappings and sequences copied, paths and the like as text."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
