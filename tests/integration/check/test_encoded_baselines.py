"""A baseline is read back from its WARC whatever content coding the site used: br
(warcio's own decoding failed on it beside Google's brotli module, and the check crashed
with AttributeError), deflate and gzip."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from pathlib import Path

import brotli
import pytest

from archiver.app import Archive
from archiver.config import Settings
from tests.conftest import FixedClock
from tests.simweb import SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401

pytestmark = pytest.mark.slow

ARTICLE = (
    "<html><head><title>Trial</title></head><body><article><h1>Trial in Kyzylorda</h1>"
    + "".join(
        f"<p>Paragraph {n}: the court heard 12 witnesses and the defence asked for more "
        f"time; the judge, Aliyev, refused.</p>"
        for n in range(12)
    )
    + "</article></body></html>"
).encode()

CODINGS = {
    "br": brotli.compress,
    "gzip": lambda data: gzip.compress(data, mtime=0),
    "deflate": zlib.compress,
}


@pytest.mark.parametrize("coding", sorted(CODINGS))
def test_baseline_of_an_encoded_page_is_read_and_the_page_stays_live(
    coding: str,
    simweb: SimulatedWeb,  # noqa: F811
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    url = f"https://{coding}.example/a/1.html"
    simweb.page(url, CODINGS[coding](ARTICLE), headers={"Content-Encoding": coding})
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        check__confirm_after="0",
    )
    http_only = settings.capture.model_copy(update={"modes": {"default": ("http",)}})
    settings = settings.model_copy(update={"capture": http_only})
    report = tmp_path / "r.txt"
    report.write_text(f"A trial[1].\n\n[1]{url}\n", encoding="utf-8")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        (captured,) = archive.capture()
        assert captured.preserved
        clock.advance(minutes=5)
        (run,) = archive.check(everything=True)
        (source,) = archive.status()["sources"]
    assert not run.degraded
    assert source["state"] == "live", source
