"""Snapshot WARC files: one WARC/1.1 file per snapshot, one gzip member per record.

Import from here; how the modules below are split up is not part of the API::

    with open_snapshot(storage_root / snapshot_relpath(source_id, snap_id, now)) as w:
        info = w.write_warcinfo(operator="Monitor Org", settings=capture_settings)
        resp = w.write_response(url, head, body, ip_address="192.0.2.1")
        w.write_request(url, request_head, concurrent_to=resp.record_id)
        w.write_metadata(url, {"redirects": [...]}, refers_to=resp.record_id)
        w.write_resource(artefact_uri("screenshot", url), "image/png", png_bytes)
    w.sealed.sha256, w.sealed.size          # the file, hashed while it was written
    verify_warc(w.sealed.path, expected_sha256=w.sealed.sha256).ok   # all digests recomputed

Every record has ``WARC-Block-Digest: sha256:<hex>``; records with a payload also have
``WARC-Payload-Digest: sha256:<hex>``. What exactly is hashed, and how HTTP transfer
framing is recorded, is documented in :mod:`.writer` and :mod:`.http_head`.
"""

from ._body import Body
from ._headers import Truncated, artefact_uri, format_record_id, format_warc_date
from .http_head import dechunk, format_http_head, note_transfer_decoding
from .layout import snapshot_relpath
from .snapshot_file import SealedWarc, SnapshotAbandoned, SnapshotWriter, open_snapshot
from .verify import DigestCheck, RecordCheck, RecordInfo, VerifyReport, list_records, verify_warc
from .warcinfo import Redactor, default_redact
from .writer import Clock, IdFactory, WarcWriter, WrittenRecord

__all__ = [
    "Body",
    "Clock",
    "DigestCheck",
    "IdFactory",
    "RecordCheck",
    "RecordInfo",
    "Redactor",
    "SealedWarc",
    "SnapshotAbandoned",
    "SnapshotWriter",
    "Truncated",
    "VerifyReport",
    "WarcWriter",
    "WrittenRecord",
    "artefact_uri",
    "dechunk",
    "default_redact",
    "format_http_head",
    "format_record_id",
    "format_warc_date",
    "list_records",
    "note_transfer_decoding",
    "open_snapshot",
    "snapshot_relpath",
    "verify_warc",
]
