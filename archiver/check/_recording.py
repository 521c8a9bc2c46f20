"""Recording a checked batch: observations, check results, transitions with the
observations that justified them, next check times, one custody event per check, and
notifications, in one transaction (step 5 of :mod:`archiver.check.runner`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from archiver.check import _store
from archiver.check.classify import Baseline, NotFoundProfile, ProbeResult, Verdict
from archiver.check.machine import Decision
from archiver.check.notify import enqueue
from archiver.check.outage import BatchJudgement
from archiver.check.results import CheckOutcome, change_event
from archiver.config import Settings
from archiver.integrity import custody
from archiver.models import CheckResult, CheckRun, Observation, Source, StateTransition
from archiver.schedule.intervals import base_interval, next_check_at
from archiver.store.db import Database

# A degraded batch is tried again soon: our network, not the sources, decides when.
_DEGRADED_RETRY = timedelta(minutes=15)


@dataclass
class Probed:
    source: _store.DueCheck
    at: datetime
    result: ProbeResult | None = None
    verdict: Verdict | None = None
    error: str | None = None
    decision: Decision | None = None
    unseen_in_a_row: int = 0
    snapshot_id: str | None = None


class BatchRecorder:
    """Writes what a batch found; the runner decides, this records."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        clock: Callable[[], datetime],
        random: Callable[[], float],
        actor: str,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.random = random
        self.actor = actor

    def _next_check(self, item: Probed, row: Source, now: datetime, degraded: bool) -> datetime:
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

    def record(
        self,
        run_id: int,
        probed: Sequence[Probed],
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
            observations: list[tuple[Probed, Observation]] = []
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

    def _observation(self, item: Probed, state: str) -> Observation:
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
        item: Probed,
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
