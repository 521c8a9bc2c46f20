"""Benchmark: captures scaled out over ``archiver worker`` processes (issue 19), in one run.

The same pages (real news pages from ../shared/corpus, ``--pages`` over ``--hosts``
hosts, ``--latency-ms`` per response) are captured by 1, 2 and 4 worker processes
(``--workers``) on a fresh PostgreSQL database each time, ``archiver run`` scheduling
(procrastinate tasks by host partition). Politeness: ``--per-host`` requests per host at
once across all workers, no interval, so the bound the politeness sets is
``hosts x per-host / latency`` pages per second (400 at the defaults).

For each worker count: the wall time from the scheduler's start to the last snapshot,
pages per second over it and between 10 % and 90 % of the pages (start-up left out),
the peak RSS of each worker (VmHWM) and its CPU seconds. Needs PostgreSQL
(``ARCHIVER_BENCH_POSTGRES_URL``, default the tests' server on 127.0.0.1:5432).

    .venv/bin/python -m bench.scale_bench [--pages 1000] [--hosts 20] [--latency-ms 100]
        [--workers 1,2,4] [--per-host 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
POSTGRES_URL = os.environ.get(
    "ARCHIVER_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DEADLINE = 1800.0


@dataclass(frozen=True)
class Result:
    workers: int
    seconds: float
    steady: float  # pages per second between 10 % and 90 % of the pages
    first: float  # seconds to the first snapshot (start-up: scheduler, first task)
    tail: float  # seconds from 90 % to the last page
    rss: list[float]  # MiB, each worker's peak
    cpu: list[float]  # seconds, each worker's user + system


def _bodies() -> list[bytes]:
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    return [(CORPUS / e["path"]).read_bytes() for e in manifest if e["platform"] == "news"]


def _status(pid: int) -> tuple[float, float]:
    """Peak RSS (MiB) and CPU seconds of a running process."""
    hwm = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return hwm, (int(fields[11]) + int(fields[12])) / ticks


class Database:
    """A fresh PostgreSQL database, dropped on the way out."""

    def __init__(self) -> None:
        self.name = f"archiver_bench_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        self.url = make_url(POSTGRES_URL).set(database=self.name).render_as_string(False)

    def __enter__(self) -> Database:
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.engine = create_engine(self.url)
        return self

    def scalar(self, sql: str) -> int:
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(text(sql)).scalar() or 0)
        except Exception:  # noqa: BLE001 - a table not there yet counts as nothing
            return 0

    def __exit__(self, *exc: object) -> None:
        self.engine.dispose()
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def _wait(what: str, condition: object) -> None:
    end = time.monotonic() + DEADLINE
    while not condition():  # type: ignore[operator]
        if time.monotonic() > end:
            raise SystemExit(f"not within {DEADLINE:.0f} s: {what}")
        time.sleep(0.1)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Kind:
    """What is measured: captures, or re-checks of sources already looked at."""

    queue: str
    done_sql: str  # how many of the pages are done
    once_sql: str  # how many pages were done more than once
    prepare_sql: str | None = None  # run after the report is added
    env: tuple[tuple[str, str], ...] = ()


CAPTURES = Kind(
    "capture",
    "SELECT count(*) FROM snapshots",
    "SELECT count(*) - count(DISTINCT source_id) FROM snapshots",
    env=(("ARCHIVER_DAEMON__CHECK", "false"),),
)
# Every source due for its re-check (as if captured two minutes ago), none captured.
RECHECKS = Kind(
    "check",
    "SELECT count(*) FROM observations WHERE via = 'check'",
    "SELECT count(*) - count(DISTINCT source_id) FROM observations WHERE via = 'check'",
    prepare_sql="UPDATE sources SET capture_attempts = 1, state = 'live', "
    "last_checked_at = now() - interval '2 minutes', next_check_at = now() - interval '1 minute'",
    env=(
        ("ARCHIVER_DAEMON__CAPTURE", "false"),
        ("ARCHIVER_DAEMON__CHECK", "true"),
        ("ARCHIVER_CHECK__TICK", "1"),
        ("ARCHIVER_CHECK__BATCH_SIZE", "100"),
    ),
)


def _run(
    count: int, pages: int, report: Path, env: dict[str, str], tmp: Path, kind: Kind = CAPTURES
) -> Result:
    archiver = [sys.executable, "-m", "archiver"]
    with Database() as db:
        run_env = {
            **env,
            **dict(kind.env),
            "ARCHIVER_STORAGE__ROOT": str(tmp / f"storage-{kind.queue}-{count}"),
            "ARCHIVER_STORAGE__DATABASE_URL": db.url,
        }
        subprocess.run([*archiver, "add", str(report)], env=run_env, check=True,
                       capture_output=True)  # fmt: skip
        if kind.prepare_sql:
            with db.engine.begin() as conn:
                conn.execute(text(kind.prepare_sql))
        logs = tmp / f"logs-{kind.queue}-{count}"
        logs.mkdir()

        def start(*args: str, name: str) -> subprocess.Popen[bytes]:
            out = (logs / f"{name}.log").open("wb")
            return subprocess.Popen([*archiver, *args], env=run_env, stdout=out, stderr=out)

        workers = [
            start("worker", "--queues", kind.queue, name=f"worker-{i}") for i in range(count)
        ]
        processes = list(workers)
        try:
            _wait("workers registered", lambda: db.scalar(
                "SELECT count(*) FROM procrastinate_workers") >= count)  # fmt: skip
            started = time.monotonic()
            processes.append(start("run", name="scheduler"))
            marks: dict[float, float] = {}
            while (done := db.scalar(kind.done_sql)) < pages:
                now = time.monotonic()
                for share in (1 / pages, 0.1, 0.9):
                    if done >= pages * share:
                        marks.setdefault(share, now)
                if now - started > DEADLINE:
                    raise SystemExit(f"{count} workers: {done} of {pages} pages in {DEADLINE} s")
                if any(p.poll() is not None for p in processes):
                    raise SystemExit(f"a process ended early; see {logs}")
                time.sleep(0.1)
            ended = time.monotonic()
            seconds = ended - started
            for share in (1 / pages, 0.1, 0.9):
                marks.setdefault(share, ended)
            steady = pages * 0.8 / max(marks[0.9] - marks.get(0.1, started), 1e-6)
            stats = [_status(w.pid) for w in workers]
        finally:
            _stop(processes)
        if db.scalar(kind.once_sql) or db.scalar(kind.done_sql) != pages:
            raise SystemExit(f"{count} workers: a page done more than once ({kind.queue})")
    first, tail = marks[1 / pages] - started, ended - marks[0.9]
    return Result(count, seconds, steady, first, tail, [r for r, _ in stats], [c for _, c in stats])


def main() -> None:
    sys.path.insert(0, str(REPO))
    from tests.simweb import SimulatedWeb

    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--per-host", type=int, default=2)
    parser.add_argument("--checks", type=int, default=20000, help="sources re-checked (0: none)")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",") if n]
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "archiver")],
                   check=True, capture_output=True)  # fmt: skip
    bound = args.hosts * args.per_host / (args.latency_ms / 1000)
    print(f"# scale benchmark: {args.pages} captures and {args.checks} re-checks of corpus news "
          f"pages over {args.hosts} hosts, {args.latency_ms} ms per response")  # fmt: skip
    print(f"# {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}")
    print("# archiver worker (8 tasks at once), archiver run scheduling; re-checks: batches")
    print("# of 100, every source due, never captured (no baseline to compare with);")
    print(f"# {args.per_host} requests per host at once across workers, no interval: the")
    print(f"# politeness bound is {bound:.0f} pages/s; RSS = each worker's peak (VmHWM)\n")
    bodies = _bodies()
    pages = [f"http://news{n % args.hosts}.bench.kz/a/{n}.html" for n in range(args.pages)]
    checks = [f"http://news{n % args.hosts}.bench.kz/c/{n}.html" for n in range(args.checks)]
    with SimulatedWeb() as web, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        web.latency = args.latency_ms / 1000
        for n, url in enumerate(pages + checks):
            web.page(url, bodies[n % len(bodies)])
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
        env.update({
            "PYTHONPATH": str(REPO),
            "ARCHIVER_NETWORK__PROXY": web.proxy_url,
            "ARCHIVER_CAPTURE__MODES": '{default = ["http"]}',
            "ARCHIVER_CAPTURE__PER_HOST_CONCURRENCY": str(args.per_host),
            "ARCHIVER_CAPTURE__PER_HOST_INTERVAL": "0",
            "ARCHIVER_DAEMON__QUEUE": "procrastinate",
            "ARCHIVER_DAEMON__INBOX_POLL_INTERVAL": "0.5",
            "ARCHIVER_WEB__ENABLED": "false",
            "ARCHIVER_WITNESSES__LOOKUP_UNPRESERVED": "false",
        })  # fmt: skip
        for kind, urls in ((CAPTURES, pages), (RECHECKS, checks)):
            if not urls:
                continue
            report = tmp / f"report-{kind.queue}.txt"
            lines = [f"Claim number {i}[{i}]." for i in range(1, len(urls) + 1)]
            lines += [f"[{i}]{u}" for i, u in enumerate(urls, 1)]
            report.write_text("\n\n".join(lines), encoding="utf-8")
            print(f"\n{kind.queue}: {len(urls)} pages, archiver worker --queues {kind.queue}\n")
            print("| workers | seconds | pages/s | 10-90 % pages/s | speed-up (10-90 %) "
                  "| first page s | last 10 % s | peak RSS per worker | CPU s per worker |")  # fmt: skip
            print("|---:|---:|---:|---:|---:|---:|---:|---|---|")
            base: float | None = None
            for count in counts:
                web.clear_log()
                r = _run(count, len(urls), report, env, tmp, kind)
                base = base or r.steady
                rss = ", ".join(f"{m:.0f}" for m in r.rss)
                cpu = ", ".join(f"{c:.1f}" for c in r.cpu)
                print(f"| {count} | {r.seconds:.1f} | {len(urls) / r.seconds:.1f} | "
                      f"{r.steady:.1f} | {r.steady / base:.2f}x | {r.first:.1f} | "
                      f"{r.tail:.1f} | {rss} MiB | {cpu} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
