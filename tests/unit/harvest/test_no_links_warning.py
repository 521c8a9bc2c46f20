"""A report with no links is taken in, with a warning (finding: it was accepted as a
report with 0 citations and nothing said)."""

from __future__ import annotations

from archiver.harvest import harvest


def test_report_without_links_is_warned_about() -> None:
    result = harvest(b"A monthly digest that lost its footnotes.\n", filename="digest.txt")
    assert result.citations == ()
    assert any(w.startswith("no links found") for w in result.warnings), result.warnings


def test_report_with_only_skipped_links_says_how_many() -> None:
    result = harvest(b"Write to us: mailto:info@example.org\n", filename="digest.txt")
    assert any("links skipped" in w for w in result.warnings), result.warnings


def test_report_with_links_has_no_such_warning() -> None:
    result = harvest(b"A trial[1].\n\n[1]https://example.kz/a/1.html\n", filename="digest.txt")
    assert not any(w.startswith("no links found") for w in result.warnings)
