"""What the result says of one target's drill: its report, its failures (the first stays the news) and
whether FC's async retry must follow it. The drill's steps are :mod:`.drills`'s; this keeps the record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ebs_failover.errors import CloudCallError, TransientFailure

from . import checks
from .explain import explain
from .records import Clock, TargetResult

__all__ = ["DrillReport", "disks_of", "gone", "message"]


class DrillReport:
    """The report of one target's drill (``fields``: drill id, status, disks, recovery point, clean-up,
    history), written on its result as the drill goes.

    A command a person must run (the clean-up's ``aliyun ebs Clear…Drill``) is in a field of its own,
    ``clear_command``, whole: a hint is shortened where it is shown (a chat message), a command never."""

    def __init__(self, result: TargetResult, region: str, clock: Clock) -> None:
        self.result, self.region, self.clock = result, region, clock
        self.fields: dict[str, Any] = {}
        #: Set when the drill must be followed by FC's async retry (the same ClientToken finds it).
        self.retry: TransientFailure | None = None

    @property
    def target_id(self) -> str:
        return self.result.target_id

    def passed(self, hint: str) -> None:
        self.result.outcome, self.result.hint = "drill_passed", hint

    def clear_failed(self, drill_id: str, entry: Mapping[str, Any], *, after_failure: bool) -> None:
        left = ", ".join(str(d.get("disk_id")) for d in disks_of(entry, self.target_id) if not gone(d))
        # The command before what EBS said (a message of any length), so that a hint shortened to fit a
        # message still ends after it.
        self.drill_failed(
            f"the clean-up failed: clear the drill disks with {self.clear_command(drill_id)} (or in the "
            f"console); {left or '?'} may still exist, pay-as-you-go (clear_failed: {message(entry)})",
            replace=not after_failure,
        )

    def note_recovery_point(self, entry: Mapping[str, Any]) -> None:
        point = entry.get("RecoverPoint")
        if isinstance(point, int) and point > 0:
            self.fields["recover_point"] = point
            self.fields["recover_point_age_seconds"] = max(int(self.clock.wall()) - point, 0)

    def note_history(self, drills: Sequence[Mapping[str, Any]], drill_id: str) -> None:
        """The last earlier drill of the target that EBS lists as executed, and how long ago it started."""
        passed = [
            int(d["StartAt"])
            for d in drills
            if d.get("DrillId") != drill_id
            and d.get("Status") == "executed"
            and isinstance(d.get("StartAt"), int)
        ]
        self.fields["last_passed_drill_at"] = max(passed) if passed else None
        if passed:
            self.fields["since_last_passed_drill_seconds"] = max(int(self.clock.wall()) - max(passed), 0)

    def drill_failed(self, hint: str, *, replace: bool = True) -> None:
        if replace or self.result.outcome != "drill_failed":
            self.result.outcome, self.result.hint = "drill_failed", hint
        else:
            self.result.hint = f"{self.result.hint}; {hint}"

    def out_of_time(
        self, drill_id: str, status: str | None, *, clearing: bool = False, after_failure: bool = False
    ) -> None:
        """The time ran out while EBS was still executing or clearing the drill: FC's retry follows it. After
        a failure (``after_failure``), that failure stays the news and this is added to it."""
        what = "clearing" if clearing else "executing"
        self.drill_failed(
            f"the drill {drill_id} was still {status or 'not listed'} when the time budget ran out "
            f"({what}); FC's async retry follows the same drill (same ClientToken)",
            replace=not after_failure,
        )
        self.retry_later(f"Drill{what.capitalize()}")

    def ended_unknown(self, drill_id: str, seen: str) -> None:
        """An earlier delivery's drill found being cleared or cleared, with no record of how its execution
        ended: never a pass (EBS's status no longer says; that delivery's own report does)."""
        self.drill_failed(
            f"an earlier delivery of this trigger ran drill {drill_id}, which EBS shows {seen}: how its "
            "execution ended is not known from here (the earlier delivery's report says); "
            f"`ebs-failover drills {self.target_id}` lists the target's drills"
        )

    def retry_later(self, code: str) -> None:
        """Ask for FC's async retry: the same ClientToken finds the same drill, and the retry follows it."""
        try:  # raised here, so that the log line's traceback shows where the drill gave up
            raise TransientFailure(self.target_id, code, self.result.attempts)
        except TransientFailure as failure:
            self.retry = failure

    def failed(self, error: CloudCallError, action: str, *, after_failure: bool = False) -> None:
        """A call of this drill failed. Once the drill is started, a transient failure is FC's to retry
        (the same ClientToken finds the same drill), and the hint names the drill and how to clear it."""
        drill_id = self.fields.get("drill_id")
        verdict = explain(error, action, checks.DRILL)
        outcome, hint = verdict.outcome, verdict.hint
        if drill_id is not None:
            # A started drill that could not be followed to its end: never a pass, and its disks may stay.
            outcome = "drill_failed"
            hint += f"; drill {drill_id} may still hold disks: clear them with {self.clear_command(drill_id)}"
            if error.transient:
                hint += " (FC's async retry follows the same drill)"
                self.retry_later(f"Drill{error.code or type(error).__name__}")
        if after_failure and self.result.outcome == "drill_failed":  # the first failure stays the news
            self.result.hint = f"{self.result.hint}; then {hint}"
        else:
            self.result.outcome, self.result.hint = outcome, hint
        self.result.error_code = self.result.error_code or error.code
        self.result.request_id = error.request_id or self.result.request_id

    def never_listed(self, drill_id: str, looks: int) -> None:
        """EBS answered the start with a DrillId it does not list: either an earlier delivery of this trigger
        ran and cleared it (EBS forgets cleared drills), whose report may have reached nobody, or EBS has not
        listed it yet. Nothing was seen: a person looks."""
        self.drill_failed(
            f"EBS answered this trigger's ClientToken with drill {drill_id} but did not list it in {looks} "
            "looks: an earlier delivery may have run and cleared it (look for its report), or EBS has not "
            f"listed it yet; `ebs-failover drills {self.target_id}` shows it if it is there, and "
            f"{self.clear_command(drill_id)} clears it"
        )

    def clear_command(self, drill_id: str) -> str:
        """The command that clears ``drill_id``; kept whole in the report's ``clear_command`` too."""
        command = (
            f"aliyun ebs {_clear_action(self.target_id)} --RegionId {self.region} "
            f"--{_id_field(self.target_id)} {self.target_id} --DrillId {drill_id}"
        )
        self.fields["clear_command"] = command
        return command


def disks_of(entry: Mapping[str, Any] | None, target_id: str) -> list[dict[str, Any]]:
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


def gone(disk: Mapping[str, Any]) -> bool:
    return disk.get("status") in ("deleting", "deleted")


def message(entry: Mapping[str, Any]) -> str:
    return str(entry.get("StatusMessage") or "no message")


def _id_field(target_id: str) -> str:
    return "GroupId" if target_id.startswith("pg-") else "PairId"


def _clear_action(target_id: str) -> str:
    return "ClearReplicaGroupDrill" if target_id.startswith("pg-") else "ClearPairDrill"
