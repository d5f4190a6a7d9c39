"""Act, for a drill: prove that each target can fail over, without failing it over.

EBS's drill clones the secondary's latest recovery point onto new pay-as-you-go disks in the standby
zone, without stopping replication or touching the primary (StartPairDrill / StartReplicaGroupDrill).
Per target, side by side (at most ``FAILOVER_CONCURRENCY`` targets at once, every call paced like the
failover's):

1. **Preflight**: the failover's (:func:`ebs_failover.ebs.preflight`), and its checks
   (:func:`ebs_failover.ebs.unready`): the standby region, a member pair, a fail-back, a recovery point;
   a drill also needs the target ``normal`` (replicating): one that is failing over or failed over is
   ``refused``.
2. **Start** the drill with the target's drill ClientToken (a redelivery gets the same DrillId back).
3. **Follow** it (Describe…Drills, backing off) until ``executed`` or ``execute_failed``; then check that
   every drill disk is ``created``, and record the recovery point it restored, that point's age (what a
   real failover would lose now), the time to ``executed`` and the last earlier drill that passed.
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

from . import log
from .ebs import HINTS, Acted, Budget, EbsClient, Looked, TargetResult, preflight, unready
from .errors import EbsError, TransientFailure
from .pacing import Pacer
from .policy import Target
from .sdk import retrying

__all__ = ["drill"]

#: A drill is looked at again after these many seconds, the last one repeated (EBS's drills take minutes:
#: the Terraform provider gives one five).
_FOLLOW_WAITS = (0.5, 1.0, 2.0, 4.0, 5.0)
#: Statuses a target is drilled in: replicating, so the secondary holds a recovery point.
_DRILLABLE = frozenset({"normal", "syncing"})
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
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Acted:
    """A drill of every target (see the module's docstring); a result per target, in the order given."""
    pacer = Pacer(calls_per_second, concurrency)
    looked = preflight(client, targets, region, budget, pacer, now=now)
    runs = [_Run(client, look, region, budget, pacer, keep, now, sleep) for look in looked]
    ready = [run for run in runs if run.ready()]
    if ready:
        context = contextvars.copy_context()
        with ThreadPoolExecutor(min(len(ready), concurrency), thread_name_prefix="ebs-drill") as pool:
            list(pool.map(lambda run: context.copy().run(run.run_safely), ready))
    for run in runs:
        run.finish()
    retry = next((run.retry for run in runs if run.retry is not None), None)
    return Acted([run.result for run in runs], retry)


class _Run:
    """One target's drill: preflight checks, start, follow, verify, clear."""

    def __init__(
        self,
        client: EbsClient,
        look: Looked,
        region: str,
        budget: Budget,
        pacer: Pacer,
        keep: bool,
        now: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.client, self.look, self.region, self.budget, self.pacer = client, look, region, budget, pacer
        self.keep, self.now, self.sleep = keep, now, sleep
        self.result: TargetResult = look.result
        self.retry: TransientFailure | None = None
        self.report: dict[str, Any] = {}

    @property
    def target_id(self) -> str:
        return self.result.target_id

    def ready(self) -> bool:
        """Whether the preflight saw the target fit for a drill; otherwise the result says why not."""
        seen = self.look.seen
        if seen is None:  # the preflight set the outcome (not visible, a Describe that failed)
            return False
        why = unready(seen, self.result, self.region, "drill")
        if why is None and seen.status not in _DRILLABLE:
            why = f"a drill needs replication running (normal or syncing); the {self._noun} is {seen.status}"
        if why is not None:
            self.result.outcome, self.result.hint = "refused", why
            return False
        return True

    def finish(self) -> None:
        if self.report:
            self.result.drill = self.report
        self.result.duration_ms = round((time.perf_counter() - self.look.started) * 1000, 1)

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
        started = time.monotonic()
        self.report.update(drill_id=drill_id, kept=False)
        followed = self._follow(drill_id, until=_SETTLED)
        if followed is None:
            return
        drills, step = followed
        assert step.entry is not None
        status = str(step.entry.get("Status"))
        self.report["status"] = status
        self._note_history(drills, drill_id)
        disks = _disks(step.entry, self.target_id)
        self.report["disks"] = disks
        if status == "execute_failed":
            self._drill_failed(f"EBS ended the drill execute_failed: {_message(step.entry)}")
            self._clear(drill_id, after_failure=True)
            return
        if status in ("clearing", "clear_failed") or (disks and all(_gone(d) for d in disks)):
            # A retry (or a duplicate) of a delivery that got this far: its clean-up, as EBS shows it.
            self._note_recovery_point(step.entry)
            self._earlier_clean_up(drill_id, step.entry, status)
            return
        self.report["seconds_to_executed"] = round(step.at - started, 1)
        self._note_recovery_point(step.entry)
        missing = [d for d in disks if d.get("status") != "created"]
        if not disks or missing:
            shown = ", ".join(f"{d.get('disk_id')} {d.get('status')}" for d in missing) or "none listed"
            self._drill_failed(f"the drill executed, but its disks are not all created ({shown})")
            self._clear(drill_id, after_failure=True)
            return
        if self.keep:
            self.result.outcome = "drill_passed"
            self.report.update(cleared=False, kept=True)
            self.result.hint = (
                "keep: the drill disks stay (pay-as-you-go) for you to attach and look at; clear them with "
                + self._clear_command(drill_id)
            )
            return
        if self._clear(drill_id, after_failure=False):
            self.result.outcome = "drill_passed"
            self.result.hint = "the drill restored the recovery point on new disks, which were then deleted"

    def _earlier_clean_up(self, drill_id: str, entry: Mapping[str, Any], status: str) -> None:
        """The drill as an earlier delivery of this trigger left it: cleared (EBS lists it executed, its
        disks deleted), being cleared (followed to its end), or ``clear_failed``."""
        if status == "clear_failed":
            self.report["cleared"] = False
            self._clear_failed(drill_id, entry, after_failure=False)
            return
        disks = _disks(entry, self.target_id)
        if status == "clearing" or any(d.get("status") != "deleted" for d in disks):
            if not self._follow_clearing(drill_id, after_failure=False):
                return
        else:
            self.report["cleared"] = True
        self.result.outcome = "drill_passed"
        self.result.hint = (
            f"an earlier delivery of this trigger ran drill {drill_id}, which EBS lists executed, and "
            "cleared it: this delivery saw its disks deleted"
        )

    # -- steps -------------------------------------------------------------------------------------------

    def _call(
        self, verb: str, function: Callable[..., str], *args: str, after_failure: bool = False
    ) -> str | None:
        """One Start/Clear call with its retries; None (the result says why) when it failed."""
        action = f"{verb}{'ReplicaGroupDrill' if self.result.is_group else 'PairDrill'}"
        try:
            return retrying(self.budget, self.result, function, *args, self.budget, self.pacer)
        except EbsError as error:
            self._failed(error, action, after_failure=after_failure)
            return None

    def _look(
        self, drill_id: str, *, after_failure: bool = False
    ) -> tuple[list[dict[str, Any]], _Step] | None:
        """Every drill of the target as EBS lists them, and this drill's entry; None when the look failed."""
        try:
            drills = retrying(
                self.budget, self.result, self.client.describe_drills, self.target_id, self.budget, self.pacer
            )
        except EbsError as error:
            self._failed(error, _describe_action(self.target_id), after_failure=after_failure)
            return None
        mine = next((d for d in drills if d.get("DrillId") == drill_id), None)
        return drills, _Step(mine, time.monotonic())

    def _follow(self, drill_id: str, *, until: frozenset[str]) -> tuple[list[dict[str, Any]], _Step] | None:
        """Look until the drill's status is one of ``until``: the last look (every drill of the target, and
        this one's entry); None (the result says why) otherwise."""
        waits = iter(_FOLLOW_WAITS)
        unlisted = 0
        while True:
            looked = self._look(drill_id)
            if looked is None:
                return None
            _, step = looked
            status = str(step.entry.get("Status")) if step.entry is not None else None
            if status in until:
                return looked
            unlisted = unlisted + 1 if step.entry is None else 0
            if unlisted >= _UNLISTED_LOOKS:
                self._never_listed(drill_id, unlisted)
                return None
            pause = next(waits, _FOLLOW_WAITS[-1])
            if self.budget.remaining() <= pause + _CLEAR_RESERVE:
                self._out_of_time(drill_id, status)
                return None
            self.sleep(pause)

    def _clear(self, drill_id: str, *, after_failure: bool) -> bool:
        """Clear the drill and follow the clearing to its end: whether its disks were seen gone."""
        cleared = self._call(
            "Clear", self.client.clear_drill, self.target_id, drill_id, after_failure=after_failure
        )
        if cleared is None:
            self.report["cleared"] = False
            return False
        return self._follow_clearing(drill_id, after_failure=after_failure)

    def _follow_clearing(self, drill_id: str, *, after_failure: bool) -> bool:
        """Follow a clearing to its end: whether the drill's disks were seen gone (else the result says
        why)."""
        waits = iter(_FOLLOW_WAITS)
        while True:
            looked = self._look(drill_id, after_failure=after_failure)
            if looked is None:
                self.report["cleared"] = False
                return False
            _, step = looked
            entry = step.entry
            status = str(entry.get("Status")) if entry is not None else None
            disks = _disks(entry, self.target_id)
            if entry is None or (status != "clearing" and all(d.get("status") == "deleted" for d in disks)):
                self.report["cleared"] = True
                return True
            if status == "clear_failed":
                self.report["cleared"] = False
                self._clear_failed(drill_id, entry, after_failure=after_failure)
                return False
            pause = next(waits, _FOLLOW_WAITS[-1])
            if self.budget.remaining() <= pause:
                self.report["cleared"] = False
                self._out_of_time(drill_id, status, clearing=True)
                return False
            self.sleep(pause)

    def _clear_failed(self, drill_id: str, entry: Mapping[str, Any], *, after_failure: bool) -> None:
        left = ", ".join(str(d.get("disk_id")) for d in _disks(entry, self.target_id) if not _gone(d))
        self._drill_failed(
            f"the clean-up failed (clear_failed: {_message(entry)}): the drill disks {left or '?'} "
            "may still exist, pay-as-you-go; clear them in the console or with "
            + self._clear_command(drill_id),
            replace=not after_failure,
        )

    # -- what the report says ----------------------------------------------------------------------------

    def _note_recovery_point(self, entry: Mapping[str, Any]) -> None:
        point = entry.get("RecoverPoint")
        if isinstance(point, int) and point > 0:
            self.report["recover_point"] = point
            self.report["recover_point_age_seconds"] = max(int(self.now()) - point, 0)

    def _note_history(self, drills: Sequence[Mapping[str, Any]], drill_id: str) -> None:
        """The last earlier drill of the target that EBS lists as executed, and how long ago it started."""
        passed = [
            int(d["StartAt"])
            for d in drills
            if d.get("DrillId") != drill_id
            and d.get("Status") == "executed"
            and isinstance(d.get("StartAt"), int)
        ]
        self.report["last_passed_drill_at"] = max(passed) if passed else None
        if passed:
            self.report["since_last_passed_drill_seconds"] = max(int(self.now()) - max(passed), 0)

    def _drill_failed(self, hint: str, *, replace: bool = True) -> None:
        if replace or self.result.outcome != "drill_failed":
            self.result.outcome, self.result.hint = "drill_failed", hint
        else:
            self.result.hint = f"{self.result.hint}; {hint}"

    def _out_of_time(self, drill_id: str, status: str | None, *, clearing: bool = False) -> None:
        what = "clearing" if clearing else "executing"
        self._drill_failed(
            f"the drill {drill_id} was still {status or 'not listed'} when the time budget ran out "
            f"({what}); FC's async retry follows the same drill (same ClientToken)"
        )
        self._retry_later(f"Drill{what.capitalize()}")

    def _retry_later(self, code: str) -> None:
        """Ask for FC's async retry: the same ClientToken finds the same drill, and the retry follows it."""
        try:  # raised here, so that the log line's traceback shows where the drill gave up
            raise TransientFailure(self.target_id, code, self.result.attempts)
        except TransientFailure as failure:
            self.retry = failure

    def _failed(self, error: EbsError, action: str, *, after_failure: bool = False) -> None:
        """A call of this drill failed. Once the drill is started, a transient failure is FC's to retry
        (the same ClientToken finds the same drill), and the hint names the drill and how to clear it."""
        drill_id = self.report.get("drill_id")
        outcome, hint = HINTS.get(error.code, ("failed", f"EBS answered {error.code}: {error.message}"))
        if error.code.startswith("OperationDenied"):
            outcome, hint = "refused", f"EBS refused {action} ({error.code}): check the target in the console"
        elif error.code in HINTS:
            hint = hint.format(action=action)
        if error.transient:
            hint = f"EBS could not be reached ({error.code}) for {action}"
        if drill_id is not None:
            # A started drill that could not be followed to its end: never a pass, and its disks may stay.
            outcome = "drill_failed"
            hint += (
                f"; drill {drill_id} may still hold disks: clear them with {self._clear_command(drill_id)}"
            )
            if error.transient:
                hint += " (FC's async retry follows the same drill)"
                self._retry_later(f"Drill{error.code}")
        if after_failure and self.result.outcome == "drill_failed":  # the first failure stays the news
            self.result.hint = f"{self.result.hint}; then {hint}"
        else:
            self.result.outcome, self.result.hint = outcome, hint
        self.result.error_code = self.result.error_code or error.code
        self.result.request_id = error.request_id or self.result.request_id

    def _never_listed(self, drill_id: str, looks: int) -> None:
        """EBS answered the start with a DrillId it does not list: either an earlier delivery of this trigger
        ran and cleared it (EBS forgets cleared drills), whose report may have reached nobody, or EBS has not
        listed it yet. Nothing was seen: a person looks."""
        self._drill_failed(
            f"EBS answered this trigger's ClientToken with drill {drill_id} but did not list it in {looks} "
            "looks: an earlier delivery may have run and cleared it (look for its report), or EBS has not "
            f"listed it yet; `ebs-failover drills {self.target_id}` shows it if it is there, and "
            f"{self._clear_command(drill_id)} clears it"
        )

    def _clear_command(self, drill_id: str) -> str:
        return (
            f"aliyun ebs {_clear_action(self.target_id)} --RegionId {self.region} "
            f"--{_id_field(self.target_id)} {self.target_id} --DrillId {drill_id}"
        )

    @property
    def _noun(self) -> str:
        return "group" if self.result.is_group else "pair"


def _disks(entry: Mapping[str, Any] | None, target_id: str) -> list[dict[str, Any]]:
    """A drill's disks: a pair drill's one, a group drill's one per pair (``PairsInfo``)."""
    if entry is None:
        return []
    if target_id.startswith("pg-"):
        return [
            {"pair_id": p.get("PairId"), "disk_id": p.get("DrillDiskId"), "status": p.get("DrillDiskStatus")}
            for p in entry.get("PairsInfo") or ()
            if isinstance(p, dict)
        ]
    return [
        {"pair_id": target_id, "disk_id": entry.get("DrillDiskId"), "status": entry.get("DrillDiskStatus")}
    ]


def _gone(disk: Mapping[str, Any]) -> bool:
    return disk.get("status") in ("deleting", "deleted")


def _message(entry: Mapping[str, Any]) -> str:
    return str(entry.get("StatusMessage") or "no message")


def _id_field(target_id: str) -> str:
    return "GroupId" if target_id.startswith("pg-") else "PairId"


def _clear_action(target_id: str) -> str:
    return "ClearReplicaGroupDrill" if target_id.startswith("pg-") else "ClearPairDrill"


def _describe_action(target_id: str) -> str:
    return "DescribeReplicaGroupDrills" if target_id.startswith("pg-") else "DescribePairDrills"
