"""Benchmark: how long the pages and the API take over an archive of one report with
10,000 citations (and as many sources), in-process through httpx.ASGITransport, so the
numbers are the application's own (no network, no browser).

    .venv/bin/python -m bench.web_bench [--citations 10000] [--repeat 5]

Prints a Markdown table; docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time

import httpx

PATHS = (
    "/",
    "/reports/1",
    "/reports/1?platform=youtube",
    "/sources",
    "/sources/1",
    "/api/v1/reports/1",
    "/api/v1/sources/1",
    "/api/v1/sources?platform=youtube",
    "/api/v1/status",
    "/api/v1/status.csv",
)


async def _measure(citations: int, repeat: int) -> list[tuple[str, float, int]]:
    from archiver.app import Archive
    from archiver.config import load_settings
    from archiver.web import create_app
    from archiver.web.tokens import Role, create_token
    from bench import reports

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ={"ARCHIVER_STORAGE__ROOT": tmp})
        with Archive.open(settings) as archive:
            archive.add_bytes(reports.as_text(citations), origin="bench", filename="r.txt")
            _, token = create_token(archive.db, name="bench", role=Role.VIEWER, clock=archive.clock)
            transport = httpx.ASGITransport(app=create_app(archive))
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://bench",
                headers={"Authorization": f"Bearer {token}"},
                timeout=600,
            ) as client:
                for path in PATHS:
                    times = []
                    size = 0
                    for _ in range(repeat):
                        start = time.perf_counter()
                        response = await client.get(path)
                        times.append(time.perf_counter() - start)
                        assert response.status_code == 200, (path, response.status_code)
                        size = len(response.content)
                    rows.append((path, statistics.median(times), size))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--citations", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = asyncio.run(_measure(args.citations, args.repeat))
    print(
        f"Python {platform.python_version()}, {args.citations} citations, median of {args.repeat}\n"
    )
    print("| request | median seconds | response |")
    print("|---|---:|---:|")
    for path, seconds, size in rows:
        print(f"| `GET {path}` | {seconds:.3f} | {size / 1024:,.0f} KiB |")


if __name__ == "__main__":
    main()
