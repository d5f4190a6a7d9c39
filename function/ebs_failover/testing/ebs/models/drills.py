"""Disaster-recovery drills: StartPairDrill, StartReplicaGroupDrill, their Describe and Clear.

A drill clones the secondary's latest recovery point onto a new pay-as-you-go
disk in the secondary's zone "to ensure the continued replication" (the
StartPairDrill and StartReplicaGroupDrill API pages): the pair or group keeps
its status, the primary is not touched. This module holds one account's drills
(:class:`DrillsMixin`, a part of ``EbsBackend``); the test-facing controls shared by
every account are :class:`~.controls.Drills` (``FakeEbs.drills``). It
knows nothing of HTTP.

Documented (SDK 5.0.1 models, API pages): the parameter names (``PairId``,
``GroupId``, ``DrillId``), Start… in the secondary's region, Describe… from the
primary's or the secondary's, the drill ``Status`` values ``executing``,
``executed``, ``execute_failed``, ``clearing``, ``clear_failed``, the disk's
``DrillDiskStatus`` ``creating``, ``created``, ``deleting``, ``deleted`` (or an
error detail when the disk fails to be created or deleted), ``RecoverPoint``
and ``StartAt`` in seconds, and the ids' form in the examples: ``drill-xxxx``
for a pair's drill, ``pg-drill-xxxx`` for a group's.

The fake's choices, where the documentation is silent:

* The codes are the drill APIs' documented ones (``documented.py``): a Start sent
  to the primary's region is ``OperationDenied.StartDrillShouldOnDestRegion``; a
  target with no ``LastRecoverPoint`` is ``OperationDenied.RecoverPointNotFound``;
  ``OperationDenied.InvalidStatus`` is not documented for any drill API, so every
  other refusal is ``403 OperationDenied`` with a message that says why.
* A drill starts only on a pair or group ``normal`` or ``syncing`` (replicating,
  so a recovery point exists); any other status is refused. A group's member
  pair is refused (the group drill is the way), as its own failover is; so is a
  group with no pairs, or with a member not replicating.
* One drill ``executing`` per pair or group at a time: a second Start meanwhile
  is refused. Drills already ``executed`` do not stop a new one (each has its own disk).
* A failover of a target whose drill is running is accepted; the drill goes on
  and keeps its disk until it is cleared.
* Clear… goes to the region the drill was started in (its disk's region); else,
  or while the drill is ``executing``, it is refused (``OperationDenied``); one
  ``clearing`` already is accepted and changes nothing; an unknown drill id, or
  one of another target, is ``404 NoSuchResource``.
* A cleared drill is gone: Describe… no longer lists it (Terraform waits for
  exactly that after ClearPairDrill; the ``Status`` values have no "cleared").
  ``fake.drills.keep_cleared = True`` keeps it listed instead, with the
  ``Status`` its execution ended in and ``DrillDiskStatus`` ``deleted``.
* Describe… lists the target's drills newest first (``StartAt``, then start
  order); an unknown ``DrillId`` filter answers an empty list.
* ``executing`` and ``clearing`` move on through :class:`Transitions` like the
  other transient statuses, but by default each shows in one Describe… answer
  and the next one shows the outcome (``describes``, ``times=1``). Only a
  Describe… that lists the drill counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ebs_failover.testing.ebs.exceptions import NoSuchResource, OperationDenied

from .records import (
    DEFAULT_DRILL_MESSAGES,
    DRILL_CLEAR_FROM,
    DRILL_FROM,
    Drill,
    DrillDisk,
    DrillFailure,
    DrillKind,
    DrillOperation,
    DrillPending,
    FailureKind,
    ReplicaGroup,
    ReplicaPair,
)
from .state import BackendState

__all__ = ["DrillsMixin"]


class DrillsMixin(BackendState):
    """The six drill operations of :class:`~.EbsBackend`, and their transitions."""

    # -- start ---------------------------------------------------------------

    def start_pair_drill(self, *, region: str, pair_id: str, client_token: str | None = None) -> Drill:
        with self.lock:
            pair = self._pair(region, pair_id)
            _require_drill_region(region, pair.source_region, pair.destination_region)
            self._require_not_member(pair)
            self._require_drillable(pair)
            disks = [DrillDisk(pair.replica_pair_id, self._disk_id())]
            return self._start_drill("StartPairDrill", "pair", pair, region, disks, client_token)

    def start_group_drill(self, *, region: str, group_id: str, client_token: str | None = None) -> Drill:
        with self.lock:
            group = self._group(region, group_id)
            _require_drill_region(region, group.source_region_id, group.destination_region_id)
            if not group.pair_ids:
                raise OperationDenied(detail=f"{group_id} has no pairs.")
            self._require_drillable(group)
            members = [self.pairs[pair_id] for pair_id in group.pair_ids]
            for pair in members:
                if pair.status not in DRILL_FROM:
                    raise OperationDenied(detail=f"{pair.replica_pair_id} of {group_id} is {pair.status}.")
            disks = [DrillDisk(pair.replica_pair_id, self._disk_id()) for pair in members]
            return self._start_drill("StartReplicaGroupDrill", "group", group, region, disks, client_token)

    def _require_drillable(self, target: ReplicaPair | ReplicaGroup) -> None:
        if target.status not in DRILL_FROM:
            raise OperationDenied(detail=f"{target.resource_id} is {target.status}.")
        if target.last_recover_point <= 0:
            raise OperationDenied(
                "OperationDenied.RecoverPointNotFound", f"{target.resource_id} has no recovery point yet."
            )
        for drill in self.drill_records.values():
            if drill.target_id == target.resource_id and drill.status == "executing":
                raise OperationDenied(
                    detail=f"drill {drill.drill_id} of {target.resource_id} is still executing."
                )

    def _start_drill(
        self,
        action: str,
        kind: DrillKind,
        target: ReplicaPair | ReplicaGroup,
        region: str,
        disks: list[DrillDisk],
        client_token: str | None,
    ) -> Drill:
        drill = Drill(
            drill_id=self._drill_id(kind),
            kind=kind,
            target_id=target.resource_id,
            region=region,
            status="executing",
            recover_point=target.last_recover_point,
            start_at=int(self.clock()),
            disks=disks,
            client_token=client_token,
            sequence=next(self._drill_sequence),
        )
        self.drill_records[drill.drill_id] = drill
        self.drill_operations.append(
            DrillOperation(
                action, drill.drill_id, drill.target_id, "", "executing", client_token, self.clock()
            )
        )
        self._begin_drill(drill, "executing", self.drill_controls.take("execute_failed", drill.target_id))
        return drill

    # -- clear ---------------------------------------------------------------

    def clear_pair_drill(self, *, region: str, pair_id: str, drill_id: str) -> None:
        with self.lock:
            pair = self._pair(region, pair_id)
            self._clear_drill(
                "ClearPairDrill", self._drill_of(pair.replica_pair_id, "pair", drill_id), region
            )

    def clear_group_drill(self, *, region: str, group_id: str, drill_id: str) -> None:
        with self.lock:
            group = self._group(region, group_id)
            self._clear_drill(
                "ClearReplicaGroupDrill", self._drill_of(group.replica_group_id, "group", drill_id), region
            )

    def _drill_of(self, target_id: str, kind: DrillKind, drill_id: str) -> Drill:
        drill = self.drill_records.get(drill_id)
        if (
            drill is None
            or drill.target_id != target_id
            or drill.kind != kind
            or (drill.cleared and not self.drill_controls.keep_cleared)
        ):
            raise NoSuchResource()
        return drill

    def _clear_drill(self, action: str, drill: Drill, region: str) -> None:
        if region != drill.region:
            raise OperationDenied(detail=f"{drill.drill_id} and its disks are in {drill.region}.")
        if drill.cleared or drill.status == "clearing":
            return  # cleared already, or being cleared: a retry changes nothing
        if drill.status not in DRILL_CLEAR_FROM:
            raise OperationDenied(detail=f"{drill.drill_id} is {drill.status}.")
        before = drill.status
        self.drill_operations.append(
            DrillOperation(action, drill.drill_id, drill.target_id, before, "clearing", None, self.clock())
        )
        for disk in drill.disks:
            disk.status = "deleting"
        self._begin_drill(drill, "clearing", self.drill_controls.take("clear_failed", drill.target_id))

    # -- describe ------------------------------------------------------------

    def describe_pair_drills(
        self, *, region: str, pair_id: str, drill_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The pair's drills, newest first; counts as a describe of each drill listed."""
        with self.lock:
            pair = self._pair(region, pair_id)
            return self._listed_drills(pair.replica_pair_id, "pair", drill_id)

    def describe_group_drills(
        self, *, region: str, group_id: str, drill_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The group's drills, newest first; counts as a describe of each drill listed."""
        with self.lock:
            group = self._group(region, group_id)
            return self._listed_drills(group.replica_group_id, "group", drill_id)

    def _listed_drills(self, target_id: str, kind: DrillKind, drill_id: str | None) -> list[dict[str, Any]]:
        drills = [
            drill
            for drill in self.drill_records.values()
            if drill.target_id == target_id
            and drill.kind == kind
            and (drill_id is None or drill.drill_id == drill_id)
            and (not drill.cleared or self.drill_controls.keep_cleared)
        ]
        for drill in drills:
            self._on_describe_drill(drill)
        shown = [d for d in drills if not d.cleared or self.drill_controls.keep_cleared]
        shown.sort(key=lambda d: (d.start_at, d.sequence), reverse=True)
        return [drill.to_api() for drill in shown]

    # -- progression ---------------------------------------------------------

    def _begin_drill(self, drill: Drill, transient: str, failure: DrillFailure | None) -> None:
        drill.status = transient
        rule = self.transitions.get(transient)
        if failure is None and rule.fail:
            kind: FailureKind = "execute_failed" if transient == "executing" else "clear_failed"
            failure = DrillFailure(kind, DEFAULT_DRILL_MESSAGES[kind], "InternalError")
        drill.pending = DrillPending(rule, rule.times, failure)
        if rule.progression == "immediate":
            self._complete_drill(drill)

    def _complete_drill(self, drill: Drill) -> None:
        pending = drill.pending
        if pending is None:
            return
        drill.pending = None
        failure = pending.failure
        if drill.status == "executing":
            drill.status = drill.outcome = "execute_failed" if failure else "executed"
            drill.status_message = failure.message if failure else ""
            for disk in drill.disks:
                disk.status = failure.disk_status if failure else "created"
            return
        if failure is not None:
            drill.status = "clear_failed"
            drill.status_message = failure.message
            for disk in drill.disks:
                disk.status = failure.disk_status
            return
        drill.cleared = True
        drill.status = drill.outcome or "executed"
        for disk in drill.disks:
            disk.status = "deleted"

    def _on_describe_drill(self, drill: Drill) -> None:
        pending = drill.pending
        if pending is None or pending.rule.progression != "describes":
            return
        if pending.remaining_describes <= 0:
            self._complete_drill(drill)
        else:
            pending.remaining_describes -= 1

    def _advance_drills(self, drill_id: str | None = None) -> int:
        """Complete the pending transition of one drill (or of every drill); return how many."""
        with self.lock:
            drills = list(self.drill_records.values()) if drill_id is None else [self.drill_records[drill_id]]
            done = 0
            for drill in drills:
                if drill.pending is not None:
                    self._complete_drill(drill)
                    done += 1
            return done

    # -- seeding -------------------------------------------------------------

    def seed_drill(self, target: ReplicaPair | ReplicaGroup, spec: Mapping[str, Any]) -> Drill:
        """A settled drill of ``target`` from a seed's ``Drills`` entry (history; no operation recorded)."""
        kind: DrillKind = "group" if hasattr(target, "pair_ids") else "pair"
        members = getattr(target, "pair_ids", None) or [target.resource_id]
        status = spec.get("Status", "executed")
        disk_status = spec.get("DrillDiskStatus", "created" if status == "executed" else "InternalError")
        drill_id = spec.get("DrillId") or self._drill_id(kind)
        if drill_id in self.drill_records:
            raise ValueError(f"drill {drill_id} exists already")
        drill = Drill(
            drill_id=drill_id,
            kind=kind,
            target_id=target.resource_id,
            region=target.standby_region,
            status=status,
            recover_point=int(spec.get("RecoverPoint", spec["StartAt"])),
            start_at=int(spec["StartAt"]),
            disks=[DrillDisk(pair_id, self._disk_id(), disk_status) for pair_id in members],
            status_message=spec.get("StatusMessage", ""),
            outcome=status if status != "clear_failed" else "executed",
            sequence=next(self._drill_sequence),
        )
        self.drill_records[drill.drill_id] = drill
        return drill

    # -- ids -----------------------------------------------------------------

    def _drill_id(self, kind: DrillKind) -> str:
        prefix = "drill" if kind == "pair" else "pg-drill"
        return f"{prefix}-{self._drill_suffix(16)}"

    def _disk_id(self) -> str:
        return f"d-{self._drill_suffix(20)}"

    def _drill_suffix(self, length: int) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def advance_drills(self, drill_id: str | None = None) -> int:
        """Complete one drill's pending transition, or every drill's; return how many."""
        return self._advance_drills(drill_id)


def _require_drill_region(region: str, source: str, destination: str) -> None:
    """A drill starts on the secondary's side (StartDrillShouldOnDestRegion, documented)."""
    if region == source != destination:
        raise OperationDenied("OperationDenied.StartDrillShouldOnDestRegion")
