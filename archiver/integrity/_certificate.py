"""The human-readable certificate of an evidence package, in HTML and PDF.

It lists what the Berkeley Protocol on Digital Open Source Investigations asks a
preserved item to carry: the URL (as cited and as reached), when it was captured,
how and with what tool, the hashes, the trusted timestamps, a screenshot, who cited
it and for what claim (report, footnote, context), and its re-check history. The
certificate itself proves nothing: the signed manifest and the timestamps do; it
says where to look (VERIFY.md).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
Facts = Mapping[str, Any]


def _minute(value: str | None) -> str:
    return "an unknown time" if not value else value.replace("T", " ")[:16] + " UTC"


def third_party_text(third_party: Mapping[str, Any], retrieved_at: str) -> str:
    """ "copy held by web.archive.org, captured 2022-10-05 14:02 UTC; retrieved by us on
    ...": a third-party copy is never presented as our capture."""
    return (
        f"copy held by {third_party.get('archive')}, captured "
        f"{_minute(third_party.get('memento_datetime'))}; retrieved by us on "
        f"{_minute(retrieved_at)}"
    )


def _rows(facts: Facts) -> list[tuple[str, str]]:
    snap = facts["snapshot"]
    rows = [
        *_third_party_rows(facts),
        ("Source URL", facts["source"]["url"]),
        ("Cited as", ", ".join(facts["cited_as"]) or "-"),
        ("Final URL", snap["final_url"] or "-"),
        ("HTTP status", str(snap["http_status"] or "-")),
        ("Redirects", " -> ".join(h["url"] for h in snap["redirect_chain"]) or "-"),
        ("Capture started (UTC)", snap["started_at"]),
        ("Capture finished (UTC)", snap["finished_at"]),
        ("Method", ", ".join(snap["methods"])),
        ("Tool", ", ".join(f"{k} {v}" for k, v in sorted(facts["software"].items()))),
        ("User agent", facts["user_agent"] or "-"),
        ("TLS certificate verified", {None: "n/a", True: "yes", False: "no"}[snap["tls_verified"]]),
        ("Truncated by a limit", "yes" if snap["truncated"] else "no"),
        ("Parts missing", _missing_text(snap.get("incomplete"))),
        (
            "Retrieved by" if facts.get("third_party") else "Captured by",
            _who_text(facts.get("captured_by")),
        ),
        ("Server address", _server_text(facts.get("network"))),
        ("Snapshot id", snap["id"]),
        ("WARC file", f"{snap['warc_name']} ({snap['warc_size']} bytes)"),
        ("WARC sha256", snap["warc_sha256"]),
        ("Main payload sha256", snap["payload_sha256"] or "-"),
        ("Manifest sha256", facts["manifest_sha256"]),
        ("Signed by key (Ed25519)", facts["key_fingerprint"]),
    ]
    for witness in snap.get("witnesses", []):
        if witness.get("memento_url"):
            comparison = f"; {witness['comparison']}" if witness.get("comparison") else ""
            rows.append(
                (
                    "Independent copy",
                    f"{witness['memento_url']} (made {_minute(witness.get('memento_datetime'))} "
                    f"by the archive's Save Page Now at our request{comparison})",
                )
            )
    for artefact in snap["artefacts"]:
        rows.append(
            (f"{artefact['kind']} sha256", f"{artefact['sha256']} ({artefact['size']} bytes)")
        )
    return rows


def _third_party_rows(facts: Facts) -> list[tuple[str, str]]:
    third_party = facts.get("third_party")
    if not third_party:
        return []
    return [
        ("Third-party copy", third_party_text(third_party, facts["snapshot"]["started_at"])),
        ("Not our capture", "the archive captured the page; we retrieved its copy (see below)"),
        ("Memento URL", str(third_party.get("memento_url"))),
        ("Memento-Datetime", str(third_party.get("memento_datetime"))),
        ("Status recorded by the archive", str(third_party.get("original_status") or "-")),
        (
            "Chosen nearest to",
            f"{third_party.get('target_at')} ({third_party.get('target_basis')})",
        ),
    ]


# What each missing part means, in words ("the video could not be downloaded: HTTP 403").
_MISSING = {
    "video": "the video could not be downloaded",
    "screenshot": "no screenshot of the page could be made",
    "dom": "the page as the browser rendered it (DOM) could not be saved",
    "pdf": "no PDF of the page could be made",
}


def _missing_text(incomplete: Sequence[Mapping[str, Any]] | None) -> str:
    """Every part the capture should have made and did not, with why; never silence."""
    if incomplete is None:
        return "not recorded (the snapshot predates this record)"
    if not incomplete:
        return "none: every part the capture method makes was kept"
    parts = []
    for part in incomplete:
        kind = str(part["artefact"])
        words = _MISSING.get(kind, f"the {kind} could not be kept")
        parts.append(f"{words}: {part['reason']}")
    return "; ".join(parts) + ". The package holds only what is listed in the manifest."


def _who_text(who: Mapping[str, Any] | None) -> str:
    if who is None:
        return "not recorded (the manifest predates this record)"
    named = [
        f"{label} {who[key]}"
        for key, label in (
            ("organisation", "organisation"),
            ("operator", "operator"),
            ("os_account", "OS account"),
        )
        if who.get(key)
    ]
    return "; ".join(named) or "not configured (integrity.organisation, integrity.operator)"


def _server_text(network: Mapping[str, Any] | None) -> str:
    if network is None:
        return "not recorded (the manifest predates this record)"
    if network.get("server_ip"):
        return str(network["server_ip"])
    if network.get("proxy"):
        return f"unknown: reached through the proxy {network['proxy']}"
    return "unknown"


CLAIMS_NOTE = (
    "Each claim is quoted from the citing report's own file, included in this package, "
    "as its citations were sealed when the report was added (claims.json, custody "
    "entry); archiver verify checks every quote against that file."
)
UNSEALED = "not sealed when the report was added (an older archiver)"


def _report_file(citation: Mapping[str, Any]) -> str:
    if not citation.get("report_file"):
        return ""
    entry = citation.get("custody_entry")
    return f"; {citation['report_file']}" + (f", custody entry {entry}" if entry else "")


def _stamp_text(stamp: Mapping[str, Any]) -> str:
    if stamp["status"] == "granted":
        return (
            f"{stamp['gen_time']} by {stamp['tsa_url']} (serial {stamp['serial']}, {stamp['file']})"
        )
    return f"pending from {stamp['tsa_url']} ({stamp['attempts']} attempts so far)"


def render_html(facts: Facts, screenshot: bytes | None) -> bytes:
    e = html.escape
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Evidence certificate: {e(facts['source']['url'])}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "td,th{border:1px solid #999;padding:.3em;vertical-align:top;text-align:left;"
        "word-break:break-all}table{border-collapse:collapse;width:100%}"
        "img{max-width:100%;border:1px solid #999}</style></head><body>",
        "<h1>Evidence certificate</h1>",
        f"<p>Exported {e(facts['export']['at'])} by {e(facts['export']['actor'])} "
        f"with evidence-archiver {e(facts['software'].get('archiver', ''))}. "
        "Check every statement below independently with the commands in VERIFY.md.</p>",
        "<h2>Capture</h2><table>",
    ]
    out += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _rows(facts)]
    out.append("</table><h2>Trusted timestamps (RFC 3161)</h2><ul>")
    out += [f"<li>{e(_stamp_text(s))}</li>" for s in facts["timestamps"]] or ["<li>none</li>"]
    out.append(
        f"</ul><h2>Cited in</h2><p>{e(CLAIMS_NOTE)}</p><table><tr><th>Report</th>"
        "<th>Footnote</th><th>URL as cited</th><th>Claim (context)</th></tr>"
    )
    for c in facts["citations"]:
        unsealed = "" if c.get("sealed", True) else f"<br><em>{e(UNSEALED)}</em>"
        out.append(
            f"<tr><td>{e(c['report_title'] or c['report_origin'])}<br>sha256 "
            f"{e(c['report_sha256'])}{e(_report_file(c))}</td><td>{e(c['marker'] or '-')}</td>"
            f"<td>{e(c['url_as_cited'])}</td><td>{e(c['context'])}{unsealed}</td></tr>"
        )
    out.append(
        "</table><h2>Observations (capture and re-check history)</h2><table>"
        "<tr><th>When (UTC)</th><th>How</th><th>HTTP</th><th>Seen</th><th>State</th>"
        "<th>Reason</th></tr>"
    )
    for o in facts["observations"]:
        out.append(
            f"<tr><td>{e(o['observed_at'])}</td><td>{e(o['via'])}</td>"
            f"<td>{e(str(o['http_status'] or '-'))}</td><td>{e(o['implied_state'])}</td>"
            f"<td>{e(o['resulting_state'])}</td><td>{e(o['reason'])}</td></tr>"
        )
    out.append(
        "</table><h2>Chain of custody</h2><table>"
        "<tr><th>#</th><th>When (UTC)</th><th>Who</th><th>What</th><th>Entry hash</th></tr>"
    )
    for c in facts["custody"]:
        out.append(
            f"<tr><td>{c['seq']}</td><td>{e(c['at'])}</td><td>{e(c['actor'])}</td>"
            f"<td>{e(c['action'])} {e(c['subject_type'])} {e(c['subject_id'] or '')}</td>"
            f"<td>{e(c['entry_hash'])}</td></tr>"
        )
    out.append("</table>")
    if screenshot:
        data = base64.b64encode(screenshot).decode("ascii")
        out.append(f"<h2>Screenshot</h2><img alt='screenshot' src='data:image/png;base64,{data}'>")
    out.append("</body></html>\n")
    return "\n".join(out).encode("utf-8")


def _fonts() -> tuple[str, str]:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    regular, bold = _FONT_DIR / "DejaVuSans.ttf", _FONT_DIR / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():
        # Cyrillic and Kazakh text needs a font that has it; the PDF base fonts do not.
        if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
            pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
        return "DejaVuSans", "DejaVuSans-Bold"
    return "Helvetica", "Helvetica-Bold"


def _screenshot_top(png: bytes, max_ratio: float = 1.4) -> tuple[io.BytesIO, int, int] | None:
    """The top of a (possibly very tall) full-page screenshot, as PNG."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(png)) as img:
            width, height = img.size
            keep = min(height, int(width * max_ratio))
            out = io.BytesIO()
            img.crop((0, 0, width, keep)).save(out, "PNG")
    except (OSError, ValueError):
        return None
    out.seek(0)
    return out, width, keep


def render_pdf(facts: Facts, screenshot: bytes | None) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    regular, bold = _fonts()
    # Lines break between words only ("CJK" wrapping broke anywhere: "Footno te"); a
    # token wider than its column (a URL, a hash in a narrow one) is split, nothing else.
    body = ParagraphStyle("body", fontName=regular, fontSize=8, leading=10, splitLongWords=1)
    head = ParagraphStyle("head", fontName=bold, fontSize=11, leading=14, spaceBefore=6)
    title = ParagraphStyle("title", fontName=bold, fontSize=16, leading=20)

    def p(text: object) -> Paragraph:
        return Paragraph(html.escape(str(text)), body)

    def table(rows: Sequence[Sequence[object]], widths: Sequence[float]) -> Table:
        t = Table([[p(c) for c in row] for row in rows], colWidths=[w * mm for w in widths])
        t.setStyle(
            TableStyle(
                [("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]
            )
        )
        return t

    story: list[Any] = [
        Paragraph("Evidence certificate", title),
        p(
            f"Exported {facts['export']['at']} by {facts['export']['actor']}. Check every "
            "statement independently with the commands in VERIFY.md."
        ),
        Paragraph("Capture", head),
        table(_rows(facts), (45, 135)),
        Paragraph("Trusted timestamps (RFC 3161)", head),
    ]
    story += [p(_stamp_text(s)) for s in facts["timestamps"]] or [p("none")]
    story.append(Paragraph("Cited in", head))
    story.append(p(CLAIMS_NOTE))
    story.append(
        table(
            [("Report", "Footnote", "URL as cited", "Claim (context)")]
            + [
                (
                    f"{c['report_title'] or c['report_origin']} (sha256 {c['report_sha256']})"
                    + _report_file(c),
                    c["marker"] or "-",
                    c["url_as_cited"],
                    c["context"] + ("" if c.get("sealed", True) else f" ({UNSEALED})"),
                )
                for c in facts["citations"]
            ],
            (37, 18, 45, 80),  # "Footnote" whole in its column
        )
    )
    story.append(Paragraph("Observations (capture and re-check history)", head))
    story.append(
        table(
            [("When (UTC)", "How", "HTTP", "Seen", "State", "Reason")]
            + [
                (
                    o["observed_at"],
                    o["via"],
                    o["http_status"] or "-",
                    o["implied_state"],
                    o["resulting_state"],
                    o["reason"],
                )
                for o in facts["observations"]
            ],
            (32, 15, 12, 18, 18, 85),
        )
    )
    story.append(Paragraph("Chain of custody", head))
    story.append(
        table(
            [("#", "When (UTC)", "Who", "What", "Entry hash")]
            + [
                (
                    c["seq"],
                    c["at"],
                    c["actor"],
                    f"{c['action']} {c['subject_type']}",
                    c["entry_hash"],
                )
                for c in facts["custody"]
            ],
            (10, 32, 25, 30, 83),
        )
    )
    if screenshot:
        top = _screenshot_top(screenshot)
        if top is not None:
            stream, width, height = top
            shown = 120 * mm
            story += [
                Paragraph("Screenshot (top of the page)", head),
                Spacer(1, 2 * mm),
                Image(stream, width=shown, height=shown * height / width),
            ]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title="Evidence certificate",
        author="evidence-archiver",
        invariant=1,
    )
    doc.build(story)
    return out.getvalue()
