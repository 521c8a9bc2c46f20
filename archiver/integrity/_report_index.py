"""The readable parts of a report export (archiver.integrity.report_export): the index as
CSV and HTML, and its VERIFY.md."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from archiver.integrity._verify_doc import _key_check, _timestamp_lines

if TYPE_CHECKING:
    from archiver.integrity.report_export import IndexRow

CSV_COLUMNS = (
    "footnote",
    "position",
    "url_as_cited",
    "source_id",
    "source_url",
    "platform",
    "state",
    "package",
    "package_sha256",
    "package_bytes",
    "snapshot_id",
    "snapshot_kind",
    "captured_at",
    "http_status",
    "timestamp",
    "no_package",
    "note",
    "claim",
)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def index_csv(rows: Sequence[IndexRow]) -> bytes:
    """One row per footnote; UTF-8 with a byte order mark (spreadsheets then read
    Cyrillic as written), as the status CSV."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        values = {**vars(row), "position": row.position + 1}
        writer.writerow([_cell(values[column]) for column in CSV_COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:1.5rem;color:#1a1a1a}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.3rem .45rem;
vertical-align:top;text-align:left}th{background:#f2f2f2}code{font-size:.85em;word-break:break-all}
.none{color:#8a1c1c}.muted{color:#555}.url{word-break:break-all}
"""


def index_html(document: Mapping[str, Any], rows: Sequence[IndexRow]) -> bytes:
    """The index for people; no script, no outside resource."""
    e = html.escape
    report = document["report"]
    title = report["title"] or f"Report {report['id']}"
    packaged = len({r.source_id for r in rows if r.package})
    missing = len({r.source_id for r in rows if not r.package})
    lines = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Evidence index: {e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Evidence index: {e(title)}</h1>",
        f'<p class="muted">Report {report["id"]} ({e(report["format"])}, sha256 '
        f"<code>{e(report['sha256'])}</code>), from {e(report['origin'])}. Exported "
        f"{e(document['exported_at'])} by {e(document['actor'])}; signing key "
        f"<code>{e(document['key_fingerprint'])}</code>.</p>",
        f"<p>{len(rows)} footnotes, {packaged + missing} sources: {packaged} with an evidence "
        f"package, {missing} without one (each says why). SHA256SUMS lists this file and "
        "every package; it is signed and timestamped: see VERIFY.md.</p>",
        "<table><thead><tr><th>Footnote</th><th>Source</th><th>State</th>"
        "<th>Package and sha256</th><th>Claim</th></tr></thead><tbody>",
    ]
    for row in rows:
        footnote = f"[{row.footnote}]" if row.footnote else f"(inline, link {row.position + 1})"
        if row.package:
            held = (
                f'<a href="{e(row.package)}">{e(row.package)}</a><br>'
                f"<code>{e(row.package_sha256 or '')}</code><br>"
                f'<span class="muted">snapshot {e(row.snapshot_id or "")}, '
                f"{e(row.captured_at or '')}, HTTP {e(_cell(row.http_status) or 'none')}; "
                f"timestamp {e(row.timestamp or '')}</span>"
            )
            if row.note:
                held += f"<br>{e(row.note)}"
        else:
            held = f'<span class="none">no package: {e(row.no_package or "")}</span>'
        lines.append(
            f"<tr><td>{e(footnote)}</td><td class=url>{e(row.url_as_cited)}<br>"
            f'<span class="muted">source {row.source_id}: {e(row.source_url)} '
            f"({e(row.platform)})</span></td><td>{e(row.state)}</td><td>{held}</td>"
            f"<td>{e(row.claim)}</td></tr>"
        )
    lines += ["</tbody></table>", "</body></html>", ""]
    return "\n".join(lines).encode("utf-8")


def verify_md(
    document: Mapping[str, Any], stamps: Sequence[Mapping[str, Any]], *, package_count: int
) -> bytes:
    """The commands that check the export with standard tools (coreutils, OpenSSL 3)."""
    report = document["report"]
    granted = [s for s in stamps if s["file"]]
    pending = [s for s in stamps if not s["file"]]
    lines = [
        "# How to verify this report export",
        "",
        f"Report {report['id']} (sha256 `{report['sha256']}`), exported "
        f"{document['exported_at']} by {document['actor']}: {package_count} evidence packages "
        "(packages/) and an index of every footnote (index.csv, index.html, index.json).",
        "",
        "SHA256SUMS lists the index, the key and every package with its sha256; it is signed",
        "(SHA256SUMS.sig, Ed25519) and timestamped (RFC 3161, timestamps/). This file and",
        "timestamps/ are the only files it does not list: the timestamps stamp SHA256SUMS",
        "itself, and this file was written once they were known.",
        "",
        "Run the commands below in the export's folder (for a zip: `unzip EXPORT.zip -d",
        "export && cd export`).",
        "",
        "## 1. The index and every package are as exported",
        "",
        "```sh",
        "sha256sum -c SHA256SUMS",
        "openssl pkeyutl -verify -pubin -inkey key/public.pem -rawin -in SHA256SUMS "
        "-sigfile SHA256SUMS.sig",
        "```",
        "",
        "Expected: every line `OK`, then `Signature Verified Successfully`.",
        "",
        "## 2. The signing key is the organisation's",
        "",
        "Set the fingerprints the organisation published (never take them from this export),",
        "then check the key; it prints the fingerprint when it is one of them, and fails",
        "otherwise:",
        "",
        "```sh",
        "PUBLISHED_KEYS='...'",
        _key_check("key/public.pem"),
        "```",
        "",
        "## 3. When: the trusted timestamps of SHA256SUMS",
        "",
    ]
    lines += _timestamp_lines(granted)
    if pending:
        lines += [
            "",
            "Not obtained when the export was written (no answer, or a refusal), so the export",
            "proves its integrity from its signature only:",
            "",
        ]
        lines += [f"- {s['tsa_url']}: {s.get('reason', 'pending')}" for s in pending]
    lines += [
        "",
        "## 4. Each evidence package",
        "",
        "Each package in packages/ has its own VERIFY.md (its WACZ, signed manifest,",
        "timestamps, custody entries and certificate). With the archiver installed,",
        "`archiver verify` checks all of this export (signature, timestamps, every package's",
        "sha256 and every package as `archiver verify PACKAGE` does) in one command:",
        "",
        "```sh",
        "archiver verify .",
        "```",
        "",
    ]
    return "\n".join(lines).encode("utf-8")
