"""Re-checking sources: probe, classify, judge the batch, decide, record.

One batch (at most ``check.batch_size`` sources) goes like this:

1. probe every source through one shared Fetcher (the capture's network policy and
   per-host politeness), ``check.concurrency`` at a time; classify each probe against
   the source's baseline, its host's not-found profile (fetched when a case needs it)
   and the platform recogniser;
2. judge the batch as a whole (:mod:`archiver.check.outage`) from control probes
   (:mod:`archiver.check.controls`: canary sites fetched through the same Fetcher at
   the batch's start and end, and our resolver): if our own network was down, the
   batch is degraded and no source changes state;
3. decide each source's state with the pure state machine (:mod:`archiver.check.machine`);
4. capture a new snapshot of each source confirmed altered (the baseline is untouched);
5. record everything in one transaction: observations, check results, transitions
   with the observations that justified them, next check times, one custody event per
   check, and notifications for the operator.
"""

from __future__ import annotations

import asyncio
import logging
import random as random_module
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from archiver.bounded import Stopped, unless_stopped
from archiver.capture.http import Fetcher
from archiver.check import _store
from archiver.check._recording import BatchRecorder
from archiver.check._recording import Probed as _Probed
from archiver.check.abandoned import close_abandoned_runs, close_stopped_run, this_process
from archiver.check.classify import (
    Baseline,
    ClassifyPolicy,
    NotFoundProfile,
    ProbeResult,
    Recognizer,
    Verdict,
    classify,
    host_of,
)
from archiver.check.controls import ControlProbes, alongside, control_probes
from archiver.check.fields import classify_platform
from archiver.check.machine import UNSEEN, Decision, Policy, Seen, decide
from archiver.check.outage import BatchJudgement, OutagePolicy, judge_batch
from archiver.check.platform_probes import default_platform_probes
from archiver.check.probe import HttpProbe, Probe
from archiver.check.results import CheckOutcome, RunReport, default_recognizer
from archiver.config import Settings
from archiver.models import CheckRun

if TYPE_CHECKING:
    from archiver.capture.runner import CaptureRunner
from archiver.schedule.intervals import base_interval
from archiver.storage import open_store
from archiver.store.db import Database
from archiver.store.leases import Claims, claimable, held_elsewhere

log = logging.getLogger(__name__)

DueCheck = _store.DueCheck


class CheckRunner:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        clock: Callable[[], datetime],
        recognizer: Recognizer | None = None,
        random: Callable[[], float] = random_module.random,
        actor: str = "system",
        probe_factory: Callable[[Fetcher], Probe] | None = None,
        platform_probe_factory: Callable[[Fetcher], Mapping[str, Probe]] | None = None,
        capture_runner: Callable[[], CaptureRunner] | None = None,
        lease_owner: str | None = None,
    ) -> None:
        self.settings = settings
        # One check or capture per source at a time: each batch is claimed first
        # (archiver.store.leases); a source another runner holds is skipped.
        self.claims = Claims(db, clock=clock, lease=settings.check.lease, owner=lease_owner)
        # Builds the runner that re-captures altered sources. Archive.check_runner passes
        # one that seals each snapshot (signature, custody); the bare default does not.
        self._capture_runner = capture_runner
        self.db = db
        self.clock = clock
        self.recognizer = recognizer or default_recognizer()
        self.random = random
        self.actor = actor
        check = settings.check
        self._probe_factory = probe_factory or (
            lambda fetcher: HttpProbe(fetcher, budget=check.probe_budget)
        )
        # Per platform (source.platform): YouTube through yt-dlp, Facebook's post text.
        self._platform_probe_factory = platform_probe_factory or default_platform_probes(settings)
        self.policy = Policy(confirm_after=check.confirm_after)
        self.classify_policy = ClassifyPolicy(min_similarity=check.min_similarity)
        self.outage_policy = OutagePolicy(check.outage_failure_share, check.outage_min_sites)
        self._recorder = BatchRecorder(settings, db, clock=clock, random=random, actor=actor)

    # -- choosing work ---------------------------------------------------------------

    def due(
        self,
        *,
        limit: int | None = None,
        source_ids: Sequence[int] | None = None,
        everything: bool = False,
    ) -> list[DueCheck]:
        """Sources due (or named, or all captured), but not those another runner holds."""
        return self._due(claimable, limit=limit, source_ids=source_ids, everything=everything)

    def busy(
        self, *, source_ids: Sequence[int] | None = None, everything: bool = False
    ) -> set[int]:
        """The sources due (or named) that another runner holds now."""
        found = self._due(held_elsewhere, source_ids=source_ids, everything=everything)
        return {s.id for s in found}

    def _due(self, lease: Callable[[str, datetime], Any], **which: Any) -> list[DueCheck]:
        now = self.clock()
        with self.db.session() as session:
            return _store.due_checks(
                session,
                now,
                first_interval=base_interval(0, self.settings.check.interval_table()),
                claimable=lease(self.claims.owner, now),
                **which,
            )

    # -- running -----------------------------------------------------------------------

    async def run(
        self,
        sources: Sequence[DueCheck],
        *,
        trigger: str = "cli",
        progress: Callable[[CheckOutcome], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> list[RunReport]:
        """Check ``sources`` in batches of ``check.batch_size``; one report per batch.
        Once ``should_stop()`` is true, a batch still probing is abandoned (nothing of it
        recorded, its run closed as abandoned: checked again when due) and none starts."""
        # Runs a dead process left unfinished are closed first (archiver.check.abandoned).
        await asyncio.to_thread(close_abandoned_runs, self.db, self.clock())
        reports = []
        size = self.settings.check.batch_size
        spool = self.settings.storage.root / "tmp"
        spool.mkdir(parents=True, exist_ok=True)
        async with Fetcher(
            self.settings.network, self.settings.capture, spool_dir=spool, clock=self.clock
        ) as fetcher:
            probe = self._probe_factory(fetcher)
            factory = self._platform_probe_factory
            by_platform = factory(fetcher) if factory is not None else {}
            controls = control_probes(self.settings, fetcher)  # once per run
            for start in range(0, len(sources), size):
                if should_stop():
                    break
                batch = sources[start : start + size]
                async with self.claims.holding(s.id for s in batch) as held:
                    batch = [s for s in batch if s.id in held]  # others: another runner's
                    if batch:
                        try:
                            report = await self._run_batch(
                                batch, probe, by_platform, trigger, progress, controls, should_stop
                            )
                        except Stopped:
                            break
                        reports.append(report)
        return reports

    async def _run_batch(
        self,
        batch: Sequence[DueCheck],
        probe: Probe,
        by_platform: Mapping[str, Probe],
        trigger: str,
        progress: Callable[[CheckOutcome], None] | None,
        controls: ControlProbes | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> RunReport:
        run_id, baselines, fields, profiles, history = await asyncio.to_thread(
            self._prepare, batch, trigger
        )
        new_profiles: dict[str, NotFoundProfile] = {}
        locks: dict[str, asyncio.Lock] = {}
        gate = asyncio.Semaphore(self.settings.check.concurrency)

        async def one(source: DueCheck) -> _Probed:
            async with gate:
                return await self._probe_one(
                    source,
                    by_platform.get(source.platform, probe),
                    (baselines.get(source.id), fields.get(source.id)),
                    profiles,
                    new_profiles,
                    locks,
                )

        # Our own network is looked at beside the first probes and after the last.
        probing = alongside(controls, asyncio.gather(*(one(s) for s in batch)))
        try:
            probed, rounds = await unless_stopped(probing, should_stop)
        except Stopped:
            await asyncio.to_thread(close_stopped_run, self.db, run_id, self.clock())
            raise
        judgement = judge_batch(
            [
                (host_of(p.source.url), p.result.failure if p.result is not None else None)
                for p in probed
            ],
            self.outage_policy,
            rounds,
        )
        # A degraded run is said by its caller's summary (and the daemon's operator
        # line), not here too.
        for item in probed:
            self._decide(item, history.get(item.source.id, []), judgement)
        if not judgement.degraded and self.settings.check.recapture_altered:
            await self._recapture([p for p in probed if _confirmed_altered(p)], should_stop)
        outcomes = await asyncio.to_thread(
            self._recorder.record, run_id, probed, judgement, list(new_profiles.values()), baselines
        )
        if progress is not None:
            for outcome in outcomes:
                progress(outcome)
        return RunReport(
            run_id, judgement.degraded, judgement.reason if judgement.degraded else None, outcomes
        )

    def _prepare(
        self, batch: Sequence[DueCheck], trigger: str
    ) -> tuple[
        int,
        dict[int, Baseline],
        dict[int, dict[str, Any]],
        dict[str, NotFoundProfile],
        dict[int, list[Seen]],
    ]:
        now = self.clock()
        ids = [s.id for s in batch]
        fresh = now - timedelta(seconds=self.settings.check.not_found_refresh)
        with self.db.session() as session:
            run = CheckRun(
                started_at=now,
                trigger=trigger,
                checked=0,
                changed=0,
                degraded=False,
                summary={},
                owner=this_process(),
            )
            session.add(run)
            baselines = _store.load_baselines(session, open_store(self.settings), ids, now)
            profiles = _store.load_profiles(session, sorted({host_of(s.url) for s in batch}), fresh)
            history = _store.load_history(session, ids)
            fields = _store.load_platform_fields(session, baselines)
            session.flush()
            return run.id, baselines, fields, profiles, history

    async def _probe_one(
        self,
        source: DueCheck,
        probe: Probe,
        baseline: tuple[Baseline | None, dict[str, Any] | None],
        profiles: dict[str, NotFoundProfile],
        new_profiles: dict[str, NotFoundProfile],
        locks: dict[str, asyncio.Lock],
    ) -> _Probed:
        try:
            result = await probe.probe(source.fetch_url)
            host = host_of(source.url)
            # Text extraction is CPU work: off the event loop, so probes keep flowing.
            verdict = await asyncio.to_thread(self._classify, result, baseline, profiles.get(host))
            if verdict.wants_not_found_profile:
                lock = locks.setdefault(host, asyncio.Lock())
                async with lock:
                    if host not in profiles:
                        profile = await probe.not_found(source.fetch_url)
                        if profile is not None:
                            profiles[host] = new_profiles[host] = profile
                if host in profiles:
                    verdict = await asyncio.to_thread(
                        self._classify, result, baseline, profiles[host]
                    )
            return _Probed(source, self.clock(), result, verdict)
        except Exception as exc:  # the per-source boundary: record what failed, go on
            log.exception("check of source %d (%s) failed", source.id, source.url)
            return _Probed(source, self.clock(), error=f"{type(exc).__name__}: {exc}")

    def _classify(
        self,
        result: ProbeResult,
        baseline: tuple[Baseline | None, dict[str, Any] | None],
        profile: NotFoundProfile | None,
    ) -> Verdict:
        """``baseline``: the main text of the first good snapshot, and its platform
        fields (a video's title, description, duration; a post's text)."""
        platform = None
        if result.html is not None or result.status is not None:
            platform = self.recognizer(
                result.url, result.final_url or result.url, result.status, result.html or ""
            )
        page, fields = baseline
        if result.platform is not None:
            return classify_platform(
                result, result.platform, fields, page, profile, platform, self.classify_policy
            )
        return classify(result, page, profile, platform, self.classify_policy)

    def _decide(self, item: _Probed, history: list[Seen], judgement: BatchJudgement) -> None:
        previous = item.source.state
        if item.verdict is None:
            item.decision = Decision(previous, previous, f"internal error: {item.error}")
            return
        signal = item.verdict.signal
        new = Seen(item.at, signal.implied_state, signal.reason, degraded=judgement.degraded)
        item.decision = decide(previous, history, new, self.policy)
        run = 0
        for seen in reversed([*history, new]):
            if seen.degraded or seen.implied_state is None:
                continue
            if seen.implied_state not in UNSEEN:
                break
            run += 1
        item.unseen_in_a_row = run

    async def _recapture(self, items: Sequence[_Probed], should_stop: Callable[[], bool]) -> None:
        if not items:
            return
        if self._capture_runner is not None:
            runner = self._capture_runner()
        else:
            from archiver.capture.runner import CaptureRunner

            runner = CaptureRunner(self.settings, self.db, clock=self.clock)
        runner.claims = self.claims  # this batch holds the sources: the capture shares it
        due = await asyncio.to_thread(runner.due_sources, source_ids=[p.source.id for p in items])
        outcomes = await runner.run(due, should_stop=should_stop)  # stopping: abandoned
        by_id = {o.source_id: o.snapshot_id for o in outcomes}
        for item in items:
            item.snapshot_id = by_id.get(item.source.id)


def _confirmed_altered(item: _Probed) -> bool:
    d = item.decision
    return d is not None and d.changed and d.state == "altered"


__all__ = ["CheckOutcome", "CheckRunner", "DueCheck", "RunReport"]
