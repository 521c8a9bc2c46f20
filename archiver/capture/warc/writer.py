"""WarcWriter: WARC/1.1 records, one gzip member each, onto an open binary stream.

The writer takes a stream, not a path (house rule: writers take streams, readers verify
digests), so the same code writes to a snapshot's temporary file, to a socket or to
``io.BytesIO`` in a test. It formats every byte itself rather than through warcio's
WARCWriter, which would add its own sha1 digests and its own dates and ids.

Digests (``sha256:<lowercase hex>`` on every record):

- ``WARC-Block-Digest``: the whole block, i.e. the Content-Length bytes after the
  record's header block.
- ``WARC-Payload-Digest``: for ``response`` and ``request`` records, the bytes after the
  HTTP head's blank line up to the end of the block: the entity body with transfer
  coding removed and content coding kept (see :mod:`.http_head`). This is what warcio
  (``warcio check``), pywb and warcprox compute, so independent tools agree. A request
  without a body has none. For ``resource`` records the payload is the whole block.
  ``warcinfo`` and ``metadata`` records carry only the block digest.

Secrets (``secrets``, :mod:`archiver.secrets`): every record is searched for every form
of every secret value before it is written: the target URI, the HTTP head or metadata
block, and the body (streamed, in the digest pass). A record holding one is written with
each occurrence replaced by ``[redacted]`` (digests and length of what is written) and
listed in :attr:`WarcWriter.redactions`, where, never what. The capture scrubs the
operator's session earlier and says so in the provenance; this is the last guard.

Reproducibility: dates come from the injected ``clock`` (or an explicit ``date``),
record ids from the injected ``id_factory``; fields are written in a fixed order and
gzip headers carry no time or name, so equal inputs give identical bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from archiver.clock import utc_now
from archiver.errors import WarcError
from archiver.secrets import NO_SECRETS, Secrets

from . import _headers as h
from ._body import Body, BodySource, bytes_source, open_body
from ._digest import Digester
from ._gzip import COMPRESS_LEVEL, GzipMember
from .http_head import check_head, note_transfer_decoding
from .warcinfo import SOFTWARE, Redactor, default_redact, warcinfo_block

Clock = Callable[[], datetime]
IdFactory = Callable[[], uuid.UUID]

_EMPTY: Mapping[str, object] = {}
# warcinfo and metadata blocks are small and built in memory: passed as the "head".
_NOTHING = bytes_source(b"")


@dataclass(frozen=True)
class WrittenRecord:
    """Where a record landed and what it promises; enough for an index or a manifest."""

    record_id: str
    warc_type: str
    target_uri: str | None
    date: str
    offset: int  # of the gzip member, from the first byte this writer wrote
    length: int  # of the gzip member (compressed)
    content_length: int  # of the block (uncompressed)
    block_digest: str
    payload_digest: str | None


class WarcWriter:
    """Writes records in call order. The first record must be the warcinfo record;
    every later record names it in ``WARC-Warcinfo-ID``.

    After any failure mid-record the stream holds half a record, so the writer refuses
    further use; :func:`open_snapshot` then discards the file.
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        clock: Clock = utc_now,
        id_factory: IdFactory = uuid.uuid4,
        spool_dir: str | os.PathLike[str] | None = None,
        compress_level: int = COMPRESS_LEVEL,
        filename: str | None = None,
        secrets: Secrets = NO_SECRETS,
    ) -> None:
        """``filename``: the file's name, written as WARC-Filename in the warcinfo
        record unless :meth:`write_warcinfo` is given one. ``secrets``: values that must
        not be written (replaced wherever they occur)."""
        self._stream = stream
        self._secrets = secrets
        # Where a secret was replaced: {"record", "target_uri", "where"} (never the value).
        self.redactions: list[dict[str, str]] = []
        self._filename = filename
        self._clock = clock
        self._id_factory = id_factory
        self._spool_dir = spool_dir
        self._level = compress_level
        self._offset = 0
        self._file_hash = hashlib.sha256()
        self._warcinfo_id: str | None = None
        self._broken = False

    # -- what has been written ------------------------------------------------------

    @property
    def bytes_written(self) -> int:
        return self._offset

    def output_sha256(self) -> str:
        """sha256 (hex) of every byte written so far, hashed on the way out."""
        return self._file_hash.hexdigest()

    @property
    def warcinfo_id(self) -> str | None:
        return self._warcinfo_id

    def new_record_id(self) -> str:
        """A fresh id from the factory, for callers that must name a record before it
        is written (e.g. to point a response at its request)."""
        return h.format_record_id(self._id_factory())

    # -- record builders ------------------------------------------------------------

    def write_warcinfo(
        self,
        *,
        operator: str | None = None,
        settings: Mapping[str, object] = _EMPTY,
        software: str = SOFTWARE,
        filename: str | None = None,
        redact: Redactor = default_redact,
        date: datetime | None = None,
        record_id: str | None = None,
        organisation: str | None = None,
        os_account: str | None = None,
    ) -> WrittenRecord:
        """Software, format, who captured (operator, organisation, OS account) and
        (redacted) capture settings."""
        if self._offset or self._warcinfo_id:
            raise WarcError("the warcinfo record must be the first record of the file")
        block = warcinfo_block(
            operator=operator,
            settings=settings,
            software=software,
            redact=redact,
            organisation=organisation,
            os_account=os_account,
        )
        filename = filename or self._filename
        fields = [("WARC-Filename", filename)] if filename else []
        written = self._write(
            "warcinfo",
            None,
            fields,
            "application/warc-fields",
            block,
            _NOTHING,
            date,
            record_id,
            payload=False,
        )
        self._warcinfo_id = written.record_id
        return written

    def write_request(
        self,
        target_uri: str,
        http_head: bytes,
        body: Body = b"",
        *,
        concurrent_to: str | None = None,
        ip_address: str | None = None,
        date: datetime | None = None,
        record_id: str | None = None,
    ) -> WrittenRecord:
        """An HTTP request as sent; ``concurrent_to`` is the response's record id."""
        check_head(http_head, response=False)
        fields = self._exchange_fields(ip_address, concurrent_to, None)
        with open_body(body, self._spool_dir) as source:
            head = note_transfer_decoding(http_head, source.size)
            return self._write(
                "request",
                target_uri,
                fields,
                "application/http;msgtype=request",
                head,
                source,
                date,
                record_id,
                payload=source.size > 0,
            )

    def write_response(
        self,
        target_uri: str,
        http_head: bytes,
        body: Body,
        *,
        ip_address: str | None = None,
        truncated: h.Truncated | None = None,
        concurrent_to: str | None = None,
        date: datetime | None = None,
        record_id: str | None = None,
    ) -> WrittenRecord:
        """An HTTP response: the head as received and the body with transfer coding
        removed, content coding kept (the head is annotated if framing was removed)."""
        check_head(http_head, response=True)
        fields = self._exchange_fields(ip_address, concurrent_to, truncated)
        with open_body(body, self._spool_dir) as source:
            head = note_transfer_decoding(http_head, source.size)
            return self._write(
                "response",
                target_uri,
                fields,
                "application/http;msgtype=response",
                head,
                source,
                date,
                record_id,
                payload=True,
            )

    def write_metadata(
        self,
        target_uri: str,
        data: Mapping[str, object],
        *,
        refers_to: str,
        date: datetime | None = None,
        record_id: str | None = None,
    ) -> WrittenRecord:
        """Provenance as canonical JSON (sorted keys, compact), referring to the main
        response; ``target_uri`` is the source URL."""
        try:
            block = json.dumps(
                data, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":")
            ).encode()
        except (TypeError, ValueError) as exc:
            raise WarcError(f"metadata is not JSON-serialisable: {exc}") from exc
        fields = [("WARC-Refers-To", h.check_record_id(refers_to))]
        return self._write(
            "metadata",
            target_uri,
            fields,
            "application/json",
            block,
            _NOTHING,
            date,
            record_id,
            payload=False,
        )

    def write_resource(
        self,
        target_uri: str,
        content_type: str,
        body: Body,
        *,
        concurrent_to: str | None = None,
        truncated: h.Truncated | None = None,
        date: datetime | None = None,
        record_id: str | None = None,
    ) -> WrittenRecord:
        """A derived artefact (screenshot, DOM, PDF, video...). ``target_uri`` in the
        ``urn:<kind>:<url>`` style, see :func:`artefact_uri`. A path body is streamed."""
        fields = []
        if concurrent_to:
            fields.append(("WARC-Concurrent-To", h.check_record_id(concurrent_to)))
        if truncated:
            fields.append(("WARC-Truncated", h.truncated_value(truncated)))
        with open_body(body, self._spool_dir) as source:
            return self._write(
                "resource",
                target_uri,
                fields,
                h.check_content_type(content_type),
                b"",
                source,
                date,
                record_id,
                payload=True,
            )

    # -- the one place bytes are produced -------------------------------------------

    @staticmethod
    def _exchange_fields(
        ip_address: str | None, concurrent_to: str | None, truncated: h.Truncated | None
    ) -> list[tuple[str, str]]:
        fields = []
        if ip_address:
            fields.append(("WARC-IP-Address", h.check_ip(ip_address)))
        if concurrent_to:
            fields.append(("WARC-Concurrent-To", h.check_record_id(concurrent_to)))
        if truncated:
            fields.append(("WARC-Truncated", h.truncated_value(truncated)))
        return fields

    def _write(
        self,
        warc_type: str,
        target_uri: str | None,
        extra: list[tuple[str, str]],
        content_type: str,
        head: bytes,
        source: BodySource,
        date: datetime | None,
        record_id: str | None,
        *,
        payload: bool,
    ) -> WrittenRecord:
        """Write ``head`` + ``source`` as one record's block.

        The payload digest, when asked for, covers ``source`` only: the HTTP body for
        request/response records, the whole block for resources (whose head is empty).
        """
        if self._broken:
            raise WarcError("this WARC writer failed mid-record earlier and cannot continue")
        if warc_type != "warcinfo" and self._warcinfo_id is None:
            raise WarcError("write the warcinfo record first")
        if self._secrets:
            target_uri, head, source = self._scrub(warc_type, target_uri, head, source)
        rid = h.check_record_id(record_id) if record_id else self.new_record_id()
        when = h.format_warc_date(date if date is not None else self._clock())
        fields = [("WARC-Type", warc_type), ("WARC-Record-ID", rid), ("WARC-Date", when)]
        if target_uri is not None:
            fields.append(("WARC-Target-URI", h.check_uri(target_uri)))
        fields += extra
        if self._warcinfo_id and warc_type != "warcinfo":
            fields.append(("WARC-Warcinfo-ID", self._warcinfo_id))

        # First pass: digests, before any byte of the record is written.
        digests = self._digests(head, source, payload)
        if digests is None:  # a secret in the body: digest what will be written instead
            self.redactions.append(
                {"record": warc_type, "target_uri": target_uri or "", "where": "body"}
            )
            source = _RedactedSource(source, self._secrets)
            digests = self._digests(head, source, payload, scan=False)
            assert digests is not None
        block_digest, payload_digest = digests
        payload_label = None
        if payload:
            payload_label = (payload_digest or block_digest).label()
        fields.append(("WARC-Block-Digest", block_digest.label()))
        if payload_label:
            fields.append(("WARC-Payload-Digest", payload_label))
        content_length = len(head) + source.size
        fields += [("Content-Type", content_type), ("Content-Length", str(content_length))]
        header_block = h.encode_fields(fields)

        # Second pass: write, re-hashing what is written so the headers cannot lie.
        offset = self._offset
        try:
            member = GzipMember(self._emit, self._level)
            member.write(header_block)
            member.write(head)
            # A file on disk could change between the passes: re-hash it as written.
            check = None if source.immutable else Digester()
            if check is not None:
                check.update(head)
            for chunk in source.chunks():
                if check is not None:
                    check.update(chunk)
                member.write(chunk)
            if check is not None and check.hexdigest() != block_digest.hexdigest():
                raise WarcError(f"the {warc_type} body changed while it was being written")
            member.write(h.RECORD_END)
            member.close()
        except OSError as exc:
            self._broken = True
            raise WarcError(f"cannot write the {warc_type} record: {exc.strerror or exc}") from exc
        except BaseException:
            self._broken = True
            raise
        return WrittenRecord(
            record_id=rid,
            warc_type=warc_type,
            target_uri=target_uri,
            date=when,
            offset=offset,
            length=self._offset - offset,
            content_length=content_length,
            block_digest=block_digest.label(),
            payload_digest=payload_label,
        )

    def _digests(
        self, head: bytes, source: BodySource, payload: bool, *, scan: bool = True
    ) -> tuple[Digester, Digester | None] | None:
        """Block and payload digests of ``head`` + ``source``; None when the body holds a
        secret (searched in the same pass: big bodies are read once)."""
        block_digest = Digester()
        block_digest.update(head)
        # Without a head the payload is the block: one hash serves both (videos are big).
        payload_digest = Digester() if payload and head else None
        scanner = self._secrets.scanner() if scan and self._secrets else None
        for chunk in source.chunks():
            if scanner is not None and scanner.feed(chunk):
                return None
            block_digest.update(chunk)
            if payload_digest:
                payload_digest.update(chunk)
        return block_digest, payload_digest

    def _scrub(
        self, warc_type: str, target_uri: str | None, head: bytes, source: BodySource
    ) -> tuple[str | None, bytes, BodySource]:
        """The URI and head with every secret replaced, each replacement noted (the body
        is searched in the digest pass, :meth:`_digests`)."""
        secrets = self._secrets
        shown = target_uri
        if target_uri is not None and secrets.found_in(target_uri):
            target_uri = secrets.redact_text(target_uri)
            shown = target_uri
            self.redactions.append(
                {"record": warc_type, "target_uri": target_uri, "where": "WARC-Target-URI"}
            )
        head, count = secrets.redact_bytes(head)
        if count:
            where = "metadata block" if warc_type in ("metadata", "warcinfo") else "HTTP head"
            self.redactions.append({"record": warc_type, "target_uri": shown or "", "where": where})
        return target_uri, head, source

    def _emit(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            # A raw (unbuffered) stream may accept fewer bytes than offered.
            count = self._stream.write(view)
            view = view[len(view) if count is None else count :]
        self._file_hash.update(data)
        self._offset += len(data)


class _RedactedSource:
    """A body with every secret replaced, re-made on each pass (same bytes each time)."""

    immutable = True

    def __init__(self, source: BodySource, secrets: Secrets) -> None:
        self._source = source
        self._secrets = secrets
        self.size = sum(len(chunk) for chunk in self.chunks())

    def chunks(self) -> Iterator[bytes]:
        return self._secrets.redact_chunks(self._source.chunks())
