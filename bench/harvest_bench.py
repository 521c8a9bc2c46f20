"""Benchmark: harvesting a generated report with 10,000 citations.

Each case runs in a fresh subprocess so its peak memory (ru_maxrss) is its own:
  - harvest only (pure parsing), per format;
  - the full ``archiver add`` path (harvest + storing report, sources and citations in
    one transaction) on SQLite and on PostgreSQL.

    .venv/bin/python -m bench.harvest_bench [--citations 10000] [--repeat 3]

Prints a Markdown table; docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "ARCHIVER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _make(fmt: str, citations: int) -> bytes:
    from bench import reports

    return {"text": reports.as_text, "markdown": reports.as_markdown, "html": reports.as_html}[fmt](
        citations
    )


def _child(case: str, fmt: str, citations: int) -> dict[str, float]:
    """Runs inside the subprocess: one measured operation."""
    data = _make(fmt, citations)
    if case == "harvest":
        from archiver.harvest import harvest

        start = time.perf_counter()
        result = harvest(data, filename=f"report.{fmt}")
        elapsed = time.perf_counter() - start
        found = len(result.citations)
    else:
        from archiver.app import Archive
        from archiver.config import load_settings

        with tempfile.TemporaryDirectory() as tmp:
            env = {"ARCHIVER_STORAGE__ROOT": tmp}
            if case == "add-postgresql":
                env["ARCHIVER_STORAGE__DATABASE_URL"] = os.environ["BENCH_PG_URL"]
            with Archive.open(load_settings(environ=env)) as archive:
                start = time.perf_counter()
                outcome = archive.add_bytes(data, origin="bench", filename=f"report.{fmt}")
                elapsed = time.perf_counter() - start
                found = outcome.citations
    if found != citations:
        raise SystemExit(f"{case}/{fmt}: expected {citations} citations, got {found}")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": elapsed, "peak_mib": peak_kib / 1024, "input_kib": len(data) / 1024}


def _pg_database() -> tuple[str, object]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"archiver_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False), (
        admin,
        name,
    )


def _drop(handle: object) -> None:
    from sqlalchemy import text

    admin, name = handle  # type: ignore[misc]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--citations", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("CASE", "FORMAT"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], args.child[1], args.citations)))
        return

    cases = [("harvest", f) for f in ("text", "markdown", "html")]
    cases += [("add-sqlite", "text"), ("add-postgresql", "text")]
    print(
        f"# {args.citations} citations, median of {args.repeat} runs, {platform.python_version()}"
    )
    print(f"# {os.cpu_count()} cores, {platform.machine()}, {platform.platform()}\n")
    print("| case | format | input | median seconds | citations/s | peak RSS |")
    print("|---|---|---:|---:|---:|---:|")
    for case, fmt in cases:
        runs = []
        for _ in range(args.repeat):
            env = dict(os.environ)
            handle = None
            if case == "add-postgresql":
                env["BENCH_PG_URL"], handle = _pg_database()
            try:
                out = subprocess.run(
                    [sys.executable, "-m", "bench.harvest_bench", "--citations",
                     str(args.citations), "--child", case, fmt],
                    cwd=REPO, env=env, capture_output=True, text=True, check=True,
                )  # fmt: skip
            finally:
                if handle is not None:
                    _drop(handle)
            runs.append(json.loads(out.stdout))
        seconds = statistics.median(r["seconds"] for r in runs)
        peak = max(r["peak_mib"] for r in runs)
        print(
            f"| {case} | {fmt} | {runs[0]['input_kib']:.0f} KiB | {seconds:.3f} | "
            f"{args.citations / seconds:,.0f} | {peak:.0f} MiB |"
        )


if __name__ == "__main__":
    main()
