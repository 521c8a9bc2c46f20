"""Plain-HTTP captures in forked worker processes (archiver.capture.workers).

WorkerSet is exercised with real forks; whole runs go through the simulated web, which
serves from a process of its own (tests.simweb.remote): a process with another thread
never forks, and the simulated web would be one. It also tells which process sent each
request, so the tests see the workers at work rather than trusting the plan.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from archiver.app import Archive
from archiver.capture.recording import CaptureOutcome, DueSource, Finished
from archiver.capture.warc import verify_warc
from archiver.capture.workers import ORPHANED_EXIT, Send, WorkerSet
from archiver.config import Settings
from archiver.integrity.custody import verify_stored_chain
from archiver.integrity.keys import verify
from archiver.integrity.verify_store import verify_store
from archiver.models import CustodyEvent, Observation, Snapshot, SnapshotSeal, Source
from tests.conftest import REPO, FixedClock
from tests.integration.capture.conftest import WARCIO
from tests.simweb.remote import Hit, Page, RemoteWeb

HTTP_ONLY = '{default = ["http"]}'
ARTICLES_IN_BROWSER = '{article = ["http", "browser"], default = ["http"]}'


@pytest.fixture(autouse=True)
def _unfreeze() -> Iterator[None]:
    """WorkerSet.start() freezes the garbage collector's view of every live object (so
    the children do not copy them); in a test process that would outlive the test."""
    yield
    gc.unfreeze()


def _lone_thread() -> None:
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    assert not others, f"threads left running by something else; workers cannot fork: {others}"


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def _workers_alive() -> list[str]:
    return [p.name for p in multiprocessing.active_children() if p.name.startswith("archiver-")]


# -- WorkerSet, with real forks -----------------------------------------------------


def _due(first_id: int, count: int, host: str) -> list[DueSource]:
    return [
        DueSource(i, f"https://{host}/a/{i}.pdf", "web", "document", "pending", ())
        for i in range(first_id, first_id + count)
    ]


def _pid_of(item: Finished) -> int:
    assert item.error is not None and item.error.startswith("sent by "), item
    return int(item.error.removeprefix("sent by "))


async def _collect(workers: WorkerSet) -> list[Finished]:
    workers.start()
    try:
        return [item async for item in workers.finished()]
    finally:
        workers.close()


async def test_every_source_of_every_share_is_finished_once_by_its_own_process() -> None:
    shares = [_due(1, 40, "a.example"), _due(101, 25, "b.example"), _due(201, 60, "c.example")]

    async def produce(share: Sequence[DueSource], send: Send) -> None:
        for source in share:
            send(Finished(source, error=f"sent by {os.getpid()}"))

    items = await _collect(WorkerSet(shares, produce))
    counts = Counter(item.source.id for item in items)
    assert sorted(counts) == sorted(s.id for share in shares for s in share)
    assert set(counts.values()) == {1}
    by_pid: dict[int, set[int]] = defaultdict(set)
    for item in items:
        by_pid[_pid_of(item)].add(item.source.id)
    # One process per share, none of them this one.
    assert os.getpid() not in by_pid
    assert sorted(by_pid.values(), key=min) == [{s.id for s in share} for share in shares]
    # finished() ends only once every worker is gone (and reaped).
    assert _workers_alive() == []


async def test_items_of_one_worker_arrive_in_the_order_sent() -> None:
    shares = [_due(1, 30, "a.example"), _due(101, 30, "b.example")]

    async def produce(share: Sequence[DueSource], send: Send) -> None:
        for source in reversed(share):
            send(Finished(source, error=f"sent by {os.getpid()}"))

    items = await _collect(WorkerSet(shares, produce))
    for share in shares:
        ids = {s.id for s in share}
        assert [i.source.id for i in items if i.source.id in ids] == [s.id for s in reversed(share)]


async def test_a_worker_that_exits_early_loses_exactly_its_unreported_sources() -> None:
    healthy, dying = _due(1, 20, "a.example"), _due(101, 20, "b.example")

    async def produce(share: Sequence[DueSource], send: Send) -> None:
        if _host(share[0].url) == "b.example":
            for source in share[:7]:
                send(Finished(source, error=f"sent by {os.getpid()}"))
            os._exit(3)
        for source in share:
            send(Finished(source, error=f"sent by {os.getpid()}"))

    items = await _collect(WorkerSet([healthy, dying], produce))
    assert Counter(i.source.id for i in items) == Counter(s.id for s in healthy + dying)
    lost = [i for i in items if i.error is not None and i.error.startswith("WorkerLost:")]
    assert [i.source.id for i in lost] == [s.id for s in dying[7:]]
    for item in lost:
        assert item.written is None
        assert item.error is not None
        assert "capture worker 1 " in item.error and "exit code 3" in item.error
    reported = [i for i in items if i not in lost]
    assert {i.source.id for i in reported} == {s.id for s in healthy + dying[:7]}
    assert all(_pid_of(i) != os.getpid() for i in reported)
    assert _workers_alive() == []


async def test_a_killed_worker_and_a_crashed_one_are_told_apart_by_exit_code() -> None:
    killed, crashed, short = (
        _due(1, 5, "k.example"),
        _due(11, 5, "c.example"),
        _due(21, 5, "s.example"),
    )

    async def produce(share: Sequence[DueSource], send: Send) -> None:
        send(Finished(share[0], error=f"sent by {os.getpid()}"))
        host = _host(share[0].url)
        if host == "k.example":
            os.kill(os.getpid(), signal.SIGKILL)
        if host == "c.example":
            raise RuntimeError("a bug in the worker")
        # s.example: returns normally without reporting the rest (a produce bug).

    items = await _collect(WorkerSet([killed, crashed, short], produce))
    errors = {i.source.id: i.error or "" for i in items}
    assert sorted(errors) == sorted(s.id for s in killed + crashed + short)
    for share, index, code in ((killed, 0, -9), (crashed, 1, 1), (short, 2, 0)):
        assert errors[share[0].id].startswith("sent by ")
        for source in share[1:]:
            assert errors[source.id] == (
                f"WorkerLost: capture worker {index} ended (exit code {code}) "
                "before reporting this source"
            )


# A parent that forks two workers which capture for ever (without reporting), prints
# their pids and waits; the test kills it.
_FOREVER = """
import asyncio, sys, time
from archiver.capture.recording import DueSource
from archiver.capture.workers import WorkerSet

async def produce(share, send):
    while True:
        await asyncio.sleep(0.01)

shares = [[DueSource(i, f"https://h{i}.example/", "web", "document", "pending", ())]
          for i in (1, 2)]
workers = WorkerSet(shares, produce)
workers.start()
print(" ".join(str(p.pid) for p in workers._processes), flush=True)
time.sleep(300)
"""


def _running(pid: int) -> bool:
    """Exists and is not a zombie (a dead process not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_workers_die_with_their_parent() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _FOREVER], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    pids: list[int] = []
    try:
        assert parent.stdout is not None
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(map(_running, pids))
        parent.kill()  # SIGKILL: no clean-up of any kind runs in the parent
        parent.wait(timeout=30)
        end = time.monotonic() + 30  # the promise is 2 s; generous for a loaded machine
        while any(map(_running, pids)) and time.monotonic() < end:
            time.sleep(0.05)
        assert not [pid for pid in pids if _running(pid)], "workers outlived their parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid in pids:  # only if the test failed
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


_ORPHAN_CHECKS = """
import ctypes, os, signal
from archiver.capture import workers

workers.stop_if_orphaned()  # not a worker: nothing happens
print("not a worker", flush=True)
workers.die_with_parent(os.getppid())
sig = ctypes.c_int(0)
ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
print("death signal", sig.value, flush=True)
workers.stop_if_orphaned()
print("parent alive", flush=True)
# As if the parent had died between the fork and prctl: another process adopted us.
workers.die_with_parent(os.getppid() + 1)
print("still running", flush=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux only")
def test_a_worker_whose_parent_is_already_gone_stops_at_once() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _ORPHAN_CHECKS], capture_output=True, text=True, cwd=REPO
    )
    assert done.stdout.splitlines() == [
        "not a worker",
        f"death signal {int(signal.SIGKILL)}",
        "parent alive",
    ], done.stderr
    assert done.returncode == ORPHANED_EXIT


# -- whole runs through the simulated web -----------------------------------------------

HOSTS = [f"news{n}.example.kz" for n in range(6)]


def _pdf(n: int) -> bytes:
    return (
        b"%PDF-1.4\n% evidence document "
        + str(n).encode()
        + b"\n"
        + bytes(n % 7) * 500
        + b"%%EOF\n"
    )


def _documents(per_host: int = 8) -> list[Page]:
    """``per_host`` PDFs on each of six hosts: plain HTTP only, so worker material."""
    return [
        Page(f"https://{host}/files/{h * 100 + i}.pdf", _pdf(h * 100 + i), "application/pdf")
        for h, host in enumerate(HOSTS)
        for i in range(per_host)
    ]


def _report(urls: Sequence[str], path: Path) -> Path:
    lines = [f"Claim number {i}[{i}]." for i in range(1, len(urls) + 1)]
    lines += [f"[{i}]{u}" for i, u in enumerate(urls, 1)]
    path.write_text("\n\n".join(lines), encoding="utf-8")
    return path


def _settings(
    make_settings: Callable[..., Settings], web: RemoteWeb, modes: str, database_url: str = ""
) -> Settings:
    return make_settings(
        database_url,
        network__proxy=web.proxy_url,
        capture__extra_ca_file=str(web.ca_pem_path),
        capture__per_host_interval="0",
        capture__workers="2",
        capture__modes=modes,
    )


@dataclass
class Run:
    archive: Archive
    due: list[DueSource]
    shares: list[list[DueSource]]
    here: list[DueSource]
    outcomes: list[CaptureOutcome]
    hits: list[Hit]


def _capture(archive: Archive, report: Path, web: RemoteWeb) -> Run:
    archive.add(str(report))
    runner = archive.capture_runner()
    due = runner.due_sources()
    _lone_thread()
    shares, here = runner._plan(due)
    outcomes = archive.capture()
    assert web.errors() == []
    return Run(archive, due, shares, here, outcomes, web.hits())


def _by_process(hits: Sequence[Hit]) -> dict[int, set[str]]:
    hosts: dict[int, set[str]] = defaultdict(set)
    for hit in hits:
        hosts[hit.pid].add(_host(hit.url))
    return dict(hosts)


def _check_snapshots_sealed_and_verified(archive: Archive, pages: Sequence[Page]) -> None:
    """One snapshot per page: its WARC file as the row says, digests that warcio and we
    verify, the body as served; sealed, signed and in the custody log."""
    root = archive.settings.storage.root
    body_of = {page.url: page.body for page in pages}
    keys = archive.integrity.keys()
    with archive.db.session() as session:
        rows = session.execute(select(Source.url, Snapshot).join(Snapshot.source)).all()
        seals = {s.snapshot_id: s for s in session.scalars(select(SnapshotSeal))}
        captures = session.scalars(
            select(CustodyEvent).where(CustodyEvent.action == "capture")
        ).all()
        assert verify_stored_chain(session).ok
        session.expunge_all()
    assert Counter(url for url, _ in rows) == Counter(list(body_of))  # one each, no more
    logged = Counter(event.subject_id for event in captures)
    paths = []
    for url, snapshot in rows:
        path = root / snapshot.warc_path
        assert path.is_file(), url
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == snapshot.warc_sha256
        assert len(data) == snapshot.warc_size
        report = verify_warc(
            path, expected_sha256=snapshot.warc_sha256, expected_size=snapshot.warc_size
        )
        assert report.ok, report.failures()
        assert snapshot.http_status == 200 and snapshot.methods == ["http"]
        assert snapshot.payload_sha256 == hashlib.sha256(body_of[url]).hexdigest()
        seal = seals[snapshot.id]
        assert verify(keys.public_key_pem(), seal.manifest, seal.signature)
        assert logged[snapshot.id] == 1
        event = next(e for e in captures if e.subject_id == snapshot.id)
        assert event.details["warc_sha256"] == snapshot.warc_sha256
        assert event.details["manifest_sha256"] == seal.manifest_sha256
        paths.append(str(path))
    assert len(seals) == len(captures) == len(rows)
    check = subprocess.run([str(WARCIO), "check", "-v", *paths], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "failed" not in check.stdout and "no digest" not in check.stdout
    findings = verify_store(archive)
    assert not findings.failed, [f for f in findings if f.status == "fail"]
    warnings = [f"{f.item}: {f.detail}" for f in findings if f.status == "warn"]
    # Pending stamps (no authority here), and the unpinned key's reminder to compare its
    # fingerprint with the published one: nothing else.
    assert not [w for w in warnings if not w.startswith(("timestamps:", "KEY:"))], warnings


def test_a_large_plain_http_run_is_captured_by_two_workers(
    make_settings: Callable[..., Settings], database_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    pages = _documents()
    with RemoteWeb(pages) as web:
        settings = _settings(make_settings, web, HTTP_ONLY, database_url=database_url)
        with Archive.open(settings, clock=clock) as archive:
            run = _capture(archive, _report([p.url for p in pages], tmp_path / "r.txt"), web)
            assert len(run.due) == 48
            # The plan: two shares of whole hosts, three each; nothing stays here.
            assert run.here == []
            assert [len(share) for share in run.shares] == [24, 24]
            planned = {frozenset(_host(s.url) for s in share) for share in run.shares}
            assert all(len(hosts) == 3 for hosts in planned)
            # Every source preserved, once.
            assert len(run.outcomes) == 48
            assert sorted(o.source_id for o in run.outcomes) == sorted(s.id for s in run.due)
            assert all(o.preserved and o.error is None for o in run.outcomes)
            assert {o.state_after for o in run.outcomes} == {"live"}
            # The run really went through two worker processes forked by this one, each
            # fetching exactly the hosts it was planned; this process fetched nothing.
            assert Counter(hit.url for hit in run.hits) == Counter(p.url for p in pages)
            processes = _by_process(run.hits)
            assert os.getpid() not in processes and 0 not in processes
            assert len(processes) == 2
            assert {hit.ppid for hit in run.hits} == {os.getpid()}
            assert {frozenset(hosts) for hosts in processes.values()} == planned
            assert _workers_alive() == []
            _check_snapshots_sealed_and_verified(archive, pages)
            with archive.db.session() as session:
                observed = session.scalars(
                    select(Observation.source_id).where(Observation.via == "capture")
                ).all()
                sources = session.scalars(select(Source)).all()
            assert sorted(observed) == sorted(s.id for s in run.due)
            assert all(s.state == "live" and s.capture_attempts == 1 for s in sources)
            assert all(s.next_capture_at is None for s in sources)
            # Nothing is due any more, and the spool is empty.
            assert archive.capture() == []
            assert list((settings.storage.root / "tmp").iterdir()) == []


def test_a_host_with_a_browser_source_stays_in_this_process(
    make_settings: Callable[..., Settings], clock: FixedClock, tmp_path: Path
) -> None:
    # Six hosts of documents, and a seventh with documents and articles: articles get
    # the browser too (capture.modes), so that whole host stays here. The articles
    # turn out to be PDFs, so the plain capture suffices and no Chromium is started.
    mixed = "mixed.example.kz"
    local = [
        Page(f"https://{mixed}/files/{i}.pdf", _pdf(900 + i), "application/pdf") for i in range(4)
    ]
    local += [
        Page(f"https://{mixed}/news/{i}.html", _pdf(950 + i), "application/pdf") for i in range(4)
    ]
    pages = _documents() + local
    with RemoteWeb(pages) as web:
        settings = _settings(make_settings, web, ARTICLES_IN_BROWSER)
        with Archive.open(settings, clock=clock) as archive:
            run = _capture(archive, _report([p.url for p in pages], tmp_path / "r.txt"), web)
            kinds = Counter(s.kind for s in run.due if _host(s.url) == mixed)
            assert kinds == {"document": 4, "article": 4}
            assert [s.id for s in run.here] == [s.id for s in run.due if _host(s.url) == mixed]
            assert len(run.shares) == 2
            assert {_host(s.url) for share in run.shares for s in share} == set(HOSTS)
            assert len(run.outcomes) == 56
            assert all(o.preserved and o.error is None for o in run.outcomes), [
                o for o in run.outcomes if not o.preserved
            ]
            # The mixed host was fetched by this process, the rest by two children.
            processes = _by_process(run.hits)
            assert processes.pop(os.getpid()) == {mixed}
            assert len(processes) == 2
            assert set().union(*processes.values()) == set(HOSTS)
            assert {h.ppid for h in run.hits if h.pid != os.getpid()} == {os.getpid()}
            _check_snapshots_sealed_and_verified(archive, pages)


def test_a_worker_killed_mid_run_loses_nothing_recorded_and_its_sources_are_retried(
    make_settings: Callable[..., Settings], clock: FixedClock, tmp_path: Path
) -> None:
    pages = _documents()
    # The first request for this page kills the worker fetching it (SIGKILL, as the
    # OOM killer would); asked again, it is answered.
    victim = pages[3].url
    pages[3] = pages[3]._replace(kill_client=True)
    with RemoteWeb(pages) as web:
        settings = _settings(make_settings, web, HTTP_ONLY)
        with Archive.open(settings, clock=clock) as archive:
            run = _capture(archive, _report([p.url for p in pages], tmp_path / "r.txt"), web)
            assert len(run.shares) == 2
            [doomed] = [share for share in run.shares if victim in {s.url for s in share}]
            doomed_ids = {s.id for s in doomed}
            assert [h.killed for h in run.hits if h.url == victim] == [True]
            # One outcome per source; the lost ones are the doomed worker's unreported.
            assert sorted(o.source_id for o in run.outcomes) == sorted(s.id for s in run.due)
            lost = [o for o in run.outcomes if o.error is not None]
            assert lost, "the killed worker lost nothing?"
            assert {o.source_id for o in lost} <= doomed_ids
            assert next(o for o in run.outcomes if o.url == victim) in lost
            for outcome in lost:
                assert outcome.failure == "internal" and outcome.snapshot_id is None
                assert outcome.error is not None
                assert outcome.error.startswith("internal error: WorkerLost: capture worker ")
                assert "exit code -9" in outcome.error
                assert outcome.state_after == "pending"
            saved = [o for o in run.outcomes if o.error is None]
            assert all(o.preserved for o in saved)
            assert len(saved) + len(lost) == 48
            lost_ids = {o.source_id for o in lost}
            with archive.db.session() as session:
                rows = {s.id: s for s in session.scalars(select(Source))}
                snapshotted = set(session.scalars(select(Snapshot.source_id)).all())
                internal = session.scalars(
                    select(Observation.source_id).where(Observation.failure_kind == "internal")
                ).all()
                session.expunge_all()
            assert snapshotted == {o.source_id for o in saved}
            assert sorted(internal) == sorted(lost_ids)
            for source_id in lost_ids:
                row = rows[source_id]
                assert row.capture_attempts == 1 and row.state == "pending"
                assert row.next_capture_at == clock.now + timedelta(minutes=10)
            # Whatever the dead worker left (a WARC file it wrote but never reported, a
            # .part file) is found by verify; nothing fails.
            assert not verify_store(archive).failed
            # Retried when due: everything preserved in the end.
            clock.advance(minutes=11)
            retried = archive.capture()
            assert {o.source_id for o in retried} == lost_ids
            assert all(o.preserved for o in retried)
            with archive.db.session() as session:
                preserved = session.scalar(
                    select(func.count(func.distinct(Snapshot.source_id))).where(
                        Snapshot.http_status == 200
                    )
                )
            assert preserved == 48


@pytest.mark.parametrize("workers", ["1", "2"])
def test_per_host_concurrency_holds_for_a_host_reached_by_redirects(
    workers: str, make_settings: Callable[..., Settings], clock: FixedClock, tmp_path: Path
) -> None:
    # kaztag.kz redirects every page to www.kaztag.kz, which is cited directly too (a
    # report cites both spellings). One connection at a time per host is the setting.
    # Both spellings are one alias group, so one worker takes them all; another site
    # gives the second worker its share.
    target = "www.kaztag.kz"
    cited = [
        Page(f"https://{target}/news/{i}", _pdf(i), "application/pdf", hold=0.05) for i in range(16)
    ]
    redirected = [
        Page(f"https://kaztag.kz/ru/{i}", b"", redirect_to=f"https://{target}/ru/{i}")
        for i in range(16)
    ]
    targets = [
        Page(f"https://{target}/ru/{i}", _pdf(100 + i), "application/pdf", hold=0.05)
        for i in range(16)
    ]
    other = [
        Page(f"https://tengrinews.kz/news/{i}", _pdf(200 + i), "application/pdf") for i in range(32)
    ]
    with RemoteWeb(cited + redirected + targets + other) as web:
        settings = make_settings(
            network__proxy=web.proxy_url,
            capture__extra_ca_file=str(web.ca_pem_path),
            capture__per_host_interval="0",
            capture__per_host_concurrency="1",
            capture__workers=workers,
            capture__modes=HTTP_ONLY,
        )
        with Archive.open(settings, clock=clock) as archive:
            run = _capture(
                archive,
                _report([p.url for p in cited + redirected + other], tmp_path / "r.txt"),
                web,
            )
    assert len(run.shares) == (2 if workers == "2" else 0)
    for share in run.shares:  # each spelling of kaztag.kz in the same share, or none
        hosts = {_host(source.url) for source in share}
        assert hosts in ({"tengrinews.kz"}, {target, "kaztag.kz"}), hosts
    assert all(o.preserved for o in run.outcomes) and len(run.outcomes) == 64
    at_target = [hit for hit in run.hits if _host(hit.url) == target]
    assert len(at_target) == 32
    assert max(hit.concurrent for hit in at_target) == 1, sorted(
        {(hit.pid, hit.concurrent) for hit in at_target}
    )
