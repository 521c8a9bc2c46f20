"""Finding (issue 18): inside a TLS tunnel the simulated web took an origin-form path
holding a URL (``/web/20221005140211id_/https://...``, as every web archive has) for an
absolute URL, and answered 400."""

from __future__ import annotations

import httpx

from tests.simweb import SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401


def test_a_path_holding_a_url_is_a_path(simweb: SimulatedWeb) -> None:  # noqa: F811
    url = "https://web.archive.org/web/20221005140211id_/https://rus.azattyq.org/a/1.html"
    simweb.page(url, "the copy")
    with httpx.Client(proxy=simweb.proxy_url, verify=simweb.ssl_context_for_clients()) as client:
        response = client.get(url)
    assert response.status_code == 200
    assert response.text == "the copy"
