"""Benchmark: memory of a browser capture of hostile bodies, beside a plain Chromium.

Pages served by the simulated web (a local proxy): a main document that is a gzip bomb
(1 GiB of zeros in about 1 MB), a normal page whose script is a gzip bomb, a page with an
endless body, and an ordinary corpus article for comparison. Each is captured by
``archiver capture`` with the browser method only (one page per run, so the peak is that
page's), and loaded by a plain headless Chromium through the same proxy
(``chromium --headless --dump-dom``), the peer. Peak PSS of each process tree (the
archiver's includes Playwright's driver and Chromium), sampled every 50 ms.

    .venv/bin/python -m bench.browser_bomb_bench [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.capture_bench import REPO, Measured, _archiver_env, _bodies, _measure, _report

CHROMIUM = "/usr/bin/chromium"


def main() -> None:
    sys.path.insert(0, str(REPO))
    from tests.simweb import SimulatedWeb, endless_body, gzip_bomb
    from tests.simweb.behaviours import GzipBomb

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    article = _bodies()[0]
    cases = {
        "gzip bomb (main document)": "http://bomb.bench.kz/page.html",
        "gzip bomb (script)": "http://script.bench.kz/page.html",
        "endless body": "http://endless.bench.kz/page.html",
        "ordinary article": "http://news.bench.kz/a/1.html",
    }
    print("# browser capture of hostile bodies: peak PSS of the process tree (MiB) and seconds")
    print(f"# {os.cpu_count()} cores; median of {args.repeat}; archiver: capture.modes = browser\n")
    print("| page | archiver PSS | archiver s | Chromium PSS | Chromium s |")
    print("|---|---:|---:|---:|---:|")
    with SimulatedWeb() as web, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        web.page(cases["gzip bomb (main document)"], gzip_bomb())
        web.page(
            cases["gzip bomb (script)"],
            "<title>s</title><p>text</p><script src='/big.js'></script>",
        )
        web.page("http://script.bench.kz/big.js", GzipBomb(content_type="text/javascript"))
        web.page(cases["endless body"], endless_body())
        web.page(cases["ordinary article"], article)
        for n, (name, url) in enumerate(cases.items()):
            ours: list[Measured] = []
            peer: list[Measured] = []
            for attempt in range(args.repeat):
                run = tmp / f"{n}-{attempt}"
                run.mkdir()
                _report([url], run / "report.txt")
                env = _archiver_env(run / "storage", web.proxy_url, '{default = ["browser"]}')
                env["ARCHIVER_CAPTURE__PAGE_BUDGET"] = "30"
                archiver = [sys.executable, "-m", "archiver"]
                subprocess.run([*archiver, "add", str(run / "report.txt")], env=env,
                               check=True, capture_output=True)  # fmt: skip
                web.clear_log()
                result, err = _measure([*archiver, "capture"], env, run)
                if err:
                    print(f"<!-- archiver: {err.strip()[-300:]} -->")
                ours.append(result)
                cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                       f"--proxy-server={web.proxy_url}", "--timeout=30000",
                       f"--user-data-dir={run / 'profile'}", "--dump-dom", url]  # fmt: skip
                result, _ = _measure(["timeout", "60", *cmd], dict(os.environ), run)
                peer.append(result)

            def med(runs: list[Measured], field: str) -> float:
                return statistics.median(getattr(m, field) for m in runs)

            print(
                f"| {name} | {med(ours, 'pss'):.0f} | {med(ours, 'wall'):.1f} "
                f"| {med(peer, 'pss'):.0f} | {med(peer, 'wall'):.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
