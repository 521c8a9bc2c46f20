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
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from archiver.bounded import Stopped, unless_stopped
from archiver.capture.http import Fetcher
from archiver.check import _store
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
from archiver.check.notify import enqueue
from archiver.check.outage import BatchJudgement, OutagePolicy, judge_batch
from archiver.check.platform_probes import default_platform_probes
from archiver.check.probe import HttpProbe, Probe
from archiver.check.results import CheckOutcome, RunReport, change_event, default_recognizer
from archiver.config import Settings
from archiver.integrity import custody
from archiver.models import CheckResult, CheckRun, Observation, Source, StateTransition

if TYPE_CHECKING:
    from archiver.capture.runner import CaptureRunner
from archiver.schedule.intervals import base_interval, next_check_at
from archiver.store.db import Database
from archiver.store.leases import Claims, claimable, held_elsewhere

log = logging.getLogger(__name__)

DueCheck = _store.DueCheck
# A degraded batch is tried again soon: our network, not the sources, decides when.
_DEGRADED_RETRY = timedelta(minutes=15)


@dataclass
class _Probed:
    source: DueCheck
    at: datetime
    result: ProbeResult | None = None
    verdict: Verdict | None = None
    error: str | None = None
    decision: Decision | None = None
    unseen_in_a_row: int = 0
    snapshot_id: str | None = None


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
        if judgement.degraded:
            log.error("check run %d degraded, no state changed: %s", run_id, judgement.reason)
        for item in probed:
            self._decide(item, history.get(item.source.id, []), judgement)
        if not judgement.degraded and self.settings.check.recapture_altered:
            await self._recapture([p for p in probed if _confirmed_altered(p)], should_stop)
        outcomes = await asyncio.to_thread(
            self._record, run_id, probed, judgement, list(new_profiles.values()), baselines
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
            baselines = _store.load_baselines(session, self.settings.storage.root, ids, now)
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

    # -- recording -----------------------------------------------------------------------

    def _next_check(self, item: _Probed, row: Source, now: datetime, degraded: bool) -> datetime:
        check = self.settings.check
        if degraded or item.decision is None:
            return now + _DEGRADED_RETRY * (1 + check.jitter * self.random())
        table = check.interval_table()
        if item.verdict is None:  # internal error: retry at the first interval
            return now + timedelta(seconds=base_interval(0, table))
        return next_check_at(
            now=now,
            first_seen=row.first_seen_at,
            state=item.decision.state,
            unseen_in_a_row=item.unseen_in_a_row,
            confirm_at=item.decision.confirm_at,
            table=table,
            max_backoff=check.max_backoff,
            jitter=check.jitter,
            random=self.random(),
        )

    def _record(
        self,
        run_id: int,
        probed: Sequence[_Probed],
        judgement: BatchJudgement,
        new_profiles: Sequence[NotFoundProfile],
        baselines: dict[int, Baseline],
    ) -> list[CheckOutcome]:
        now = self.clock()
        outcomes: list[CheckOutcome] = []
        notify = self.settings.notify
        with self.db.session() as session:
            _store.save_profiles(session, new_profiles, now)
            ids = [p.source.id for p in probed]
            rows = {r.id: r for r in session.scalars(select(Source).where(Source.id.in_(ids)))}
            observations: list[tuple[_Probed, Observation]] = []
            for item in probed:
                if item.source.id in rows:
                    observation = self._observation(item, rows[item.source.id].state)
                    session.add(observation)
                    observations.append((item, observation))
            session.flush()
            implied_counts: Counter[str] = Counter()
            custody_details: list[tuple[int, dict[str, Any]]] = []
            for item, observation in observations:
                row = rows[item.source.id]
                outcome, details = self._apply(
                    session, run_id, item, observation, row, judgement, baselines, now
                )
                custody_details.append((row.id, details))
                implied_counts[outcome.implied_state or "none"] += 1
                outcomes.append(outcome)
                if outcome.changed:
                    event = change_event(outcome, row.platform, item.verdict)
                    enqueue(session, notify, "state_change", event, now)
            # Everything else first, in one flush: each custody append then writes only
            # its own entry (an append flushes, and would flush all pending rows).
            session.flush()
            for source_id, details in custody_details:
                custody.append(
                    session,
                    at=now,
                    actor=self.actor,
                    action="check",
                    subject_type="source",
                    subject_id=str(source_id),
                    details=details,
                )
            run = session.get(CheckRun, run_id)
            assert run is not None
            run.finished_at = now
            # Taken for abandoned by another process meanwhile (it was not): it finished.
            run.abandoned_reason = None
            run.checked = len(outcomes)
            run.changed = sum(1 for o in outcomes if o.changed)
            run.degraded = judgement.degraded
            run.degraded_reason = judgement.reason if judgement.degraded else None
            run.summary = {
                "by_implied_state": dict(implied_counts),
                "network_failures": judgement.failed,
                # What our network was judged by: canaries (and resolver) or a guess.
                "controls": judgement.controls,
            }
            if judgement.degraded:
                enqueue(
                    session,
                    notify,
                    "degraded_run",
                    {"run_id": run_id, "reason": judgement.reason, "checked": len(outcomes)},
                    now,
                )
        return outcomes

    def _observation(self, item: _Probed, state: str) -> Observation:
        result = item.result
        signal = item.verdict.signal if item.verdict is not None else None
        decision = item.decision
        return Observation(
            source_id=item.source.id,
            observed_at=item.at,
            via="check",
            snapshot_id=None,
            http_status=None if result is None else result.status,
            final_url=None if result is None else result.final_url,
            failure_kind=(
                "internal"
                if result is None
                else (None if result.failure is None else str(result.failure))
            ),
            implied_state=(signal.implied_state if signal is not None else None) or _store.SILENT,
            resulting_state=decision.state if decision is not None else state,
            reason=(signal.reason if signal is not None else f"internal error: {item.error}"),
        )

    def _apply(
        self,
        session: Any,
        run_id: int,
        item: _Probed,
        observation: Observation,
        row: Source,
        judgement: BatchJudgement,
        baselines: dict[int, Baseline],
        now: datetime,
    ) -> tuple[CheckOutcome, dict[str, Any]]:
        decision = item.decision
        assert decision is not None
        verdict = item.verdict
        baseline = baselines.get(item.source.id)
        previous = row.state
        session.add(
            CheckResult(
                observation_id=observation.id,
                run_id=run_id,
                source_id=row.id,
                degraded=judgement.degraded,
                baseline_snapshot_id=None if baseline is None else baseline.snapshot_id,
                similarity=None if verdict is None else verdict.similarity,
                text_sha256=None if verdict is None else verdict.text_sha256,
                diff=[] if verdict is None else list(verdict.diff),
                pending_state=decision.pending,
                confirm_at=decision.confirm_at,
                details={} if verdict is None else dict(verdict.details),
            )
        )
        if decision.state != previous:
            evidence = [s.observation_id for s in decision.evidence if s.observation_id is not None]
            session.add(
                StateTransition(
                    source_id=row.id,
                    at=now,
                    from_state=previous,
                    to_state=decision.state,
                    reason=decision.reason,
                    observation_ids=[*evidence, observation.id],
                    run_id=run_id,
                    snapshot_id=item.snapshot_id,
                )
            )
            row.state = decision.state
            row.state_since = now
        if not judgement.degraded:
            row.last_checked_at = now
        row.next_check_at = self._next_check(item, row, now, judgement.degraded)
        result = item.result
        details = {
            "run_id": run_id,
            "observation_id": observation.id,
            "url": row.url,
            "http_status": None if result is None else result.status,
            "final_url": None if result is None else result.final_url,
            "failure": observation.failure_kind,
            "implied_state": observation.implied_state,
            "state_before": previous,
            "state_after": decision.state,
            "similarity": None if verdict is None else verdict.similarity,
            "degraded": judgement.degraded,
            "snapshot_id": item.snapshot_id,
        }
        outcome = CheckOutcome(
            source_id=row.id,
            url=row.url,
            state_before=previous,
            state_after=decision.state,
            implied_state=None if verdict is None else verdict.signal.implied_state,
            reason=decision.reason,
            http_status=None if result is None else result.status,
            failure=observation.failure_kind,
            similarity=None if verdict is None else verdict.similarity,
            pending=decision.pending,
            degraded=judgement.degraded,
            snapshot_id=item.snapshot_id,
            error=item.error,
        )
        return outcome, details


def _confirmed_altered(item: _Probed) -> bool:
    d = item.decision
    return d is not None and d.changed and d.state == "altered"


__all__ = ["CheckOutcome", "CheckRunner", "DueCheck", "RunReport"]
