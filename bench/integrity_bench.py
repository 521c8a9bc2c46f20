"""Benchmark: what evidence integrity costs.

1. Capture with and without sealing, side by side (same local pages, same runner):
   sealing = canonical manifest + Ed25519 signature + pending stamp rows + one custody
   entry per snapshot, in the transaction that records the snapshot.
2. Stamping the pending stamps afterwards from a local openssl TSA (one ``openssl ts
   -reply`` process per stamp: the TSA dominates).
3. Export of one snapshot with a large body, package size, ``archiver verify`` of the
   package, and ``archiver verify --store`` of the whole store.

    .venv/bin/python -m bench.integrity_bench [--pages 200] [--big-mb 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from archiver.app import Archive  # noqa: E402
from archiver.integrity.verify import verify_package  # noqa: E402
from archiver.integrity.verify_store import verify_store  # noqa: E402
from tests.integration.integrity.conftest import make_tsa_pki, serve_tsa  # noqa: E402
from tests.integration.integrity.package_fixtures import integrity_settings  # noqa: E402
from tests.support.httpserver import Response, serve  # noqa: E402


def _page(i: int) -> bytes:
    text = " ".join(f"Paragraph {i}.{j}: the court heard the case." for j in range(400))
    return f"<!doctype html><title>Page {i}</title><p>{text}</p>".encode()


def _capture(archive: Archive, sealed: bool) -> float:
    runner = archive.capture_runner("bench")
    if not sealed:
        runner.sealer = None
    due = runner.due_sources()
    started = time.perf_counter()
    outcomes = asyncio.run(runner.run(due))
    elapsed = time.perf_counter() - started
    assert all(o.http_status == 200 for o in outcomes), outcomes[:3]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--big-mb", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    big = os.urandom(args.big_mb << 20)
    routes = {f"/news/{i}.html": Response(200, _page(i), {"Content-Type": "text/html"}) for i in range(args.pages)}  # fmt: skip
    routes["/files/big.bin"] = Response(200, big, {"Content-Type": "application/octet-stream"})
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp, serve(routes) as server:
        pki = Path(tmp) / "pki"
        pki.mkdir()
        make_tsa_pki(pki)
        times: dict[bool, list[float]] = {True: [], False: []}
        with serve_tsa(pki) as tsa:
            for run in range(args.repeat):
                for sealed in (False, True):
                    root = Path(tmp) / f"run{run}-{sealed}"
                    root.mkdir()
                    settings = integrity_settings(root / "storage", "", [tsa.url])
                    settings = settings.model_copy(update={"capture": settings.capture.model_copy(update={"concurrency": 32, "per_host_concurrency": 16})})  # fmt: skip
                    report = root / "r.txt"
                    report.write_text("\n".join(f"[{i}] {server.url(f'/news/{i}.html')}" for i in range(args.pages)))  # fmt: skip
                    with Archive.open(settings) as archive:
                        archive.add(str(report))
                        archive.integrity.keys()
                        times[sealed].append(_capture(archive, sealed))
            for sealed in (False, True):
                median = statistics.median(times[sealed])
                rows.append((f"capture {args.pages} pages, {'with' if sealed else 'without'} sealing",
                             f"{median:.2f} s ({args.pages / median:.0f} pages/s)"))  # fmt: skip
            # Stamping, export and verification on the last sealed store.
            root = Path(tmp) / f"run{args.repeat - 1}-True"
            settings = integrity_settings(root / "storage", "", [tsa.url])
            with Archive.open(settings) as archive:
                started = time.perf_counter()
                summary = archive.stamp_pending()
                stamp_s = time.perf_counter() - started
                rows.append((f"stamp {summary.granted} pending stamps (local openssl TSA)",
                             f"{stamp_s:.2f} s ({stamp_s / max(summary.granted, 1) * 1000:.0f} ms each)"))  # fmt: skip
                big_report = root / "big.txt"
                big_report.write_text(f"[1] {server.url('/files/big.bin')}\n")
                archive.add(str(big_report))
                [source_id] = archive.find_sources([server.url("/files/big.bin")])
                archive.capture(source_ids=[source_id])
                archive.stamp_pending()
                started = time.perf_counter()
                package = archive.export(str(source_id), root / "big.zip", actor="bench")
                export_s = time.perf_counter() - started
                size = package.stat().st_size
                rows.append((f"export 1 snapshot with a {args.big_mb} MiB body",
                             f"{export_s:.2f} s, package {size / (1 << 20):.1f} MiB"))  # fmt: skip
                started = time.perf_counter()
                found = verify_package(package)
                rows.append(("verify the package", f"{time.perf_counter() - started:.2f} s, {len(found)} checks, "
                             f"{sum(f.status == 'fail' for f in found)} failed"))  # fmt: skip
                started = time.perf_counter()
                found = verify_store(archive)
                rows.append((f"verify --store ({args.pages + 1} snapshots)",
                             f"{time.perf_counter() - started:.2f} s, {len(found)} checks, "
                             f"{sum(f.status == 'fail' for f in found)} failed"))  # fmt: skip
    print("| case | result |\n|---|---|")
    for case, result in rows:
        print(f"| {case} | {result} |")
    print(json.dumps({"pages": args.pages, "big_mb": args.big_mb, "repeat": args.repeat}))


if __name__ == "__main__":
    main()
