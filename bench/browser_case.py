"""The capture benchmark's browser case: ``archiver capture`` at its default settings,
side by side with plain Playwright on the same Chromium, in one run.

Both get the same real news pages of ../shared/corpus under their original URLs, through
the same simulated web, two pages at a time (the archiver's default
``capture.browser_concurrency``; the peer runs two Chromium processes likewise):

- peer (bench/plain_browser.py): load, network idle (at most 5 s), full-page screenshot;
- archiver: ``archiver capture`` with ``capture.modes`` article and default = ["browser"]
  and every other setting at its default (politeness included), except where the files
  go, the proxy, and the simulated web's CA trusted (``capture.extra_ca_file``; the peer
  trusts it through ``--ignore-certificate-errors-spki-list``).

Sources not preserved and snapshots lacking their screenshot or DOM are counted from
``archiver status --format json``; failures are listed with their kind and detail.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.capture_bench import _WRAPPER, REPO, Measured, _archiver_env, _measure, _report

if TYPE_CHECKING:
    from tests.simweb import SimulatedWeb

PLAIN = "plain Playwright (load, network idle <= 5 s, full-page screenshot)"
OURS = "archiver capture (browser, default settings)"
MODES = '{article = ["browser"], default = ["browser"]}'


def corpus_urls(web: SimulatedWeb, pages: int) -> list[str]:
    """Serve the corpus; the first ``pages`` news pages' URLs, in manifest order."""
    from tests.simweb.corpus import pick_per_url, read_manifest

    web.load_corpus()
    news = [e.url for e in pick_per_url(read_manifest()) if e.platform == "news" and e.url]
    return news[:pages]


def _default_env(storage: Path, web: SimulatedWeb) -> dict[str, str]:
    env = _archiver_env(storage, web.proxy_url, MODES)
    # _archiver_env lifts politeness for the plain-HTTP cases: back to the defaults.
    for key in ("CONCURRENCY", "PER_HOST_CONCURRENCY", "PER_HOST_INTERVAL"):
        env.pop(f"ARCHIVER_CAPTURE__{key}")
    env["ARCHIVER_CAPTURE__EXTRA_CA_FILE"] = str(web.ca_pem_path)
    return env


def _outcome(env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Not preserved, incomplete, and each failure (kind: detail) from the status JSON."""
    status = json.loads(
        subprocess.run(
            [sys.executable, "-m", "archiver", "status", "--format", "json"],
            env=env, cwd=cwd, check=True, capture_output=True, text=True,
        ).stdout
    )  # fmt: skip
    not_preserved, incomplete, failures = [], [], Counter[str]()
    for source in status["sources"]:
        if not source["preserved"]:
            not_preserved.append(source["url"])
        for snapshot in source["snapshots"]:
            if snapshot["incomplete"]:
                incomplete.append(source["url"])
            if snapshot["failure"]:
                detail = snapshot.get("failure_detail") or "(no detail)"
                failures[f"{snapshot['failure']}: {detail[:160]}"] += 1
    return {"not_preserved": not_preserved, "incomplete": incomplete, "failures": failures}


def run(web: SimulatedWeb, tmp: Path, pages: int, repeat: int) -> None:
    """Both tools ``repeat`` times, alternating; prints a table and the ratio."""
    web.latency = 0.0
    urls = corpus_urls(web, pages)
    run_dir = tmp / "browser"
    run_dir.mkdir()
    _report(urls, run_dir / "report.txt")
    plain_cmd = [sys.executable, "-m", "bench.plain_browser", "--proxy", web.proxy_url,
                 "--spki", web.ca_spki_sha256, "--concurrency", "2", *urls]  # fmt: skip
    plain_env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    measured: dict[str, list[Measured]] = {PLAIN: [], OURS: []}
    missing: dict[str, list[int]] = {PLAIN: [], OURS: []}
    notes: list[str] = []
    for attempt in range(repeat):
        web.clear_log()
        result, out = _measure_output(plain_cmd, plain_env, REPO)
        measured[PLAIN].append(result)
        missing[PLAIN].append(_plain_missing(out, pages, notes))
        env = _default_env(run_dir / f"storage-{attempt}", web)
        subprocess.run([sys.executable, "-m", "archiver", "add", str(run_dir / "report.txt")],
                       env=env, cwd=run_dir, check=True, capture_output=True)  # fmt: skip
        web.clear_log()
        result, err = _measure([sys.executable, "-m", "archiver", "capture"], env, run_dir)
        if err:
            notes.append(f"archiver: {err.strip()[-300:]}")
        measured[OURS].append(result)
        seen = _outcome(env, run_dir)
        missing[OURS].append(len(seen["not_preserved"]))
        for url in seen["not_preserved"]:
            notes.append(f"archiver run {attempt + 1}: not preserved: {url}")
        for url in seen["incomplete"]:
            notes.append(f"archiver run {attempt + 1}: incomplete: {url}")
        for failure, count in seen["failures"].items():
            notes.append(f"archiver run {attempt + 1}: failure x{count}: {failure}")
        print(f"<!-- run {attempt + 1}: plain {measured[PLAIN][-1].wall:.1f} s, "
              f"archiver {result.wall:.1f} s -->", flush=True)  # fmt: skip
    print(f"\nBrowser capture, {pages} corpus news pages, 2 at a time, median of {repeat} "
          "(tools alternating):\n")  # fmt: skip
    print(
        "| tool | seconds | pages/min | runs (pages/min) | not preserved | CPU s | peak PSS | "
        "peak RSS |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    rates = {}
    for tool, runs in measured.items():
        wall = statistics.median(m.wall for m in runs)
        rates[tool] = pages / wall * 60
        each = ", ".join(f"{pages / m.wall * 60:.1f}" for m in runs)
        print(f"| {tool} | {wall:.1f} | {rates[tool]:.1f} | {each} | "
              f"{max(missing[tool])} | {statistics.median(m.cpu for m in runs):.1f} | "
              f"{max(m.pss for m in runs):.0f} MiB | "
              f"{max(m.rss for m in runs):.0f} MiB |")  # fmt: skip
    print(f"\nArchiver / plain Playwright: **{rates[OURS] / rates[PLAIN]:.0%}** (target: 85%)")
    for note in notes:
        print(f"- {note}")


def _measure_output(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[Measured, str]:
    """As capture_bench._measure, with the command's output whatever its exit status."""
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd], env=env, cwd=cwd, capture_output=True, text=True
    )
    r = json.loads(out.stdout)
    return Measured(r["wall"], r["cpu"], r["rss"], r["pss"]), r["out"]


def _plain_missing(out: str, pages: int, notes: list[str]) -> int:
    """Pages the peer did not capture (all of them when its output is not its JSON)."""
    try:
        result = json.loads(out.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        notes.append(f"plain Playwright: {out.strip()[-300:]}")
        return pages
    for url, why in result["failed"].items():
        notes.append(f"plain Playwright: not captured: {url}: {why}")
    return pages - int(result["pages"])
