"""Benchmark: capture throughput side by side with ``wget --warc-file``, in one run.

The same locally served corpus (real news pages from ../shared/corpus, 500 URLs over
10 hosts) is fetched through the simulated web (tests/simweb, a local forward proxy) by
both tools, once with no added latency and once with 100 ms per response:

- wget: ``wget --warc-file -i urls.txt`` through the proxy (one page after another, as
  wget works), gzip WARC;
- archiver: ``archiver capture`` with the plain HTTP method, everything it normally
  does included: one WARC per snapshot with sha256 digests, provenance record, atomic
  file, database rows, per-host politeness (here 8 connections per host, no interval).

Then browser captures per minute (Chromium, 2 slots) on 20 of the same pages.
Each tool runs in its own subprocess; peak RSS is that subprocess tree's maximum.

    .venv/bin/python -m bench.capture_bench [--pages 500] [--hosts 10] [--browser-pages 20]
        [--repeat 3] [--latencies 0,100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


def _bodies() -> list[bytes]:
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    return [(CORPUS / e["path"]).read_bytes() for e in manifest if e["platform"] == "news"]


def _measure(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Run ``cmd`` in a wrapper process; wall seconds and its children's peak RSS (MiB)."""
    wrapper = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps({'wall': wall, 'rss': rss, 'rc': p.returncode,"
        " 'out': (p.stdout + p.stderr)[-2000:]}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd], env=env, cwd=cwd, capture_output=True, text=True
    )
    result = json.loads(out.stdout)
    return result["wall"], result["rss"], result["out"] if result["rc"] else ""


def _archiver_env(storage: Path, proxy: str, modes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    env.update(
        {
            "ARCHIVER_STORAGE__ROOT": str(storage),
            "ARCHIVER_NETWORK__PROXY": proxy,
            "ARCHIVER_CAPTURE__MODES": modes,
            "ARCHIVER_CAPTURE__CONCURRENCY": "64",
            "ARCHIVER_CAPTURE__PER_HOST_CONCURRENCY": "8",
            "ARCHIVER_CAPTURE__PER_HOST_INTERVAL": "0",
            "PYTHONPATH": str(REPO),
        }
    )
    return env


def _report(urls: list[str], path: Path) -> None:
    lines = [f"Claim number {i}[{i}]." for i in range(1, len(urls) + 1)]
    lines += [f"[{i}]{u}" for i, u in enumerate(urls, 1)]
    path.write_text("\n\n".join(lines), encoding="utf-8")


def main() -> None:
    sys.path.insert(0, str(REPO))
    from tests.simweb import SimulatedWeb

    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--browser-pages", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; the median is shown")
    parser.add_argument(
        "--latencies", default="0,100", help="server latencies in ms, comma-separated"
    )
    args = parser.parse_args()
    archiver = [sys.executable, "-m", "archiver"]
    wget = shutil.which("wget")
    if wget is None:
        raise SystemExit("wget is not installed (apt-get install wget)")
    bodies = _bodies()
    urls = [f"http://news{n % args.hosts}.bench.kz/a/{n}.html" for n in range(args.pages)]
    print(f"# capture benchmark: {args.pages} pages over {args.hosts} hosts, corpus news pages")
    print(f"# {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()},")
    print(
        f"# {subprocess.run([wget, '--version'], capture_output=True, text=True).stdout.splitlines()[0]}\n"
    )
    print(f"# median of {args.repeat} runs per tool, tools alternating\n")
    print("| latency | tool | seconds | pages/s | peak RSS | speed-up |")
    print("|---:|---|---:|---:|---:|---:|")
    with SimulatedWeb() as web, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for n, url in enumerate(urls):
            web.page(url, bodies[n % len(bodies)])
        (tmp / "urls.txt").write_text("\n".join(urls) + "\n")
        for latency in (int(ms) / 1000 for ms in args.latencies.split(",")):
            web.latency = latency
            run = tmp / f"run-{latency}"
            run.mkdir()
            env = dict(os.environ, http_proxy=web.proxy_url, https_proxy=web.proxy_url)
            wget_runs, ours_runs = [], []
            for attempt in range(args.repeat):
                # Alternate the tools so a noisy neighbour hurts both alike.
                target = run / f"wget-{attempt}"
                target.mkdir()
                cmd = [wget, "-q", "--tries=1", "--timeout=30", "--warc-file", str(target / "wget"),
                       "-i", str(tmp / "urls.txt"), "-O", str(target / "wget.out")]  # fmt: skip
                seconds, rss, err = _measure(cmd, env, target)
                if err:
                    print(f"<!-- wget: {err.strip()[-300:]} -->")
                wget_runs.append((seconds, rss))
                storage = run / f"storage-{attempt}"
                _report(urls, run / "report.txt")
                ours_env = _archiver_env(storage, web.proxy_url, '{default = ["http"]}')
                subprocess.run([*archiver, "add", str(run / "report.txt")], env=ours_env,
                               check=True, capture_output=True)  # fmt: skip
                seconds, rss, err = _measure([*archiver, "capture"], ours_env, run)
                if err:
                    print(f"<!-- archiver: {err.strip()[-300:]} -->")
                warcs = len(list((storage / "warcs").rglob("*.warc.gz")))
                if warcs != args.pages:
                    raise SystemExit(f"archiver wrote {warcs} WARC files for {args.pages} pages")
                ours_runs.append((seconds, rss))
            wget_s = statistics.median(s for s, _ in wget_runs)
            wget_rss = max(r for _, r in wget_runs)
            ours_s = statistics.median(s for s, _ in ours_runs)
            ours_rss = max(r for _, r in ours_runs)
            ms = int(latency * 1000)
            print(
                f"| {ms} ms | wget --warc-file | {wget_s:.2f} | {args.pages / wget_s:.1f} | {wget_rss:.0f} MiB | 1x |"
            )
            print(f"| {ms} ms | archiver capture (http) | {ours_s:.2f} | {args.pages / ours_s:.1f} | "
                  f"{ours_rss:.0f} MiB | {wget_s / ours_s:.1f}x |")  # fmt: skip
        if not args.browser_pages:
            return
        # Browser captures per minute.
        web.latency = 0.0
        run = tmp / "browser"
        run.mkdir()
        subset = urls[: args.browser_pages]
        _report(subset, run / "report.txt")
        env = _archiver_env(run / "storage", web.proxy_url, '{default = ["browser"]}')
        env["ARCHIVER_CAPTURE__BROWSER_CONCURRENCY"] = "2"
        subprocess.run([*archiver, "add", str(run / "report.txt")], env=env, check=True,
                       capture_output=True)  # fmt: skip
        seconds, rss, err = _measure([*archiver, "capture"], env, run)
        if err:
            print(f"<!-- browser: {err.strip()[-300:]} -->")
        print(
            f"\nBrowser captures (screenshot, DOM, PDF, every request recorded), 2 Chromium "
            f"slots: {len(subset)} pages in {seconds:.1f} s = "
            f"{len(subset) / seconds * 60:.0f} per minute, peak RSS {rss:.0f} MiB "
            "(largest single process)."
        )


if __name__ == "__main__":
    main()
