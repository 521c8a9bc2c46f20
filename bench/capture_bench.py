"""Benchmark: capture throughput side by side with ``wget --warc-file``, in one run.

The same locally served corpus (real news pages from ../shared/corpus, 500 or more URLs over
10 hosts) is fetched through the simulated web (tests/simweb, a local forward proxy) by
both tools, with no added latency and with 100 ms per response, for the page counts
asked (``--cases``):

- wget: ``wget --warc-file -i urls.txt`` through the proxy (one page after another, as
  wget works), gzip WARC;
- archiver: ``archiver capture`` with the plain HTTP method, everything it normally
  does included: one WARC per snapshot with sha256 digests, provenance record, atomic
  file, database rows, per-host politeness (here 8 connections per host, no interval).

The archiver forks worker processes for plain-HTTP captures of a large run (capture.workers,
one per core); ``--single-process`` adds a run with everything in one process. Then the
browser case (bench/browser_case.py): 20 corpus news pages under their original URLs,
``archiver capture`` at its default settings (browser only) beside plain Playwright on the
same Chromium, two pages at a time. Each tool runs in its own subprocess tree; its wall
time, CPU time and memory are measured. ``--cases ''`` runs the browser case alone.

``--default-politeness`` runs ``archiver capture`` at its default concurrency and per-host
politeness instead (2 requests per host at once, 0.5 s apart), as an operator runs it;
``--scheme https`` serves the same pages over https (CONNECT through the proxy, TLS with the
simulated web's CA, which both tools trust).

    .venv/bin/python -m bench.capture_bench [--cases 500@0,2000@0,500@100] [--hosts 10]
        [--browser-pages 20] [--repeat 3] [--single-process] [--default-politeness]
        [--scheme http|https]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
WGET = "wget --warc-file"  # its name in the tables


def _bodies() -> list[bytes]:
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    return [(CORPUS / e["path"]).read_bytes() for e in manifest if e["platform"] == "news"]


# Run in a wrapper process: wall time, CPU of the whole process tree, and memory sampled
# every 50 ms as the sum of the tree's PSS (proportional set size: a page shared by a
# parent and its forked workers counts once in all), plus the largest single RSS.
_WRAPPER = """
import json, os, resource, subprocess, sys, threading, time

def tree(root):
    # /proc/PID/task/TID/children: cheap enough to walk every few tens of milliseconds.
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        try:
            for tid in os.listdir(f'/proc/{pid}/task'):
                with open(f'/proc/{pid}/task/{tid}/children') as f:
                    todo += [int(child) for child in f.read().split()]
        except OSError:
            pass
    return out

def pss(pid):
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            for line in f:
                if line.startswith('Pss:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

peak = 0
t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
done = threading.Event()

def sample():
    global peak
    while not done.wait(0.05):
        peak = max(peak, sum(pss(pid) for pid in tree(p.pid)))

sampler = threading.Thread(target=sample)
sampler.start()
out = p.communicate()[0].decode(errors='replace')
wall = time.perf_counter() - t
done.set()
sampler.join()
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({'wall': wall, 'cpu': r.ru_utime + r.ru_stime, 'rss': r.ru_maxrss / 1024,
                  'pss': peak / 1024, 'rc': p.returncode, 'out': out[-2000:]}))
"""


@dataclass(frozen=True)
class Measured:
    wall: float  # seconds
    cpu: float  # user + system seconds of the whole process tree
    rss: float  # MiB, the largest single process
    pss: float  # MiB, the process tree's peak total (sampled)


def _measure(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[Measured, str]:
    """Run ``cmd`` in a wrapper process; what it cost, and its output if it failed."""
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd], env=env, cwd=cwd, capture_output=True, text=True
    )
    r = json.loads(out.stdout)
    return Measured(r["wall"], r["cpu"], r["rss"], r["pss"]), r["out"] if r["rc"] else ""


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


def _row(latency_ms: int, tool: str, pages: int, runs: list[Measured], base: float) -> str:
    wall = statistics.median(m.wall for m in runs)
    cpu = statistics.median(m.cpu for m in runs)
    rss = max(m.rss for m in runs)
    pss = max(m.pss for m in runs)
    return (
        f"| {pages} | {latency_ms} ms | {tool} | {wall:.2f} | {pages / wall:.1f} | {cpu:.2f} | "
        f"{pss:.0f} MiB | {rss:.0f} MiB | {base / wall:.1f}x |"
    )


def _marginal(walls: dict[tuple[int, str], dict[int, float]]) -> list[str]:
    """Pages per second between two page counts at one latency: (n2 - n1) / (t2 - t1).

    Start-up (Python's imports, the database, forking workers) and the end of a run
    cancel out, leaving each tool's rate once it is running; wget starts in
    milliseconds, the archiver in about half a second, which weighs on small runs."""
    rows = []
    for latency in sorted({latency for latency, _ in walls}):
        base = walls.get((latency, WGET), {})
        counts = sorted(base)
        for small, large in itertools.pairwise(counts):
            wget_rate = (large - small) / (base[large] - base[small])
            for (at, tool), by_pages in walls.items():
                if at != latency or small not in by_pages or large not in by_pages:
                    continue
                rate = (large - small) / (by_pages[large] - by_pages[small])
                rows.append(
                    f"| {small} to {large} | {latency} ms | {tool} | {rate:.1f} | "
                    f"{rate / wget_rate:.1f}x |"
                )
    return rows


def _cases(text: str) -> list[tuple[int, int]]:
    """``500@0,2000@0,500@100`` -> [(pages, latency ms), ...]."""
    cases = []
    for item in filter(None, text.split(",")):
        pages, _, latency = item.partition("@")
        cases.append((int(pages), int(latency or 0)))
    return cases


def main() -> None:
    sys.path.insert(0, str(REPO))
    from tests.simweb import SimulatedWeb

    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--cases",
        default="500@0,2000@0,500@100",
        help="PAGES@LATENCY_MS, comma-separated, or '' for none (default: %(default)s)",
    )
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--browser-pages", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; the median is shown")
    parser.add_argument(
        "--single-process",
        action="store_true",
        help="also run archiver capture with capture.workers = 1 (everything in one process)",
    )
    parser.add_argument(
        "--default-politeness",
        action="store_true",
        help="archiver capture at its default capture.concurrency and per-host politeness",
    )
    parser.add_argument("--scheme", choices=("http", "https"), default="http")
    args = parser.parse_args()
    cases = _cases(args.cases)
    archiver = [sys.executable, "-m", "archiver"]
    wget = shutil.which("wget")
    if wget is None:
        raise SystemExit("wget is not installed (apt-get install wget)")
    # Bytecode as an installed archiver has it (pip compiles at install, as in the
    # container): this checkout is installed editable, and with PYTHONDONTWRITEBYTECODE
    # set (as on the CI machines) every start would compile its 143 modules from source.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "archiver")],
                   check=True, capture_output=True)  # fmt: skip
    bodies = _bodies()
    most = max((pages for pages, _ in cases), default=0)
    urls = [f"{args.scheme}://news{n % args.hosts}.bench.kz/a/{n}.html" for n in range(most)]
    version = subprocess.run([wget, "--version"], capture_output=True, text=True).stdout
    print(f"# capture benchmark: corpus news pages over {args.hosts} hosts")
    print(f"# {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()},")
    print(f"# {version.splitlines()[0]}")
    print(
        f"# {args.scheme}:// pages; archiver politeness: "
        + ("its defaults" if args.default_politeness else "8 per host at once, no interval")
    )
    print(f"# median of {args.repeat} runs per tool, tools alternating; CPU = user + system")
    print("# seconds of the whole process tree; PSS = peak of the tree's summed proportional")
    print("# set size (shared pages counted once); RSS = the largest single process\n")
    print("| pages | latency | tool | seconds | pages/s | CPU s | peak PSS | peak RSS | speed-up |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    walls: dict[tuple[int, str], dict[int, float]] = {}
    tools = [("archiver capture (http)", "0")]
    if args.single_process:
        tools.append(("archiver capture (http, 1 process)", "1"))
    with SimulatedWeb() as web, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for n, url in enumerate(urls):
            web.page(url, bodies[n % len(bodies)])
        for case, (pages, latency_ms) in enumerate(cases):
            web.latency = latency_ms / 1000
            run = tmp / f"case-{case}"
            run.mkdir()
            (run / "urls.txt").write_text("\n".join(urls[:pages]) + "\n")
            _report(urls[:pages], run / "report.txt")
            env = dict(os.environ, http_proxy=web.proxy_url, https_proxy=web.proxy_url)
            trust = [f"--ca-certificate={web.ca_pem_path}"] if args.scheme == "https" else []
            measured: dict[str, list[Measured]] = {WGET: []}
            for attempt in range(args.repeat):
                # Alternate the tools so a noisy neighbour hurts each alike.
                target = run / f"wget-{attempt}"
                target.mkdir()
                cmd = [wget, "-q", "--tries=1", "--timeout=30", "--warc-file", str(target / "wget"),
                       *trust, "-i", str(run / "urls.txt"), "-O", str(target / "wget.out")]  # fmt: skip
                # The simulated web logs every request (for tests); an empty log for
                # each run keeps its memory, and its garbage collections, the same.
                web.clear_log()
                result, err = _measure(cmd, env, target)
                if err:
                    print(f"<!-- wget: {err.strip()[-300:]} -->")
                measured[WGET].append(result)
                for tool, workers in tools:
                    storage = run / f"storage-{workers}-{attempt}"
                    ours_env = _archiver_env(storage, web.proxy_url, '{default = ["http"]}')
                    ours_env["ARCHIVER_CAPTURE__WORKERS"] = workers
                    ours_env["ARCHIVER_CAPTURE__EXTRA_CA_FILE"] = str(web.ca_pem_path)
                    if args.default_politeness:
                        for key in ("CONCURRENCY", "PER_HOST_CONCURRENCY", "PER_HOST_INTERVAL"):
                            ours_env.pop(f"ARCHIVER_CAPTURE__{key}")
                    subprocess.run([*archiver, "add", str(run / "report.txt")], env=ours_env,
                                   check=True, capture_output=True)  # fmt: skip
                    web.clear_log()
                    result, err = _measure([*archiver, "capture"], ours_env, run)
                    if err:
                        print(f"<!-- {tool}: {err.strip()[-300:]} -->")
                    warcs = len(list((storage / "warcs").rglob("*.warc.gz")))
                    if warcs != pages:
                        raise SystemExit(f"{tool} wrote {warcs} WARC files for {pages} pages")
                    measured.setdefault(tool, []).append(result)
            base = statistics.median(m.wall for m in measured[WGET])
            for tool, runs in measured.items():  # wget first
                walls.setdefault((latency_ms, tool), {})[pages] = statistics.median(
                    m.wall for m in runs
                )
                print(_row(latency_ms, tool, pages, runs, base))
            sys.stdout.flush()
        marginal = _marginal(walls)
        if marginal:
            print("\nRate once running, between two page counts (median seconds):\n")
            print("| pages | latency | tool | pages/s | speed-up |")
            print("|---:|---:|---|---:|---:|")
            print("\n".join(marginal))
            sys.stdout.flush()
        if not args.browser_pages:
            return
        # Browser captures: at the default settings, beside plain Playwright.
        from bench import browser_case

        browser_case.run(web, tmp, args.browser_pages, args.repeat)


if __name__ == "__main__":
    main()
