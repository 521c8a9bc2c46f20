"""Small charts as inline SVG, drawn on the server: no script, nothing loaded.

Each bar is a ``<g data-key=... data-count=...>`` holding a ``<title>`` ("dead: 12
footnotes", shown on hover). The picture has ``role="img"``, a title and a description
listing every number; the page beside it says the same in words (links that filter), so
nothing is only in the picture. The viewBox is 360 units wide and the SVG as wide as its
box, so it fits a phone's screen as it is and grows on a wider one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# The badge colours of base.html (white text on each passes WCAG AA; as bars, each has
# 3:1 or more against the white page).
STATE_COLOURS = {
    "pending": "#6e7781",
    "live": "#1a7f37",
    "altered": "#bc4c00",
    "removed": "#cf222e",
    "dead": "#82071e",
    "restricted": "#8250df",
    "redirected": "#9a6700",
    "blocked": "#0969da",
    "unreachable": "#57606a",
}
TEXT = "#1b1f23"
WIDTH = 360


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    count: int
    colour: str


def state_bars(counts: Mapping[str, int], states: Sequence[str]) -> list[Bar]:
    """One bar per state, in the states' order, zeros included."""
    return [Bar(s, s, counts.get(s, 0), STATE_COLOURS.get(s, TEXT)) for s in states]


def _open(chart_id: str, title: str, description: str, height: int) -> list[str]:
    cid = escape(chart_id)
    return [
        f'<svg id="{cid}" class="chart" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{cid}-title" aria-describedby="{cid}-desc" '
        f'font-size="13" fill="{TEXT}">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(description)}</desc>',
    ]


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar], unit: str) -> Markup:
    """Horizontal bars, one row each: label, bar, number."""
    row, label_width, number_width = 24, 96, 52
    room = WIDTH - label_width - number_width
    largest = max((b.count for b in bars), default=0)
    height = len(bars) * row + 4
    description = ", ".join(f"{b.label} {b.count}" for b in bars) + f" ({unit})"
    parts = _open(chart_id, title, description, height)
    for i, bar in enumerate(bars):
        y = 2 + i * row
        width = round(room * bar.count / largest, 1) if largest else 0
        parts.append(
            f'<g data-key="{escape(bar.key)}" data-count="{bar.count}">'
            f"<title>{escape(bar.label)}: {bar.count} {escape(unit)}</title>"
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">{escape(bar.label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{width}" height="16" rx="2" '
            f'fill="{escape(bar.colour)}"/>'
            f'<text x="{label_width + width + 5}" y="{y + 15}">{bar.count}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(
    chart_id: str,
    title: str,
    columns: Sequence[tuple[str, Mapping[str, int]]],
    unit: str,
    colours: Mapping[str, str] = STATE_COLOURS,
) -> Markup:
    """One column per key (a day), stacked by part (the state led to), oldest left; the
    largest total written on the axis, the first and last key below."""
    height, top, bottom, left = 130, 8, 20, 30
    plot = height - top - bottom
    totals = [sum(parts.values()) for _, parts in columns]
    largest = max(totals, default=0)
    slot = (WIDTH - left - 2) / max(len(columns), 1)
    description = (
        "; ".join(
            f"{key}: {total}" for (key, _), total in zip(columns, totals, strict=True) if total
        )
        or f"no {unit}"
    )
    svg = _open(chart_id, title, description, height)
    svg.append(
        f'<line x1="{left}" y1="{top + plot}" x2="{WIDTH - 2}" y2="{top + plot}" '
        f'stroke="{TEXT}" stroke-width="1"/>'
        f'<text x="{left - 4}" y="{top + 10}" text-anchor="end">{largest}</text>'
        f'<text x="{left - 4}" y="{top + plot}" text-anchor="end">0</text>'
    )
    for i, ((key, parts), total) in enumerate(zip(columns, totals, strict=True)):
        x = round(left + i * slot + slot * 0.15, 1)
        width = round(slot * 0.7, 1)
        detail = ", ".join(f"{k} {n}" for k, n in sorted(parts.items()) if n)
        group = [
            f'<g data-key="{escape(key)}" data-count="{total}">'
            f"<title>{escape(key)}: {total} {escape(unit)}"
            f"{f' ({escape(detail)})' if detail else ''}</title>"
        ]
        base: float = top + plot
        for part in sorted(parts, key=lambda k: list(colours).index(k) if k in colours else 99):
            size = round(plot * parts[part] / largest, 1) if largest else 0
            base -= size
            group.append(
                f'<rect x="{x}" y="{round(base, 1)}" width="{width}" height="{size}" '
                f'fill="{escape(colours.get(part, TEXT))}"/>'
            )
        group.append("</g>")
        svg.append("".join(group))
    if columns:
        svg.append(
            f'<text x="{left}" y="{height - 4}">{escape(columns[0][0])}</text>'
            f'<text x="{WIDTH - 2}" y="{height - 4}" text-anchor="end">'
            f"{escape(columns[-1][0])}</text>"
        )
    svg.append("</svg>")
    return Markup("".join(svg))
