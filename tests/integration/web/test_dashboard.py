"""The report dashboard (/reports/{id}) and the archive-wide one (/sources): counts by
state as a server-rendered SVG chart, filters (state, platform, domain, never preserved,
suspected, incomplete), search over URL, claim and page title, the same filters in the
JSON API, state changes over time; and for a dead source, its last preserved snapshot
beside what the site answers now. Expectations come from the status document."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

import httpx
import lxml.html
import pytest

from archiver.store.status import STATES
from tests.conftest import FixedClock
from tests.integration.web.conftest import WebWorld, bearer
from tests.integration.web.dashboard_world import TITLE, Seeded, seed, state_changes


@pytest.fixture
def seeded(world: WebWorld, clock: FixedClock) -> Seeded:
    return seed(world, clock)


def _footnotes(html: str) -> list[tuple[str | None, int]]:
    tree = lxml.html.fromstring(html)
    found = []
    for note in tree.xpath("//div[contains(@class, 'footnote')]"):
        marker = note.xpath(".//span[@class='marker']")[0].text_content()
        found.append(
            (marker.strip("[]") if marker != "(inline)" else None, int(note.get("data-source")))
        )
    return found


def _chart(html: str, chart_id: str) -> dict[str, int]:
    """The numbers an SVG chart draws: per bar, its key and count, as its title says
    them (and, where the bar has one, the number written beside it)."""
    tree = lxml.html.fromstring(html)
    charts = tree.xpath(f"//svg[@id='{chart_id}']")
    assert len(charts) == 1, f"no chart {chart_id}"
    drawn: dict[str, int] = {}
    for bar in charts[0].xpath(".//g[@data-key]"):
        key, count = bar.get("data-key"), int(bar.get("data-count"))
        assert bar.xpath("./title")[0].text_content().startswith(f"{key}: {count} ")
        written = [t.text_content() for t in bar.xpath(".//text")]
        assert not written or written[-1] == str(count), (key, written)
        drawn[key] = count
    return drawn


async def _page(client: httpx.AsyncClient, world: WebWorld, path: str) -> str:
    response = await client.get(path, headers=bearer(world.tokens["viewer"]))
    assert response.status_code == 200, (path, response.text[:500])
    return response.text


async def test_dead_filter_shows_exactly_the_dead_footnotes(
    client: httpx.AsyncClient, world: WebWorld, seeded: Seeded
) -> None:
    dead = seeded.sources_where(lambda s: s["state"] == "dead")
    assert dead == {seeded.ids[k] for k in ("dead_then_now", "dead", "dead_too")}
    html = await _page(client, world, "/reports/1?state=dead")
    assert _footnotes(html) == seeded.footnotes(dead)
    assert f"Showing {len(seeded.footnotes(dead))} of 127 citations." in html


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("never_preserved", lambda s: s["capture_attempts"] > 0 and not s["preserved"]),
        ("suspected", lambda s: s["suspected"] is not None),
        ("incomplete", None),
    ],
)
async def test_flag_filters_on_the_report_and_the_sources(
    client: httpx.AsyncClient, world: WebWorld, seeded: Seeded, flag: str, expected: object
) -> None:
    keep = seeded.incomplete() if expected is None else seeded.sources_where(expected)
    assert keep, flag
    html = await _page(client, world, f"/reports/1?{flag}=1")
    assert _footnotes(html) == seeded.footnotes(keep)
    listed = await _page(client, world, f"/sources?{flag}=1")
    shown = {int(a.get("href").rsplit("/", 1)[1]) for a in lxml.html.fromstring(listed).xpath(
        "//table//a[starts-with(@href, '/sources/')]"
    )}  # fmt: skip
    assert shown == keep
    api = await client.get(f"/api/v1/sources?{flag}=true", headers=bearer(world.tokens["viewer"]))
    assert {s["id"] for s in api.json()} == keep
    report = await client.get(
        f"/api/v1/reports/1?{flag}=true", headers=bearer(world.tokens["viewer"])
    )
    assert [(c["marker"], c["source_id"]) for c in report.json()["citations"]] == seeded.footnotes(
        keep
    )


async def test_expected_situations(seeded: Seeded, world: WebWorld) -> None:
    ids = seeded.ids
    never = seeded.sources_where(lambda s: s["capture_attempts"] > 0 and not s["preserved"])
    assert never == {ids["failed_dns"], ids["failed_timeout"]}
    suspected = seeded.sources_where(lambda s: s["suspected"] is not None)
    assert suspected == {ids["failed_dns"], ids["suspected"]}
    # The world's snapshot lacks its DOM and PDF (derived from its row), the seeded one its video.
    assert seeded.incomplete() == {world.source_id, ids["incomplete"]}


async def test_search_finds_a_claim_by_a_word(
    client: httpx.AsyncClient, world: WebWorld, seeded: Seeded
) -> None:
    citations = seeded.status["reports"][0]["citations"]
    warsaw = [(c["marker"], c["source_id"]) for c in citations if "warsaw" in c["context"].lower()]
    assert warsaw
    # Any case; several words must all be there.
    html = await _page(client, world, "/reports/1?q=WARSAW")
    assert _footnotes(html) == warsaw
    assert 'value="WARSAW"' in html
    both = [
        (c["marker"], c["source_id"])
        for c in citations
        if "warsaw" in c["context"].lower() and "osce" in c["context"].lower()
    ]
    assert _footnotes(await _page(client, world, "/reports/1?q=warsaw+OSCE")) == both
    # A page title (the snapshot's), in Cyrillic, in another case.
    by_title = await _page(client, world, "/reports/1?q=" + TITLE.split()[1].upper())
    assert {sid for _, sid in _footnotes(by_title)} == {seeded.ids["incomplete"]}
    # A piece of the URL as cited.
    url = next(c["url"] for c in citations if c["source_id"] == seeded.ids["dead"])
    piece = urlsplit(url).path.strip("/").split("/")[-1][:12]
    with_piece = [
        (c["marker"], c["source_id"]) for c in citations if piece.lower() in c["url"].lower()
    ]
    assert _footnotes(await _page(client, world, f"/reports/1?q={piece}")) == with_piece
    # Archive-wide: the sources whose claims, URL or title hold the word.
    api = await client.get("/api/v1/sources?q=warsaw", headers=bearer(world.tokens["viewer"]))
    assert {s["id"] for s in api.json()} == {sid for _, sid in warsaw}
    nothing = await _page(client, world, "/reports/1?q=zzzyyyxxx")
    assert _footnotes(nothing) == [] and "No citation matches" in nothing


async def test_api_query_parameters(
    client: httpx.AsyncClient, world: WebWorld, seeded: Seeded
) -> None:
    headers = bearer(world.tokens["viewer"])
    sources = {s["id"]: s for s in seeded.status["sources"]}
    hosts = Counter(urlsplit(s["url"]).hostname for s in sources.values())
    host = next(h for h, n in hosts.most_common() if h and not h.startswith("www.") and n > 1)
    domain = ".".join(host.split(".")[-2:])  # the parent domain matches its subdomains
    expected = {
        sid for sid, s in sources.items() if (urlsplit(s["url"]).hostname or "").endswith(domain)
    }
    listed = (await client.get(f"/api/v1/sources?domain={domain}", headers=headers)).json()
    assert {s["id"] for s in listed} == expected
    report = (await client.get(f"/api/v1/reports/1?domain={domain}", headers=headers)).json()
    assert [(c["marker"], c["source_id"]) for c in report["citations"]] == seeded.footnotes(
        expected
    )
    # Filters combine; counts stay those of the whole report.
    combined = (
        await client.get("/api/v1/reports/1?state=dead&never_preserved=true", headers=headers)
    ).json()
    assert combined["citations"] == [] and combined["total_citations"] == 127
    dead = seeded.sources_where(lambda s: s["state"] == "dead")
    assert combined["by_state"]["dead"] == len(seeded.footnotes(dead))
    assert combined["flags"] == {
        "never_preserved": len(
            seeded.footnotes({seeded.ids["failed_dns"], seeded.ids["failed_timeout"]})
        ),
        "suspected": len(seeded.footnotes({seeded.ids["failed_dns"], seeded.ids["suspected"]})),
        "incomplete": len(seeded.footnotes(seeded.incomplete())),
    }
    assert "by_domain" in combined and sum(combined["by_domain"].values()) == 127
    # The old parameters and fields are unchanged; a bad flag value is refused.
    youtube = (await client.get("/api/v1/sources?platform=youtube", headers=headers)).json()
    assert len(youtube) == 8
    bad = await client.get("/api/v1/sources?suspected=perhaps", headers=headers)
    assert bad.status_code == 422
    dead_q = (await client.get("/api/v1/sources?state=dead&q=zzzyyy", headers=headers)).json()
    assert dead_q == []
    schema = (await client.get("/api/v1/openapi.json", headers=headers)).json()
    params = {p["name"] for p in schema["paths"]["/api/v1/sources"]["get"]["parameters"]}
    assert params >= {
        "state",
        "platform",
        "domain",
        "never_preserved",
        "suspected",
        "incomplete",
        "q",
    }


async def test_the_charts_numbers_equal_the_counts(
    client: httpx.AsyncClient, world: WebWorld, seeded: Seeded
) -> None:
    sources = {s["id"]: s for s in seeded.status["sources"]}
    footnotes = Counter(
        sources[c["source_id"]]["state"] for c in seeded.status["reports"][0]["citations"]
    )
    html = await _page(client, world, "/reports/1")
    assert _chart(html, "by-state") == {state: footnotes.get(state, 0) for state in STATES}
    # Filtering leaves the report's chart whole.
    assert _chart(await _page(client, world, "/reports/1?state=dead"), "by-state") == _chart(
        html, "by-state"
    )
    wide = await _page(client, world, "/sources")
    assert _chart(wide, "by-state") == seeded.status["summary"]["by_state"]
    # State changes per day: the observations whose resulting state differs from the one before.
    drawn = {day: n for day, n in _chart(wide, "changes").items() if n}
    assert drawn == state_changes(world)
    assert len(_chart(wide, "changes")) == 30
    # The chart is described for screen readers; beside it, each state links to its filter.
    tree = lxml.html.fromstring(html)
    svg = tree.xpath("//svg[@id='by-state']")[0]
    assert svg.get("role") == "img" and svg.xpath("./title") and svg.xpath("./desc")
    assert tree.xpath("//*[@class='summary']//a[contains(@href, 'state=dead')]")


async def test_a_dead_source_beside_what_the_site_answers_now(
    client: httpx.AsyncClient, world: WebWorld, seeded: Seeded
) -> None:
    sid = seeded.ids["dead_then_now"]
    source = next(s for s in seeded.status["sources"] if s["id"] == sid)
    html = await _page(client, world, f"/sources/{sid}")
    tree = lxml.html.fromstring(html)
    then = tree.xpath("//section[@id='then-and-now']//*[@data-side='then']")
    now = tree.xpath("//section[@id='then-and-now']//*[@data-side='now']")
    assert then and now
    then_text, now_text = then[0].text_content(), now[0].text_content()
    assert "Суд над активистом" in then_text and "HTTP 200" in then_text
    assert source["snapshots"][0]["captured_at"][:16].replace("T", " ") in then_text
    assert "HTTP 404" in now_text and "HTTP 404, confirmed" in now_text
    assert source["url"] + "?gone=1" in now_text
    assert source["last_checked_at"][:16].replace("T", " ") in now_text
    # Never preserved and suspected dead: nothing to show as "then", and says so.
    failed = await _page(client, world, f"/sources/{seeded.ids['failed_dns']}")
    section = lxml.html.fromstring(failed).xpath("//section[@id='then-and-now']")[0]
    assert "Nothing was preserved" in section.text_content()
    assert "the host name does not resolve" in section.text_content()
    # A live source has no such section.
    live = await _page(client, world, f"/sources/{seeded.ids['incomplete']}")
    assert "then-and-now" not in live
