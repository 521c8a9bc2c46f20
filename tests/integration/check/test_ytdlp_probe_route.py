"""The re-check's YouTube probe sends yt-dlp's requests through the check's fetcher: a
watch page that redirects into the local network is refused there (yt-dlp's own
handler followed it through the proxy). Real yt-dlp against the simulated web."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from archiver.capture.http import Fetcher
from archiver.check.platform_probes import YtDlpProbe
from archiver.check.probe import HttpProbe
from archiver.config import Settings
from archiver.platforms.markers import load_markers
from tests.simweb import SimulatedWeb, status
from tests.simweb.fixtures import simweb  # noqa: F401

WATCH = "https://www.youtube.com/watch?v=2lAe1cqCOXo"
PRIVATE = "http://10.0.0.7/watch?v=2lAe1cqCOXo"


def test_probe_redirected_into_the_local_network_never_reaches_it(
    simweb: SimulatedWeb,  # noqa: F811
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    for target in (WATCH, f"{WATCH}&bpctr=9999999999&has_verified=1"):
        simweb.page(target, status(302, headers={"Location": PRIVATE}))
    simweb.page(PRIVATE, "<html><title>router admin</title></html>")
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        check__probe_budget="20",
    )
    (settings.storage.root / "tmp").mkdir(parents=True, exist_ok=True)

    async def probe() -> None:
        async with Fetcher(settings.network, settings.capture) as fetcher:
            http = HttpProbe(fetcher, budget=settings.check.probe_budget)
            await YtDlpProbe(settings, fetcher, http, load_markers()).probe(WATCH)

    asyncio.run(probe())
    assert simweb.hits(WATCH) >= 1  # yt-dlp (or the HTTP probe after it) asked
    assert simweb.hits(PRIVATE) == 0
    assert all("10.0.0.7" not in url for _, url, _ in simweb.requests)
