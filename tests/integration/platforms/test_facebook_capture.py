"""A Facebook photo post captured (plain HTTP here, for speed): its verdict, text and
full-size picture, fetched beside the page and recorded like the page's own requests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from archiver.app import Archive
from archiver.config import Settings
from archiver.models import Observation, PlatformRecord, Snapshot
from tests.conftest import FixedClock
from tests.simweb import SimulatedWeb

POST = "https://www.facebook.com/permalink.php?story_fbid=827163017327807&id=149460691764713"
FULL = "https://scontent.fala1-1.fna.fbcdn.net/v/t1.0-9/10704334_o.jpg?_nc_cat=1&oh=ab"
THUMB = "https://scontent.fala1-1.fna.fbcdn.net/v/t1.0-9/s320x320/10704334_n.jpg?oh=cd"
PAGE = f"""<!doctype html><html><head><meta charset="utf-8"><title>Задержание | Facebook</title>
<meta property="og:image" content="{THUMB.replace("&", "&amp;")}">
<meta property="og:description" content="Задержание активиста у акимата, 12 марта."></head>
<body><div class="userContent"><p>Задержание активиста у акимата, 12 марта.</p></div></div>
<img src="{THUMB.replace("&", "&amp;")}"><a href="{FULL.replace("&", "&amp;")}">full size</a>
</body></html>"""
JPEG = b"\xff\xd8\xff\xe0" + b"full-size picture bytes" * 50


def test_photo_post_full_size_picture_text_and_verdict(
    simweb: SimulatedWeb,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    simweb.page(POST, PAGE)
    simweb.page(FULL, JPEG, content_type="image/jpeg")
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        capture__modes='{default = ["http"]}',
        platforms__video="false",
    )
    report = tmp_path / "report.txt"
    report.write_text(f"The detention was filmed[1].\n\n[1]{POST}\n", "utf-8")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        assert [o.error for o in archive.capture()] == [None]
        with archive.db.session() as session:
            snapshot = session.scalars(select(Snapshot)).one()
            record = session.scalars(select(PlatformRecord)).one()
            observation = session.scalars(select(Observation)).one()
    assert (record.platform, record.detail, observation.implied_state) == (
        "facebook",
        "available",
        "live",
    )
    assert record.extracted["text"] == "Задержание активиста у акимата, 12 марта."
    assert record.extracted["image_urls"] == [FULL]  # the /s320x320/ thumbnail is not it
    assert record.media_status == "none"
    assert simweb.hits(FULL) == 1
    with (settings.storage.root / snapshot.warc_path).open("rb") as handle:
        responses = {
            r.rec_headers.get_header("WARC-Target-URI"): r.content_stream().read()
            for r in ArchiveIterator(handle)
            if r.rec_type == "response"
        }
    assert responses[FULL] == JPEG
    # The page stays the snapshot's main document.
    assert snapshot.final_url == POST and snapshot.http_status == 200
