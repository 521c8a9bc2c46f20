"""From a parsed document to citations: order, duplicates and context, the same for all formats.

* Blocks are read in order; each anchor in a block, in order of its offset, cites:
  an inline link cites its URL (marker None); a note reference cites every URL of that
  note (one citation each, same marker), the first time the note is referenced. Later
  references to the same note add nothing.
* Notes never referenced from the body come last, in the order of the notes list (which
  is where they appear in the document), with the note's own text as context.
* Links the parsers saw but did not keep, and non-web links written in the text
  ("mailto:", "tel:"...), end up in ``skipped``.
"""

from __future__ import annotations

from archiver.harvest._context import BlockContext
from archiver.harvest._ir import Parsed
from archiver.harvest._links import LinkVetter
from archiver.harvest.model import FoundCitation, SkippedLink
from archiver.harvest.urls import find_skipped_links


def _missing_notes_warning(labels: list[str]) -> str:
    shown = ", ".join(f"[{label}]" for label in labels[:10])
    more = f" and {len(labels) - 10} more" if len(labels) > 10 else ""
    return f"{len(labels)} footnote references point to no note: {shown}{more}"


def assemble(parsed: Parsed, vetter: LinkVetter) -> tuple[list[FoundCitation], list[str]]:
    """Citations in document order, plus warnings found while assembling."""
    citations: list[FoundCitation] = []
    notes = {note.key: note for note in parsed.notes}
    cited: set[str] = set()
    missing: list[str] = []
    warnings: list[str] = []

    def cite(marker: str | None, url: str, context: str) -> None:
        citations.append(FoundCitation(marker, url, context, len(citations)))

    for block in parsed.blocks:
        if not block.anchors:
            continue
        finder = BlockContext(block.text)
        for anchor in sorted(block.anchors, key=lambda a: a.offset):
            if anchor.url is not None:
                cite(None, anchor.url, finder.at(anchor.offset))
                continue
            key = anchor.note_key
            if key is None or key in cited:
                continue
            note = notes.get(key)
            if note is None:
                label = anchor.label or key
                if label not in missing:
                    missing.append(label)
                continue
            cited.add(key)
            context = finder.at(anchor.offset)
            for url in note.urls:
                cite(note.marker, url, context)
    for note in parsed.notes:
        if note.key not in cited:
            for url in note.urls:
                cite(note.marker, url, note.text)
    if missing:
        warnings.append(_missing_notes_warning(missing))
    return citations, warnings


def written_skips(parsed: Parsed) -> list[SkippedLink]:
    """Non-web links ("mailto:...", "tel:...") written in the text of blocks and notes."""
    found: list[SkippedLink] = []
    for text in [b.text for b in parsed.blocks] + [n.text for n in parsed.notes]:
        if ":" in text:
            found.extend(find_skipped_links(text))
    return found
