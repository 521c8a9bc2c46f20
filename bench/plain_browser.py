"""The peer of the capture benchmark's browser case: plain Playwright on the same Chromium.

Each URL is loaded in a fresh browser context (``load``, then network idle for at most
5 s) and a full-page screenshot taken; ``--concurrency`` pages at a time, each in a
Chromium process of its own, as the archiver runs its browser slots. Nothing is recorded
beyond the screenshot: this is what a reader's browser does, the floor the archiver's
browser capture (every request recorded, DOM, PDF, WARC file) is measured against.

    python -m bench.plain_browser --proxy URL [--spki HASH] [--concurrency 2] URL...

Prints one JSON object: pages loaded with a screenshot, failures (URL: reason).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time

from playwright.async_api import Browser, async_playwright
from playwright.async_api import Error as PlaywrightError

CHROMIUM = "/usr/bin/chromium"
ARGS = (
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
)
NETWORK_IDLE_MS = 5_000
PAGE_TIMEOUT_MS = 60_000


async def _capture(browser: Browser, url: str) -> int:
    """Load ``url`` and take a full-page screenshot; the screenshot's size."""
    context = await browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        # A page that never goes idle is screenshotted as it is.
        with contextlib.suppress(PlaywrightError):
            await page.wait_for_load_state("networkidle", timeout=NETWORK_IDLE_MS)
        return len(await page.screenshot(full_page=True, timeout=PAGE_TIMEOUT_MS))
    finally:
        await context.close()


async def _main(
    urls: list[str], proxy: str, spki: str | None, concurrency: int
) -> dict[str, object]:
    args = list(ARGS)
    if spki:
        args.append(f"--ignore-certificate-errors-spki-list={spki}")
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    done: list[str] = []
    failed: dict[str, str] = {}
    async with async_playwright() as driver:

        async def slot() -> None:
            browser = await driver.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=args, proxy={"server": proxy}
            )
            try:
                while not queue.empty():
                    url = queue.get_nowait()
                    try:
                        if await _capture(browser, url) > 0:
                            done.append(url)
                        else:
                            failed[url] = "empty screenshot"
                    except PlaywrightError as exc:
                        failed[url] = str(exc).splitlines()[0][:100]
            finally:
                await browser.close()

        started = time.monotonic()
        await asyncio.gather(*(slot() for _ in range(concurrency)))
    return {"pages": len(done), "failed": failed, "seconds": time.monotonic() - started}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proxy", required=True)
    parser.add_argument("--spki", help="trust certificates of this CA (Chromium's SPKI hash)")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(_main(args.urls, args.proxy, args.spki, args.concurrency))))


if __name__ == "__main__":
    main()
