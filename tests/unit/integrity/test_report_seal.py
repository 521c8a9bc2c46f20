"""The sealed citations document of a report: its exact bytes, and naming what differs."""

from __future__ import annotations

import hashlib

from archiver.integrity.report_seal import (
    citations_document,
    differences,
    document_bytes,
    document_sha256,
    label,
    reharvest,
    seal_details,
)

ROWS = [
    (1, None, "https://example.org/b", "Inline link."),
    (0, "12", "https://example.org/a", "67,000 detained in Almaty."),
]


def test_the_document_is_canonical_json_by_position() -> None:
    document = citations_document(ROWS)
    assert [c["position"] for c in document] == [0, 1]
    assert document_bytes(document) == (
        b'[{"context":"67,000 detained in Almaty.","marker":"12","position":0,'
        b'"url":"https://example.org/a"},{"context":"Inline link.","marker":null,'
        b'"position":1,"url":"https://example.org/b"}]'
    )
    details = seal_details(10, "text", document)
    assert details == {
        "size": 10,
        "format": "text",
        "citations": 2,
        "citations_sha256": hashlib.sha256(document_bytes(document)).hexdigest(),
    }


def test_text_without_a_canonical_form_still_has_one_digest() -> None:
    document = citations_document([(0, "1", "https://example.org/", "broken \udc80 text")])
    assert document_bytes(document).isascii()
    assert document_sha256(document) == document_sha256(list(document))


def test_differences_name_the_citation_by_position() -> None:
    sealed = citations_document(ROWS)
    edited = [dict(c) for c in sealed]
    edited[0]["context"] = "6,700 detained in Almaty."
    del edited[1]
    found = differences(edited, sealed)
    assert found == [(edited[0], sealed[0]), (None, sealed[1])]
    assert label(3, "12", 0) == "report 3 footnote 12"
    assert label(3, None, 1) == "report 3 citation 2"


def test_the_report_read_again_gives_the_same_document() -> None:
    data = b"A claim[1].\n\n[1] https://example.org/a\n"
    document = reharvest(data, "x.txt", None)
    assert document is not None and [c["marker"] for c in document] == ["1"]
    assert reharvest(b"   ", "x.txt", None) is None  # unreadable now: None, not an error
