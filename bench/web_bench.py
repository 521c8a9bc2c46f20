"""Benchmark: how long the pages and the API take over an archive of one report with
10,000 citations (and as many sources), in-process through httpx.ASGITransport, so the
numbers are the application's own (no network, no browser).

    .venv/bin/python -m bench.web_bench [--citations 10000] [--repeat 5] [--bare]

The sources are given a history first, as captures and checks would leave it (about half
preserved and live, some dead or removed after a preserved snapshot, some tried and never
preserved, some suspected, some lacking a part, the rest never captured; observations
over 30 days), so the dashboard's filters and charts have something to find; ``--bare``
leaves them all pending, as the earlier runs did. Prints a Markdown table (median wall
time and median CPU time of the process per request); docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

PATHS = (
    "/",
    "/reports/1",
    "/reports/1?platform=youtube",
    "/reports/1?state=dead",
    "/reports/1?never_preserved=1",
    "/reports/1?suspected=1",
    "/reports/1?incomplete=1",
    "/reports/1?domain=kaztag.kz",
    "/reports/1?q=torture",
    "/reports/1?page=20",
    "/sources",
    "/sources?state=dead",
    "/sources?incomplete=1",
    "/sources?q=torture+custody",
    "/sources/1",
    "/api/v1/reports/1",
    "/api/v1/reports/1?state=dead",
    "/api/v1/reports/1?suspected=true&domain=facebook.com",
    "/api/v1/sources/1",
    "/api/v1/sources?platform=youtube",
    "/api/v1/sources?never_preserved=true",
    "/api/v1/sources?q=torture&domain=kaztag.kz",
    "/api/v1/status",
    "/api/v1/status.csv",
)


def seed_history(archive: Any, seed: int = 11) -> dict[str, int]:
    """Snapshots and observations for every source, written as rows (no WARC files:
    the pages list them, nothing here downloads one)."""
    from sqlalchemy import select, update

    from archiver.models import Observation, Snapshot, Source
    from archiver.store.db import insert_rows

    rng = random.Random(seed)
    start = datetime(2026, 11, 1, 9, tzinfo=UTC)
    snapshots: list[dict[str, Any]] = []
    observations: list[dict[str, Any]] = []
    states: dict[str, list[int]] = {}
    attempts: list[int] = []
    kinds: dict[str, int] = {}

    def snap(sid: int, at: datetime, status: int | None, **extra: Any) -> str:
        snapshot_id = str(uuid.uuid4())
        snapshots.append(
            {
                "id": snapshot_id, "source_id": sid, "started_at": at,
                "finished_at": at + timedelta(seconds=3), "methods": ["http"],
                "warc_path": f"warcs/bench/{snapshot_id}.warc.gz", "warc_sha256": "0" * 64,
                "warc_size": 40000, "http_status": status, "final_url": None,
                "redirect_chain": [], "payload_sha256": None, "payload_size": None,
                "content_type": "text/html", "title": extra.get("title"),
                "failure_kind": extra.get("failure"), "failure_message": None,
                "tls_verified": True, "truncated": False, "artefacts": [], "records": 4,
                "incomplete": extra.get("incomplete", []),
            }
        )  # fmt: skip
        attempts.append(sid)
        return snapshot_id

    def seen(sid: int, at: datetime, via: str, implied: str, resulting: str, **extra: Any) -> None:
        observations.append(
            {
                "source_id": sid, "observed_at": at, "via": via,
                "snapshot_id": extra.get("snapshot_id"), "http_status": extra.get("status"),
                "final_url": None, "failure_kind": extra.get("failure"),
                "implied_state": implied, "resulting_state": resulting,
                "reason": extra.get("reason", "HTTP 200"),
            }
        )  # fmt: skip

    with archive.db.session() as session:
        ids = list(session.scalars(select(Source.id).order_by(Source.id)))
    for sid in ids:
        at = start + timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 600))
        later = at + timedelta(days=rng.randint(1, 9))
        r = rng.random()
        title = f"{rng.choice(['Court', 'Detention', 'Rally', 'Arrest'])} in case {sid}"
        if r < 0.50:
            kind, state = "live", "live"
            lacks = [{"artefact": "video", "reason": "HTTP Error 403: Forbidden"}]
            s = snap(sid, at, 200, title=title, incomplete=lacks if r < 0.06 else [])
            seen(sid, at, "capture", "live", "live", snapshot_id=s, status=200)
        elif r < 0.65:
            kind = state = "dead" if r < 0.60 else "removed"
            s = snap(sid, at, 200, title=title)
            seen(sid, at, "capture", "live", "live", snapshot_id=s, status=200)
            seen(sid, later, "check", state, state, status=404, reason="HTTP 404")
        elif r < 0.75:
            kind, state = "never preserved", "pending" if r < 0.70 else "unreachable"
            failure = "dns" if state == "pending" else "timeout"
            implied = "dead" if state == "pending" else "unreachable"
            s = snap(sid, at, None, failure=failure)
            seen(sid, at, "capture", implied, state, snapshot_id=s, failure=failure,
                 reason="the host name does not resolve")  # fmt: skip
        elif r < 0.80:
            kind, state = "suspected", "live"
            s = snap(sid, at, 200, title=title)
            seen(sid, at, "capture", "live", "live", snapshot_id=s, status=200)
            seen(sid, later, "check", "dead", "live", status=404, reason="HTTP 404")
        else:
            kind, state = "not captured", "pending"
        kinds[kind] = kinds.get(kind, 0) + 1
        states.setdefault(state, []).append(sid)
    with archive.db.session() as session:
        insert_rows(session, Snapshot, snapshots)
        insert_rows(session, Observation, observations)
        for state, members in states.items():
            session.execute(update(Source).where(Source.id.in_(members)).values(state=state))
        session.execute(
            update(Source).where(Source.id.in_(set(attempts))).values(capture_attempts=1)
        )
        session.commit()
    return kinds


async def _measure(citations: int, repeat: int, bare: bool) -> list[tuple[str, float, float, int]]:
    from archiver.app import Archive
    from archiver.config import load_settings
    from archiver.web import create_app
    from archiver.web.tokens import Role, create_token
    from bench import reports

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ={"ARCHIVER_STORAGE__ROOT": tmp})
        clock = lambda: datetime(2026, 11, 30, 12, tzinfo=UTC)  # noqa: E731
        with Archive.open(settings, clock=clock) as archive:
            archive.add_bytes(reports.as_text(citations), origin="bench", filename="r.txt")
            if not bare:
                seed_history(archive)
            _, token = create_token(archive.db, name="bench", role=Role.VIEWER, clock=archive.clock)
            transport = httpx.ASGITransport(app=create_app(archive))
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://bench",
                headers={"Authorization": f"Bearer {token}"},
                timeout=600,
            ) as client:
                for path in PATHS:
                    times, cpu = [], []
                    size = 0
                    for _ in range(repeat):
                        start, start_cpu = time.perf_counter(), time.process_time()
                        response = await client.get(path)
                        times.append(time.perf_counter() - start)
                        cpu.append(time.process_time() - start_cpu)
                        assert response.status_code == 200, (path, response.status_code)
                        size = len(response.content)
                    rows.append((path, statistics.median(times), statistics.median(cpu), size))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--citations", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--bare", action="store_true", help="every source pending, no history")
    args = parser.parse_args()
    rows = asyncio.run(_measure(args.citations, args.repeat, args.bare))
    print(
        f"Python {platform.python_version()}, {args.citations} citations, median of {args.repeat}"
        f"{' (bare)' if args.bare else ''}\n"
    )
    print("| request | median seconds | CPU seconds | response |")
    print("|---|---:|---:|---:|")
    for path, seconds, cpu, size in rows:
        print(f"| `GET {path}` | {seconds:.3f} | {cpu:.3f} | {size / 1024:,.0f} KiB |")


if __name__ == "__main__":
    main()
