"""Act, for a drill: prove that each target can fail over, without failing it over.

EBS's drill clones the secondary's latest recovery point onto new pay-as-you-go disks in the standby
zone, without stopping replication or touching the primary (StartPairDrill / StartReplicaGroupDrill).
Per target, side by side (at most ``FAILOVER_CONCURRENCY`` targets at once, every call paced like the
failover's):

1. **Preflight**: the failover's (:func:`.preflight.preflight`), and its checks
   (:data:`.checks.DRILL`): the standby region, a member pair, a fail-back, a recovery point; a drill
   also needs replication running: a target that is failing over or failed over is ``refused``.
2. **Start** the drill with the target's drill ClientToken (a redelivery gets the same DrillId back).
3. **Follow** it (Describe…Drills, on :func:`.verify.looks`' schedule) until ``executed`` or
   ``execute_failed``; then check that every drill disk is ``created``, and record the recovery point
   it restored, that point's age (what a real failover would lose now), the time to ``executed`` and
   the last earlier drill that passed.
4. **Clear** it (Clear…Drill) and follow the clearing until its disks are gone, unless the request
   says ``keep``: then the result says how to clear it later.

A target's drill ends ``drill_passed`` (executed, disks verified, cleared or kept) or ``drill_failed``
(``execute_failed``, a disk missing, ``clear_failed``, or not finished in time), else ``refused`` or
``failed`` as a failover would. A drill whose time ran out while EBS was still executing or clearing it
makes :attr:`Acted.retry` a :class:`TransientFailure`: FC's async retry (a timer invocation is async)
delivers the event again, the same ClientToken finds the same drill, and the retry follows it on.
A drill never calls Failover and never stops replication, in either mode.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ebs_failover import log
from ebs_failover.cloud import Budget, EbsClient, Pacer, retrying
from ebs_failover.errors import CloudCallError
from ebs_failover.policy import Target

from . import checks, verify
from .drill_report import DrillReport, disks_of, gone, message
from .explain import explain, note_failure
from .preflight import Describer, preflight
from .records import SYSTEM_CLOCK, Acted, Clock, Guards, TargetResult, Work

__all__ = ["drill"]

#: A drill is looked at again after these many seconds, the last one repeated (EBS's drills take minutes:
#: the Terraform provider gives one five).
_FOLLOW_WAITS = (0.5, 1.0, 2.0, 4.0, 5.0)
#: Looks in a row that do not list the drill a start answered before a person is asked to look.
_UNLISTED_LOOKS = 5
#: Drill statuses a follow stops at: the execution's end, or a clean-up an earlier delivery began.
_SETTLED = frozenset({"executed", "execute_failed", "clearing", "clear_failed"})
#: Seconds kept, at the end of the budget, for the clean-up's first call after a drill executed.
_CLEAR_RESERVE = 1.0


@dataclass(frozen=True, slots=True)
class _Step:
    """What one look saw of the drill: its entry in Describe…Drills (None: not listed)."""

    entry: Mapping[str, Any] | None
    at: float


def drill(
    client: EbsClient,
    targets: Sequence[Target],
    region: str,
    budget: Budget,
    *,
    keep: bool,
    concurrency: int,
    calls_per_second: float,
    zone: str | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Acted:
    """A drill of every target (see the module's docstring); a result per target, in the order given.
    ``zone``: FAILOVER_ZONE, the standby zone (needed where both sites share a region)."""
    pacer = Pacer(calls_per_second, concurrency)
    # The failover's guards as an operator's: a drill changes nothing in production, whatever the mode.
    guards = Guards(
        region=region, live=False, verify_seconds=0.0, max_data_loss=None, by_operator=True, zone=zone
    )
    started = time.perf_counter()
    works = [Work(t, guards, TargetResult(t.target_id, t.client_token, "failed"), started) for t in targets]
    preflight(Describer(client, budget, pacer), works, clock.wall)
    runs = [_Run(client, work, budget, pacer, keep, clock) for work in works]
    ready = [run for run in runs if run.ready()]
    if ready:
        context = contextvars.copy_context()
        with ThreadPoolExecutor(min(len(ready), concurrency), thread_name_prefix="ebs-drill") as pool:
            list(pool.map(lambda run: context.copy().run(run.run_safely), ready))
    for run in runs:
        run.finish()
    retry = next((run.news.retry for run in runs if run.news.retry is not None), None)
    return Acted([run.result for run in runs], retry)


class _Run:
    """One target's drill: preflight checks, start, follow, verify, clear."""

    def __init__(
        self, client: EbsClient, work: Work, budget: Budget, pacer: Pacer, keep: bool, clock: Clock
    ) -> None:
        self.client, self.work, self.budget, self.pacer = client, work, budget, pacer
        self.keep, self.clock = keep, clock
        self.result: TargetResult = work.result
        self.news = DrillReport(work.result, work.guards.region, clock)
        #: The status EBS listed the drill with when its clearing ended (None: no longer listed).
        self._cleared_status: str | None = None

    @property
    def target_id(self) -> str:
        return self.result.target_id

    def ready(self) -> bool:
        """Whether the preflight saw the target fit for a drill; otherwise the result says why not."""
        work = self.work
        if work.failure is not None:  # the preflight's Describe failed
            # The failover's preflight, so the failover's explanation (a drill is its rehearsal).
            explained = explain(work.failure, work.failure.action or _describe(work), checks.FAILOVER)
            if work.failure.transient:
                explained = checks.Verdict(
                    explained.outcome, f"{explained.hint}: the rehearsal is incomplete"
                )
            note_failure(self.result, work.failure, explained)
            return False
        if work.seen is None:  # the preflight set the outcome (not visible, not a backup here)
            return False
        subject = checks.Subject(work.target, work.seen, work.guards, self.result.data_loss_seconds)
        verdict = checks.check(checks.DRILL, subject)
        if verdict is not None:
            self.result.outcome, self.result.hint = verdict.outcome, verdict.hint
            return False
        return True

    def finish(self) -> None:
        if self.news.fields:
            self.result.drill = self.news.fields
        self.work.finish()

    def run_safely(self) -> None:
        """:meth:`run`; a bug in one target's drill must not lose the others'."""
        try:
            self.run()
        except Exception as error:
            log.LOGGER.error("unexpected_error", exc_info=error, target_id=self.target_id)
            self.result.outcome, self.result.error_code = "failed", type(error).__name__

    def run(self) -> None:
        drill_id = self._call("Start", self.client.start_drill, self.target_id, self.result.client_token)
        if drill_id is None:
            return
        started = self.clock.monotonic()
        self.news.fields.update(drill_id=drill_id, kept=False)
        followed = self._follow(drill_id, until=_SETTLED)
        if followed is None:
            return
        drills, step = followed
        assert step.entry is not None
        status = str(step.entry.get("Status"))
        self.news.fields["status"] = status
        self.news.note_history(drills, drill_id)
        disks = disks_of(step.entry, self.target_id)
        self.news.fields["disks"] = disks
        if status == "execute_failed":
            self.news.drill_failed(f"EBS ended the drill execute_failed: {message(step.entry)}")
            self._clear(drill_id, after_failure=True)
            return
        if status in ("clearing", "clear_failed") or (disks and all(gone(d) for d in disks)):
            # A retry (or a duplicate) of a delivery that got this far: its clean-up, as EBS shows it.
            self.news.note_recovery_point(step.entry)
            self._earlier_clean_up(drill_id, step.entry, status)
            return
        self.news.fields["seconds_to_executed"] = round(step.at - started, 1)
        self.news.note_recovery_point(step.entry)
        missing = [d for d in disks if d.get("status") != "created"]
        if not disks or missing:
            shown = ", ".join(f"{d.get('disk_id')} {d.get('status')}" for d in missing) or "none listed"
            self.news.drill_failed(f"the drill executed, but its disks are not all created ({shown})")
            self._clear(drill_id, after_failure=True)
            return
        if self.keep:
            self.news.fields.update(cleared=False, kept=True)
            self.news.passed(
                "keep: the drill disks stay (pay-as-you-go) for you to attach and look at; clear them with "
                + self.news.clear_command(drill_id)
            )
            return
        if self._clear(drill_id, after_failure=False):
            self.news.passed("the drill restored the recovery point on new disks, which were then deleted")

    def _earlier_clean_up(self, drill_id: str, entry: Mapping[str, Any], status: str) -> None:
        """The drill as an earlier delivery of this trigger left it: ``clear_failed``; cleared, with EBS still
        listing how its execution ended (``executed`` or ``execute_failed``, its disks deleted); or being
        cleared (followed to its end). A drill EBS shows ``clearing`` or no longer lists is never evidence
        that it passed: ``clearing`` says nothing of the execution."""
        if status == "clear_failed":
            self.news.fields["cleared"] = False
            self.news.clear_failed(drill_id, entry, after_failure=False)
            return
        disks = disks_of(entry, self.target_id)
        if status == "clearing" or any(d.get("status") != "deleted" for d in disks):
            if not self._follow_clearing(drill_id, after_failure=False):
                return
            status = self._cleared_status or "cleared and no longer listed"
        else:
            self.news.fields["cleared"] = True
        self.news.fields["status"] = status
        if status == "executed":
            self.news.passed(
                f"an earlier delivery of this trigger ran drill {drill_id}, which EBS lists executed, and "
                "cleared it: this delivery saw its disks deleted"
            )
        elif status == "execute_failed":
            self.news.drill_failed(
                f"an earlier delivery of this trigger ran drill {drill_id}, which EBS lists execute_failed "
                f"({message(entry)}), and cleared it"
            )
        else:
            self.news.ended_unknown(drill_id, status)

    # -- steps -------------------------------------------------------------------------------------------

    def _call(
        self, verb: str, function: Callable[..., str], *args: str, after_failure: bool = False
    ) -> str | None:
        """One Start/Clear call with its retries; None (the result says why) when it failed."""
        action = f"{verb}{'ReplicaGroupDrill' if self.result.is_group else 'PairDrill'}"
        try:
            return retrying(self.budget, self.result, function, *args, self.budget, self.pacer)
        except CloudCallError as error:
            self.news.failed(error, action, after_failure=after_failure)
            return None

    def _look(
        self, drill_id: str, *, after_failure: bool = False
    ) -> tuple[list[dict[str, Any]], _Step] | None:
        """Every drill of the target as EBS lists them, and this drill's entry; None when the look failed."""
        try:
            drills = retrying(
                self.budget, self.result, self.client.describe_drills, self.target_id, self.budget, self.pacer
            )
        except CloudCallError as error:
            self.news.failed(error, _describe_action(self.target_id), after_failure=after_failure)
            return None
        mine = next((d for d in drills if d.get("DrillId") == drill_id), None)
        return drills, _Step(mine, self.clock.monotonic())

    def _follow(self, drill_id: str, *, until: frozenset[str]) -> tuple[list[dict[str, Any]], _Step] | None:
        """Look until the drill's status is one of ``until``: the last look (every drill of the target, and
        this one's entry); None (the result says why) otherwise."""
        unlisted, status = 0, None
        for _ in verify.looks(_FOLLOW_WAITS, self.budget, self.clock, reserve=_CLEAR_RESERVE):
            looked = self._look(drill_id)
            if looked is None:
                return None
            _, step = looked
            status = str(step.entry.get("Status")) if step.entry is not None else None
            if status in until:
                return looked
            unlisted = unlisted + 1 if step.entry is None else 0
            if unlisted >= _UNLISTED_LOOKS:
                self.news.never_listed(drill_id, unlisted)
                return None
        self.news.out_of_time(drill_id, status)
        return None

    def _clear(self, drill_id: str, *, after_failure: bool) -> bool:
        """Clear the drill and follow the clearing to its end: whether its disks were seen gone."""
        cleared = self._call(
            "Clear", self.client.clear_drill, self.target_id, drill_id, after_failure=after_failure
        )
        if cleared is None:
            self.news.fields["cleared"] = False
            return False
        return self._follow_clearing(drill_id, after_failure=after_failure)

    def _follow_clearing(self, drill_id: str, *, after_failure: bool) -> bool:
        """Follow a clearing to its end: whether the drill's disks were seen gone (else the result says
        why)."""
        status = None
        for _ in verify.looks(_FOLLOW_WAITS, self.budget, self.clock):
            looked = self._look(drill_id, after_failure=after_failure)
            if looked is None:
                self.news.fields["cleared"] = False
                return False
            _, step = looked
            entry = step.entry
            status = str(entry.get("Status")) if entry is not None else None
            disks = disks_of(entry, self.target_id)
            if entry is None or (status != "clearing" and all(d.get("status") == "deleted" for d in disks)):
                self.news.fields["cleared"] = True
                self._cleared_status = status
                return True
            if status == "clear_failed":
                self.news.fields["cleared"] = False
                self.news.clear_failed(drill_id, entry, after_failure=after_failure)
                return False
        self.news.fields["cleared"] = False
        self.news.out_of_time(drill_id, status, clearing=True, after_failure=after_failure)
        return False


def _describe_action(target_id: str) -> str:
    return "DescribeReplicaGroupDrills" if target_id.startswith("pg-") else "DescribePairDrills"


def _describe(work: Work) -> str:
    return "DescribeDiskReplicaGroups" if work.target.is_group else "DescribeDiskReplicaPairs"
