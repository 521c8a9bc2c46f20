"""Benchmark: re-checking 10,000 sources side by side with LinkChecker, in one run.

One simulated web (tests/simweb, a local forward proxy, no internet) serves 10,000 cited
URLs over 25 unrelated hosts with 50 ms time to first byte; 2% of them have been deleted
(404). Both tools check the same URLs through it, each in its own subprocess:

- LinkChecker (``linkchecker --stdin -r0``, installed into a separate venv: it is not a
  dependency of the archiver), 64 threads, no robots.txt, per-host rate limit lifted
  (``maxrequestspersecond=1000``);
- ``archiver check --all``: everything a check does included: probe through the capture
  Fetcher (network policy, per-host politeness: 8 connections per host, no interval),
  not-found fingerprint per host, classification, outage guard (its control probe, the
  simulated web's connectivity check, fetched at the start and the end of every batch),
  state machine, observation + check result + custody event per source, run records.
  The sources were
  harvested from a report beforehand (not timed) and marked captured; they have no
  snapshots, so no main-text comparison runs (``--with-baselines`` adds a second round
  where every source has a baseline and every page's ads and dates rotate, so every
  check extracts and compares main text).

Checks per second from wall time; peak RSS of each subprocess tree.

    .venv/bin/python -m bench.recheck_bench [--sources 10000] [--hosts 25]
        [--linkchecker /tmp/lc-venv/bin/linkchecker] [--with-baselines 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.check import pages  # noqa: E402
from tests.simweb import CANARY_URL, SimulatedWeb  # noqa: E402

_WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "with open(sys.argv[1], 'rb') as stdin, open(sys.argv[2], 'wb') as out:\n"
    "    p = subprocess.run(sys.argv[3:], stdin=stdin, stdout=out, stderr=subprocess.STDOUT)\n"
    "wall = time.perf_counter() - t\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "print(json.dumps({'wall': wall, 'rss': rss, 'rc': p.returncode}))\n"
)


def measure(cmd: list[str], env: dict[str, str], cwd: Path, stdin: str = "") -> dict[str, object]:
    """Run ``cmd`` under a wrapper; wall seconds, peak RSS (MiB) and its output."""
    inp, out = cwd / "stdin.txt", cwd / f"out-{Path(cmd[0]).name}.txt"
    inp.write_text(stdin)
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(inp), str(out), *cmd],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    result["output"] = out.read_text(errors="replace")
    return result


def serve(web: SimulatedWeb, sources: int, hosts: int, *, rotating: bool) -> list[str]:
    urls = []
    for i in range(sources):
        h = i % hosts
        url = f"http://www.outlet{h}-bench.kz/news/{i}.html"
        if i % 50 == 7:
            web.host(f"www.outlet{h}-bench.kz")  # deleted: the host answers 404
        else:
            web.page(url, pages.rotating() if rotating else pages.article(noise=i % 7))
        urls.append(url)
    return urls


def archiver_env(storage: Path, proxy: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    env.update(
        {
            "ARCHIVER_STORAGE__ROOT": str(storage),
            "ARCHIVER_NETWORK__PROXY": proxy,
            "ARCHIVER_CAPTURE__MODES": '{default = ["http"]}',
            "ARCHIVER_CAPTURE__CONCURRENCY": "64",
            "ARCHIVER_CAPTURE__PER_HOST_CONCURRENCY": "8",
            "ARCHIVER_CAPTURE__PER_HOST_INTERVAL": "0",
            "ARCHIVER_CHECK__CONCURRENCY": "200",
            "ARCHIVER_CHECK__BATCH_SIZE": "2500",
            # The outage guard's control probe, on the simulated web (no internet here).
            "ARCHIVER_CHECK__CANARY_URLS": f'["{CANARY_URL}"]',
            "PYTHONPATH": str(REPO),
        }
    )
    return env


def prepare_archiver(tmp: Path, urls: list[str], env: dict[str, str], capture: bool) -> None:
    report = tmp / "report.txt"
    lines = [f"Claim number {i}[{i}]." for i in range(1, len(urls) + 1)]
    lines += [f"[{i}]{u}" for i, u in enumerate(urls, 1)]
    report.write_text("\n\n".join(lines), encoding="utf-8")
    archiver = [sys.executable, "-m", "archiver"]
    subprocess.run(
        [*archiver, "add", str(report)], env=env, cwd=tmp, check=True, capture_output=True
    )
    if capture:
        subprocess.run([*archiver, "capture"], env=env, cwd=tmp, check=True, capture_output=True)
    db = sqlite3.connect(Path(env["ARCHIVER_STORAGE__ROOT"]) / "archiver.db")
    earlier = (datetime.now(UTC) - timedelta(days=1)).replace(tzinfo=None).isoformat(" ")
    with db:
        db.execute(
            "UPDATE sources SET state = 'live', last_checked_at = ?, next_check_at = ?",
            (earlier, earlier),
        )
    db.close()


def linkchecker_config(tmp: Path) -> Path:
    rc = tmp / "linkcheckerrc"
    rc.write_text(
        "[checking]\nthreads=64\nmaxrequestspersecond=1000\nrobotstxt=0\n[output]\nstatus=0\n"
    )
    tmp.chmod(0o777)  # LinkChecker drops root privileges to nobody
    rc.chmod(0o644)
    return rc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=25)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--linkchecker", default="/tmp/lc-venv/bin/linkchecker")
    parser.add_argument("--with-baselines", type=int, default=0, metavar="N")
    args = parser.parse_args()
    version = subprocess.run(
        [args.linkchecker, "--version"], capture_output=True, text=True
    ).stdout.splitlines()[0]
    print(f"# re-check benchmark, {datetime.now(UTC):%Y-%m-%d}, {platform.node()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, {version}")  # fmt: skip
    print(f"# {args.sources} sources, {args.hosts} hosts, {args.latency * 1000:.0f} ms latency")
    print("| tool | wall s | checks/s | peak RSS | result |")
    print("|---|---|---|---|---|")
    with (
        tempfile.TemporaryDirectory(prefix="recheck-bench-") as name,
        SimulatedWeb(latency=args.latency) as web,
    ):
        tmp = Path(name)
        urls = serve(web, args.sources, args.hosts, rotating=False)
        env = archiver_env(tmp / "storage", web.proxy_url)
        prepare_archiver(tmp, urls, env, capture=False)

        lc_env = {**os.environ, "http_proxy": web.proxy_url, "HTTP_PROXY": web.proxy_url}
        rc = linkchecker_config(tmp)
        lc = measure(
            [args.linkchecker, "-f", str(rc), "--stdin", "-r0", "-o", "csv"],
            lc_env,
            tmp,
            stdin="\n".join(urls) + "\n",
        )
        lc_errors = sum(1 for line in str(lc["output"]).splitlines() if ";404 Not Found;" in line)
        ours = measure([sys.executable, "-m", "archiver", "check", "--all"], env, tmp)
        summary = str(ours["output"]).strip().splitlines()[0]
        summary += f"; {str(ours['output']).count('DEGRADED run')} degraded runs"
        for label, run, result in (
            ("LinkChecker -r0, 64 threads", lc, f"{lc_errors} x 404 reported"),
            ("archiver check --all", ours, summary),
        ):
            wall = float(str(run["wall"]))
            print(f"| {label} | {wall:.1f} | {args.sources / wall:.0f} | "
                  f"{float(str(run['rss'])):.0f} MiB | {result} |")  # fmt: skip
        ratio = float(str(lc["wall"])) / float(str(ours["wall"]))
        print(f"\narchiver/LinkChecker rate: {ratio:.1f}x")

    if args.with_baselines:
        n = args.with_baselines
        with (
            tempfile.TemporaryDirectory(prefix="recheck-bench-b-") as name,
            SimulatedWeb(latency=args.latency) as web,
        ):
            tmp = Path(name)
            urls = serve(web, n, args.hosts, rotating=True)
            env = archiver_env(tmp / "storage", web.proxy_url)
            prepare_archiver(tmp, urls, env, capture=True)
            ours = measure([sys.executable, "-m", "archiver", "check", "--all"], env, tmp)
            wall = float(str(ours["wall"]))
            summary = str(ours["output"]).strip().splitlines()[0]
            print(f"\n| archiver check --all, {n} sources with baselines, rotating ads/dates "
                  f"| {wall:.1f} | {n / wall:.0f} | {float(str(ours['rss'])):.0f} MiB | {summary} |")  # fmt: skip


if __name__ == "__main__":
    main()
