"""Every real page of ../shared/corpus, served under its original URL by the simulated
web and fetched through it as the archiver would, is recognised as its manifest says."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from archiver.platforms import PlatformSignal, recognize_page
from tests.simweb.corpus import CorpusEntry, read_manifest
from tests.simweb.web import SimulatedWeb

ENTRIES = read_manifest()

# Manifest state -> (implied DESIGN state, the recogniser's detail). News pages say
# nothing platform-specific (None): their HTTP status decides.
EXPECTED: dict[tuple[str, str], tuple[str | None, str] | None] = {
    ("news", "available"): None,
    ("youtube", "available"): ("live", "available"),
    ("youtube", "removed"): ("removed", "removed"),
    ("youtube", "age_restricted"): ("restricted", "age_restricted"),
    ("youtube", "private"): ("restricted", "private"),
    ("youtube", "geo_blocked"): ("restricted", "geo_blocked"),
    ("facebook", "available"): ("live", "available"),
    ("facebook", "login_wall"): ("restricted", "login_wall"),
    ("facebook", "unknown"): (None, "unsupported_browser"),
}


@pytest.fixture(scope="module")
def web() -> Iterator[SimulatedWeb]:
    with SimulatedWeb() as running:
        yield running


def test_every_manifest_state_is_expected() -> None:
    assert {(e.platform, e.state) for e in ENTRIES} <= set(EXPECTED)
    assert len(ENTRIES) == 85


@pytest.mark.parametrize(
    "entry", ENTRIES, ids=[str(e.path.relative_to(e.path.parents[1])) for e in ENTRIES]
)
def test_corpus_page_state_matches_manifest(web: SimulatedWeb, entry: CorpusEntry) -> None:
    if entry.url is None:  # a JavaScript shell whose URL nobody knows: read it directly
        url, final_url, status, html = (
            "https://unknown.example/",
            "https://unknown.example/",
            200,
            entry.body().decode(),
        )
    else:
        # Serve this capture now (two URLs have a before and an after capture).
        url = web.serve_entry(entry)
        with httpx.Client(proxy=web.proxy_url, verify=web.ssl_context_for_clients()) as client:
            response = client.get(url)
        url, final_url, status, html = url, str(response.url), response.status_code, response.text
        assert response.content == entry.body()
    found = recognize_page(url, final_url, status, html)
    expected = EXPECTED[(entry.platform, entry.state)]
    if expected is None:
        assert found is None, found
        return
    assert isinstance(found, PlatformSignal)
    assert (found.implied_state, found.detail) == expected, found.reason
    assert found.platform == entry.platform
    assert found.reason
