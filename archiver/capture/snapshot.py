"""One capture of one source, written as one WARC file (DESIGN.md, "WARC layout").

Order of records: warcinfo; for every HTTP exchange its response and its request
(``WARC-Concurrent-To`` linking them; a request alone where no response came back);
one metadata record with the provenance, referring to the main response; resource
records for the screenshot, the rendered DOM and the PDF print.

This module decides what goes into the file and what the database keeps about it; the
bytes are produced by :mod:`archiver.capture.warc`.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from archiver.capture.completeness import incomplete_parts
from archiver.capture.exchange import Body, Exchange, FailureKind
from archiver.capture.provenance import failure_record, provenance_record
from archiver.capture.warc import Truncated, artefact_uri, open_snapshot, snapshot_relpath
from archiver.secrets import NO_SECRETS, Secrets


class PageArtefacts(Protocol):
    """What a browser capture hands over (see archiver.capture.browser.PageCapture)."""

    @property
    def requested_url(self) -> str: ...

    @property
    def final_url(self) -> str | None: ...

    @property
    def title(self) -> str | None: ...

    @property
    def main_status(self) -> int | None: ...

    @property
    def exchanges(self) -> Sequence[Exchange]: ...

    @property
    def main_index(self) -> int | None: ...

    @property
    def redirect_chain(self) -> Sequence[str]: ...

    @property
    def screenshot_png(self) -> bytes | None: ...

    @property
    def dom_html(self) -> bytes | None: ...

    @property
    def pdf(self) -> bytes | None: ...

    @property
    def events(self) -> Sequence[Mapping[str, Any]]: ...

    @property
    def limits_hit(self) -> Sequence[str]: ...

    @property
    def timings(self) -> Mapping[str, float]: ...

    @property
    def browser_version(self) -> str | None: ...

    @property
    def user_agent(self) -> str | None: ...

    @property
    def error(self) -> str | None: ...


@dataclass(frozen=True)
class CaptureInput:
    source_id: int
    url: str
    cited_as: tuple[str, ...]
    started_at: datetime
    finished_at: datetime
    methods: tuple[str, ...]
    http_chain: Sequence[Exchange]
    page: PageArtefacts | None
    # Settings in force (limits, modes, user agent, proxy shown without secrets).
    settings: Mapping[str, Any]
    notes: tuple[str, ...] = ()
    # Platforms (issue 4): files written as resource records after the page's own
    # artefacts (video, its info JSON, thumbnail, subtitles), streamed from disk; and
    # what the platform step found, for the provenance and the platform record.
    extra_artefacts: Sequence[ExtraArtefact] = ()
    platform: Mapping[str, Any] | None = None
    # Requests the platform step made (a post's full-size pictures): recorded like the
    # page's own, never taken for the main document.
    extra_exchanges: Sequence[Exchange] = ()


@dataclass(frozen=True)
class ExtraArtefact:
    """A derived file for a ``urn:<kind>:<target>`` resource record."""

    kind: str
    target: str
    content_type: str
    body: Path


@dataclass(frozen=True)
class MainDocument:
    """The source's own document, as the snapshot saw it."""

    status: int | None
    final_url: str | None
    chain: list[dict[str, Any]]
    payload_sha256: str | None
    payload_size: int | None
    content_type: str | None
    failure_kind: str | None
    failure_message: str | None
    tls_verified: bool | None
    title: str | None


@dataclass(frozen=True)
class WrittenSnapshot:
    id: str
    relpath: PurePosixPath
    sha256: str
    size: int
    records: int
    main: MainDocument
    truncated: bool
    started_at: datetime
    finished_at: datetime
    methods: tuple[str, ...]
    artefacts: list[dict[str, Any]] = field(default_factory=list)
    # The provenance document written into the metadata record (the manifest is built
    # from it: URL as cited, settings, software versions).
    provenance: Mapping[str, Any] = field(default_factory=dict)
    # Platforms (issue 4): the platform step's findings, with the video's sha256 as
    # written (None when the source had no platform step).
    platform: dict[str, Any] | None = None
    # The canonical manifest bytes its seal signs, when built ahead of recording
    # (archiver.integrity.seal.Sealer.prepare); None: built when sealing.
    manifest: bytes | None = None
    # What the snapshot lacks: [{"artefact", "reason"}] (archiver.capture.completeness).
    incomplete: list[dict[str, str]] = field(default_factory=list)


def main_chain(capture: CaptureInput) -> list[Exchange]:
    """The hops of the main document: the plain capture's chain, else the browser's
    main-frame navigation (which the browser capture identifies; iframes are not it)."""
    if capture.http_chain:
        return list(capture.http_chain)
    page = capture.page
    if page is None or page.main_index is None:
        return []
    final = page.exchanges[page.main_index]
    earlier = list(page.redirect_chain[:-1])
    hops: list[Exchange] = []
    for exchange in page.exchanges[: page.main_index]:
        if earlier and exchange.url == earlier[0] and exchange.location is not None:
            hops.append(exchange)
            earlier.pop(0)
    return [*hops, final]


def describe_main(capture: CaptureInput) -> MainDocument:
    chain = main_chain(capture)
    final = chain[-1] if chain else None
    title = capture.page.title if capture.page is not None else None
    if final is None:
        why = _no_main_document(capture.page)
        kind = str(FailureKind.BROWSER)
        return MainDocument(None, None, [], None, None, None, kind, why, None, title)
    return MainDocument(
        status=final.status,
        final_url=final.url if final.ok else None,
        chain=[
            {"url": hop.url, "status": hop.status, "failure": failure_record(hop)} for hop in chain
        ],
        # Filled in from the response record as written (write_snapshot): the WARC
        # writer hashes the payload anyway, and a size limit may have cut it.
        payload_sha256=None,
        payload_size=None,
        content_type=final.header("content-type"),
        failure_kind=str(final.failure.kind) if final.failure else None,
        failure_message=final.failure.message if final.failure else None,
        tls_verified=final.tls.verified if final.tls is not None else None,
        title=title,
    )


def _no_main_document(page: PageArtefacts | None) -> str:
    """Why a capture holds no main document. Only a browser capture ends so (a plain
    capture always makes its request): its navigation was refused or never started."""
    if page is None:
        return "nothing was fetched: no capture method made a request"
    reasons = [page.error] if page.error else []
    reasons += page.limits_hit
    reasons += [
        f"{event['type']}: {event['message']}" if event.get("message") else str(event["type"])
        for event in page.events
        if event.get("type") in {"page_crash", "browser_crash", "browser_error"}
    ]
    why = "; ".join(reasons) or "no request for the page was made"
    return f"the browser showed nothing of {page.requested_url}: {why}"


def provenance(capture: CaptureInput, snapshot_id: str, main: MainDocument) -> dict[str, Any]:
    """The metadata record: how, when, from where and with what it was captured
    (:mod:`archiver.capture.provenance`)."""
    return provenance_record(capture, snapshot_id, main, main_chain(capture))


class _Prefix:
    """The first ``size`` bytes of a captured body, re-readable like the body itself."""

    def __init__(self, body: Body, size: int) -> None:
        self._body = body
        self.size = size

    def chunks(self) -> Iterator[bytes]:
        left = self.size
        for chunk in self._body.chunks():
            if left <= 0:
                break
            piece = chunk[:left]
            left -= len(piece)
            yield piece


class _SnapshotBudget:
    """capture.max_snapshot_bytes: bodies beyond it are cut (WARC-Truncated: length)."""

    def __init__(self, max_bytes: int | None) -> None:
        self.left = max_bytes
        self.cut: list[str] = []

    def take(self, exchange: Exchange) -> tuple[Body | _Prefix, str | None]:
        body = exchange.body
        assert body is not None
        if self.left is None:
            return body, exchange.truncated
        if body.size <= self.left:
            self.left -= body.size
            return body, exchange.truncated
        kept = max(self.left, 0)
        self.left = 0
        self.cut.append(exchange.url)
        return _Prefix(body, kept), "length"


def write_snapshot(
    storage_root: Path,
    capture: CaptureInput,
    *,
    clock: Callable[[], datetime],
    id_factory: Callable[[], uuid.UUID] = uuid.uuid4,
    operator: str | None = None,
    captured_by: Mapping[str, str | None] | None = None,
    max_bytes: int | None = None,
    compress_level: int = 6,
    secrets: Secrets = NO_SECRETS,
    abandoned: Callable[[], bool] | None = None,
) -> WrittenSnapshot:
    """Write the capture to a new WARC file under ``storage_root``; return its summary.
    ``secrets`` are replaced wherever they occur (listed in the provenance's
    ``secrets_redacted``, where and never what). Once ``abandoned()`` is true the file
    is given up (``SnapshotAbandoned``): the process is stopping. ``captured_by``
    (``organisation``, ``operator``, ``os_account``) goes into the warcinfo record and
    the provenance (the manifest takes it from there)."""
    who = dict(captured_by or {})
    snapshot_uuid = id_factory()
    relpath = snapshot_relpath(capture.source_id, snapshot_uuid, capture.started_at)
    main = describe_main(capture)
    exchanges = list(capture.http_chain) + (list(capture.page.exchanges) if capture.page else [])
    exchanges += capture.extra_exchanges
    main_record: str | None = None
    first_request: str | None = None
    chain = main_chain(capture)
    final = chain[-1] if chain else None
    artefacts: list[dict[str, Any]] = []
    records = 0
    budget = _SnapshotBudget(max_bytes)
    with open_snapshot(
        storage_root / relpath,
        clock=clock,
        id_factory=id_factory,
        compress_level=compress_level,
        secrets=secrets,
        abandoned=abandoned,
    ) as writer:
        writer.write_warcinfo(
            operator=who.get("operator") or operator,
            organisation=who.get("organisation"),
            os_account=who.get("os_account"),
            settings=capture.settings,
        )
        records += 1
        for exchange in exchanges:
            response_id = None
            if exchange.response_head is not None and exchange.body is not None:
                body, truncated = budget.take(exchange)
                written = writer.write_response(
                    exchange.url,
                    exchange.response_head,
                    body,
                    ip_address=exchange.ip_address,
                    truncated=Truncated(truncated) if truncated else None,
                    date=exchange.started_at,
                )
                response_id = written.record_id
                records += 1
                if exchange is final:
                    main = dataclasses.replace(
                        main,
                        payload_sha256=(written.payload_digest or "").removeprefix("sha256:"),
                        payload_size=body.size,
                    )
            request_id = None
            if exchange.request_head:
                request = writer.write_request(
                    exchange.url,
                    exchange.request_head,
                    exchange.request_body,
                    concurrent_to=response_id,
                    ip_address=exchange.ip_address,
                    date=exchange.started_at,
                )
                records += 1
                request_id = request.record_id
                first_request = first_request or request_id
            if exchange is final:
                main_record = response_id or request_id
        document = provenance(capture, str(snapshot_uuid), main)
        incomplete = snapshot_incomplete(capture)
        # The WARC itself says what the snapshot lacks, and why.
        document["incomplete"] = incomplete
        if captured_by is not None:
            document["captured_by"] = who
        if budget.cut:
            document["limits_hit"].append(
                f"max_snapshot_bytes: {len(budget.cut)} response bodies cut at {max_bytes} bytes"
            )
            document["truncated"].extend(
                {"url": u, "reason": "length", "via": "snapshot"} for u in budget.cut
            )
        if writer.redactions:
            document["secrets_redacted"] = list(writer.redactions)
        # Its own URI (not the page's), so replay tools never serve it as the page;
        # WARC-Refers-To ties it to the main response.
        writer.write_metadata(
            artefact_uri("provenance", capture.url),
            document,
            refers_to=main_record or first_request or writer.warcinfo_id or "",
        )
        records += 1
        page = capture.page
        if page is not None:
            target = page.final_url or capture.url
            for kind, content_type, data in (
                ("screenshot", "image/png", page.screenshot_png),
                ("dom", "text/html; charset=utf-8", page.dom_html),
                ("pdf", "application/pdf", page.pdf),
            ):
                if not data:
                    continue
                uri = artefact_uri(kind, target)
                written = writer.write_resource(uri, content_type, data, concurrent_to=main_record)
                records += 1
                artefacts.append(
                    {
                        "kind": kind,
                        "uri": uri,
                        "content_type": content_type,
                        "size": len(data),
                        "sha256": (written.payload_digest or "").removeprefix("sha256:"),
                    }
                )
        for extra in capture.extra_artefacts:
            # Streamed from disk (read twice in chunks: digests, then bytes).
            uri = artefact_uri(extra.kind, extra.target)
            size = extra.body.stat().st_size
            written = writer.write_resource(
                uri, extra.content_type, extra.body, concurrent_to=main_record
            )
            records += 1
            artefacts.append(
                {
                    "kind": extra.kind,
                    "uri": uri,
                    "content_type": extra.content_type,
                    "size": size,
                    "sha256": (written.payload_digest or "").removeprefix("sha256:"),
                }
            )
    sealed = writer.sealed
    return WrittenSnapshot(
        id=str(snapshot_uuid),
        relpath=relpath,
        sha256=sealed.sha256,
        size=sealed.size,
        records=records,
        main=main,
        truncated=any(e.truncated for e in exchanges)
        or bool(page and page.limits_hit)
        or bool(budget.cut),
        started_at=capture.started_at,
        finished_at=capture.finished_at,
        methods=capture.methods,
        artefacts=artefacts,
        provenance=document,
        platform=_platform_record(capture, artefacts),
        incomplete=incomplete,
    )


def snapshot_incomplete(capture: CaptureInput) -> list[dict[str, str]]:
    """What the capture should have made and did not (see archiver.capture.completeness)."""
    page = capture.page
    media = capture.platform.get("media") if capture.platform is not None else None
    return incomplete_parts(
        methods=capture.methods,
        page_shown=page is not None and page.main_status is not None,
        artefact_kinds=[]
        if page is None
        else [
            kind
            for kind, data in (
                ("screenshot", page.screenshot_png),
                ("dom", page.dom_html),
                ("pdf", page.pdf),
            )
            if data
        ],
        limits_hit=page.limits_hit if page is not None else (),
        events=page.events if page is not None else (),
        media=media if isinstance(media, Mapping) else None,
    )


def _platform_record(
    capture: CaptureInput, artefacts: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The platform step's findings plus the video's hash and size as written."""
    if capture.platform is None:
        return None
    record = dict(capture.platform)
    video = next((a for a in artefacts if a["kind"] == "video"), None)
    record["media_sha256"] = video["sha256"] if video else None
    record["media_size"] = video["size"] if video else None
    return record
