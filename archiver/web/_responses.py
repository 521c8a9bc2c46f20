"""Turning downloads and the status document into HTTP responses."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.responses import FileResponse, Response, StreamingResponse

from archiver.store.status import CSV_COLUMNS, status_rows
from archiver.web.downloads import Download


def download_response(download: Download, *, inline: bool = False) -> Response:
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    if download.sha256:
        # The hash recorded when the evidence was captured: check it after the download.
        headers["X-Archiver-SHA256"] = download.sha256
    if download.path is not None:
        return FileResponse(
            download.path,
            media_type=download.media_type,
            filename=download.filename,
            headers=headers,
        )
    disposition = "inline" if inline else "attachment"
    headers["Content-Disposition"] = f'{disposition}; filename="{download.filename}"'
    if download.stream is not None:
        if download.size is not None:
            headers["Content-Length"] = str(download.size)
        return StreamingResponse(download.stream, media_type=download.media_type, headers=headers)
    return Response(download.data or b"", media_type=download.media_type, headers=headers)


def csv_response(status: dict[str, Any], filename: str = "evidence-status.csv") -> Response:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(status_rows(status))
    return Response(
        # A byte-order mark so spreadsheet programs read Cyrillic as UTF-8.
        "\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
