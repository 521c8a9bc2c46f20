"""Capture: a source becomes a snapshot, one WARC file (see :mod:`archiver.capture.warc`)."""

from archiver.capture.warc import (
    SealedWarc,
    Truncated,
    VerifyReport,
    WarcWriter,
    WrittenRecord,
    artefact_uri,
    dechunk,
    format_http_head,
    list_records,
    open_snapshot,
    snapshot_relpath,
    verify_warc,
)

__all__ = [
    "SealedWarc",
    "Truncated",
    "VerifyReport",
    "WarcWriter",
    "WrittenRecord",
    "artefact_uri",
    "dechunk",
    "format_http_head",
    "list_records",
    "open_snapshot",
    "snapshot_relpath",
    "verify_warc",
]
