"""Operations: liveness, readiness and Prometheus metrics.

/healthz and /readyz answer without a token (container health checks and load
balancers have none); /healthz also tells whether the last check run was degraded.
/metrics needs one like everything else (Prometheus sends it with ``authorization:
{credentials: ...}``). The metrics are read from the database at each scrape, so every
process sees the same numbers and a restart loses none.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from archiver.app import Archive
from archiver.capture.health import capture_health, own_failures_total
from archiver.check.health import check_health
from archiver.errors import StoreError
from archiver.models import Observation, Report, Snapshot, Source
from archiver.schedule.due import due_condition
from archiver.storage import open_store
from archiver.store.status import STATES
from archiver.web._auth import api_role, context
from archiver.web.tokens import Principal, Role

router = APIRouter(tags=["operations"])
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/healthz", summary="Liveness: the process answers; how the re-checks are doing")
def healthz(request: Request) -> dict[str, object]:
    """Always 200 while the process answers (a restart cannot mend our network).
    ``status`` is "degraded" when the last check run was degraded (our network was
    down: no source changed state), or when captures failed for the archiver's own
    reasons within the last hour (a full disk, a bucket refusing writes): ``checks``
    says when, why and how many sources were left untouched; ``captures`` how many
    captures failed that way and the last reason."""
    ctx = context(request)
    try:
        health = check_health(ctx.archive.db, ctx.archive.clock)
    except (StoreError, SQLAlchemyError) as exc:
        return {"status": "ok", "checks": {"error": f"database: {type(exc).__name__}"}}
    checks = {k: v for k, v in health.items() if k not in ("last_run", "recent_degraded")}
    last = health["last_run"]
    checks["last_run_at"] = None if last is None else last["finished_at"]
    try:
        captures = capture_health(ctx.archive.db, ctx.archive.clock)
    except (StoreError, SQLAlchemyError) as exc:
        captures = {"error": f"database: {type(exc).__name__}"}
    troubled = health["last_run_degraded"] or bool(captures.get("own_failures_last_hour"))
    answer: dict[str, object] = {
        "status": "degraded" if troubled else "ok",
        "checks": checks,
        "captures": captures,
    }
    # On PostgreSQL (issue 19): tasks waiting and running per queue, workers alive.
    queue = _queue_health(ctx.archive)
    if queue is not None:
        answer["queue"] = queue
    return answer


def _queue_health(archive: Archive) -> dict[str, object] | None:
    from archiver.queue.health import queue_health

    try:
        return queue_health(archive.db, archive.settings)
    except (StoreError, SQLAlchemyError) as exc:
        return {"error": f"database: {type(exc).__name__}"}


@router.get("/readyz", summary="Readiness: the database answers and storage is writable")
def readyz(request: Request) -> JSONResponse:
    ctx = context(request)
    checks: dict[str, str] = {}
    try:
        with ctx.archive.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"failed: {type(exc).__name__}"
    root = ctx.settings.storage.root
    try:
        with tempfile.NamedTemporaryFile(dir=root, prefix=".ready-", delete=True) as fh:
            fh.write(b"ok")
            fh.flush()
            os.fsync(fh.fileno())
        checks["storage"] = "ok"
    except OSError as exc:
        checks["storage"] = f"failed: {exc.strerror}"
    # storage.warc_url: the bucket answers (docs/storage.md); its error code, no secret.
    store = open_store(ctx.settings)
    if store.remote:
        try:
            store.probe()
            checks["object_store"] = "ok"
        except StoreError as exc:
            checks["object_store"] = f"failed: {exc}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


class ArchiveCollector(Collector):
    """Counts read from the store at scrape time."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def collect(self) -> Iterator[Metric]:
        now = self.archive.clock()
        try:
            with self.archive.db.session() as session:
                by_state = dict(
                    session.execute(select(Source.state, func.count()).group_by(Source.state)).all()
                )
                preserved = session.scalar(
                    select(func.count(func.distinct(Snapshot.source_id))).where(
                        Snapshot.http_status >= 200, Snapshot.http_status < 300
                    )
                )
                captures = session.scalar(select(func.count()).select_from(Snapshot))
                failures = dict(
                    session.execute(
                        select(Snapshot.failure_kind, func.count())
                        .where(Snapshot.failure_kind.is_not(None))
                        .group_by(Snapshot.failure_kind)
                    ).all()
                )
                checks = dict(
                    session.execute(
                        select(Observation.via, func.count()).group_by(Observation.via)
                    ).all()
                )
                reports = session.scalar(select(func.count()).select_from(Report))
                capture_queue = session.scalar(
                    select(func.count()).select_from(Source).where(due_condition(now))
                )
                check_queue = session.scalar(
                    select(func.count())
                    .select_from(Source)
                    .where(Source.next_check_at.is_not(None), Source.next_check_at <= now)
                )
            own_failures = own_failures_total(self.archive.db)
        except StoreError:
            up = GaugeMetricFamily("archiver_database_up", "1 when the database answered")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("archiver_database_up", "1 when the database answered")
        up.add_metric([], 1)
        yield up
        sources = GaugeMetricFamily("archiver_sources", "Sources by state", labels=["state"])
        for state in STATES:
            sources.add_metric([state], by_state.get(state, 0))
        yield sources
        yield _gauge("archiver_sources_preserved", "Sources with a 2xx snapshot", preserved)
        yield _gauge("archiver_reports", "Reports stored", reports)
        capture_total = CounterMetricFamily("archiver_captures", "Snapshots taken (attempts)")
        capture_total.add_metric([], captures or 0)
        yield capture_total
        yield _counter(
            "archiver_capture_own_failures",
            "Captures that failed for the archiver's own reasons (disk full, bucket refusing)",
            own_failures,
        )
        failed = CounterMetricFamily(
            "archiver_capture_failures", "Capture attempts with no response", labels=["kind"]
        )
        for kind, count in sorted(failures.items()):
            failed.add_metric([str(kind)], count)
        yield failed
        observed = CounterMetricFamily(
            "archiver_observations", "Observations of sources (capture, check)", labels=["via"]
        )
        for via, count in sorted(checks.items()):
            observed.add_metric([via], count)
        yield observed
        queue = GaugeMetricFamily("archiver_queue_depth", "Work due now", labels=["queue"])
        queue.add_metric(["capture"], capture_queue or 0)
        queue.add_metric(["check"], check_queue or 0)
        yield queue
        yield from _task_metrics(self.archive)


def _task_metrics(archive: Archive) -> Iterator[Metric]:
    """The work queue on PostgreSQL (issue 19): tasks per queue and state, the oldest
    waiting task's age, the workers alive and silent per queue, and alive in all (a
    worker on several queues counts once there)."""
    health = _queue_health(archive)
    if health is None or "queues" not in health:
        return
    queues = health["queues"]
    assert isinstance(queues, dict)
    tasks = GaugeMetricFamily(
        "archiver_tasks", "Tasks of the work queue by state", labels=["queue", "state"]
    )
    waited = GaugeMetricFamily(
        "archiver_task_wait_seconds", "Age of the oldest waiting task", labels=["queue"]
    )
    workers = GaugeMetricFamily(
        "archiver_workers", "Workers alive taking tasks of the queue", labels=["queue"]
    )
    silent = GaugeMetricFamily(
        "archiver_workers_silent",
        "Workers of the queue without a heartbeat for three (taken for dead)",
        labels=["queue"],
    )
    for name, counts in sorted(queues.items()):
        for state in ("todo", "doing", "failed"):
            tasks.add_metric([name, state], counts[state])
        waited.add_metric([name], counts["oldest_todo_seconds"] or 0)
        workers.add_metric([name], counts["workers"])
        silent.add_metric([name], counts["workers_silent"])
    yield tasks
    yield waited
    yield workers
    yield silent
    total = int(str(health["workers"]))
    yield _gauge("archiver_worker_processes", "archiver worker processes alive", total)


def _counter(name: str, documentation: str, value: int) -> CounterMetricFamily:
    counter = CounterMetricFamily(name, documentation)
    counter.add_metric([], value)
    return counter


def _gauge(name: str, documentation: str, value: int | None) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation)
    gauge.add_metric([], value or 0)
    return gauge


def registry_for(archive: Archive) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ArchiveCollector(archive))
    return registry


@router.get("/metrics", summary="Prometheus metrics (any token)")
def metrics(request: Request, _: Annotated[Principal, api_role(Role.VIEWER)]) -> Response:
    registry: CollectorRegistry = request.app.state.metrics
    return Response(generate_latest(registry), media_type=PROMETHEUS_TYPE)
