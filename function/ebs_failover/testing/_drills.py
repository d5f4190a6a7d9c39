"""Disaster-recovery drills: StartPairDrill, StartReplicaGroupDrill, their Describe and Clear.

A drill clones the secondary's latest recovery point onto a new pay-as-you-go
disk in the secondary's zone "to ensure the continued replication" (the
StartPairDrill and StartReplicaGroupDrill API pages): the pair or group keeps
its status, the primary is not touched. This module holds one account's drills
(:class:`DrillLedger`, in :attr:`EbsBackend.drills`) and the test-facing
controls shared by every account (:class:`Drills`, ``FakeEbs.drills``). It
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

* A drill starts only on a pair or group ``normal`` or ``syncing`` (replicating,
  so a recovery point exists) and with a ``LastRecoverPoint``; any other status
  is ``403 OperationDenied.InvalidStatus``. A group's member pair answers ``403
  OperationDenied`` (the group drill is the way), as its own failover does.
* One drill ``executing`` per pair or group at a time: a second Start meanwhile
  is ``OperationDenied.InvalidStatus``. Drills already ``executed`` do not stop
  a new one (each has its own disk).
* A failover of a target whose drill is running is accepted; the drill goes on
  and keeps its disk until it is cleared.
* Clear… goes to the region the drill was started in (its disk's region; else
  ``OperationDenied.OperateNotAllowedForPrimary``). Clearing an ``executing``
  drill is ``OperationDenied.InvalidStatus`` (the code Terraform's
  ``alicloud_ebs_replica_pair_drill`` retries ClearPairDrill on); one
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

import itertools
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ._exceptions import NoSuchResource, OperationDenied

if TYPE_CHECKING:
    from ._models import EbsBackend, ReplicaGroup, ReplicaPair, Transition

__all__ = [
    "DRILL_OUTCOMES",
    "DRILL_STATUSES",
    "Drill",
    "DrillDisk",
    "DrillLedger",
    "DrillOperation",
    "Drills",
]

#: The drill's ``Status`` values (SDK docstring of DescribePairDrills).
DRILL_STATUSES = ("executing", "executed", "execute_failed", "clearing", "clear_failed")

#: Transient drill status -> (status when it completes, status when it fails); "cleared" is gone.
DRILL_OUTCOMES: dict[str, tuple[str, str]] = {
    "executing": ("executed", "execute_failed"),
    "clearing": ("cleared", "clear_failed"),
}

FailureKind = Literal["execute_failed", "clear_failed"]
DrillKind = Literal["pair", "group"]

#: Which pair and group statuses a drill starts from (the fake's choice: replicating, with a recovery point).
_DRILL_FROM = frozenset({"normal", "syncing"})
_CLEAR_FROM = frozenset({"executed", "execute_failed", "clear_failed"})
_DEFAULT_MESSAGES: dict[str, str] = {
    "execute_failed": "InternalError: the drill disk could not be created.",
    "clear_failed": "InternalError: the drill disk could not be deleted.",
}


@dataclass
class DrillDisk:
    """The disk a drill creates for one pair, in the zone of its secondary disk."""

    pair_id: str
    disk_id: str
    status: str = "creating"


@dataclass(frozen=True)
class DrillFailure:
    """How an injected failure ends a drill's execution or its clearing."""

    kind: FailureKind
    message: str
    disk_status: str
    target: str | None = None


@dataclass
class _DrillPending:
    rule: Transition
    remaining_describes: int
    failure: DrillFailure | None


@dataclass
class Drill:
    """One drill of a pair or a group, with every field its Describe… returns."""

    drill_id: str
    kind: DrillKind
    target_id: str
    #: Where it was started: the secondary's region, where its disks are.
    region: str
    status: str
    recover_point: int
    start_at: int
    disks: list[DrillDisk]
    client_token: str | None = None
    status_message: str = ""
    #: How the execution ended (``executed`` or ``execute_failed``), once it has.
    outcome: str = ""
    #: Cleared: Describe… lists it no more (unless ``Drills.keep_cleared``).
    cleared: bool = False
    pending: _DrillPending | None = field(default=None, repr=False)
    #: Start order within the account, the tie-break of "newest first".
    sequence: int = 0

    def to_api(self) -> dict[str, Any]:
        """The drill as its Describe… lists it."""
        if self.kind == "pair":
            disk = self.disks[0]
            return {
                "DrillId": self.drill_id,
                "DrillDiskId": disk.disk_id,
                "DrillDiskStatus": disk.status,
                "RecoverPoint": self.recover_point,
                "StartAt": self.start_at,
                "Status": self.status,
                "StatusMessage": self.status_message,
            }
        return {
            "DrillId": self.drill_id,
            "GroupId": self.target_id,
            "RecoverPoint": self.recover_point,
            "StartAt": self.start_at,
            "Status": self.status,
            "StatusMessage": self.status_message,
            "PairsInfo": [
                {"PairId": disk.pair_id, "DrillDiskId": disk.disk_id, "DrillDiskStatus": disk.status}
                for disk in self.disks
            ],
        }


@dataclass(frozen=True)
class DrillOperation:
    """One accepted Start…Drill or Clear…Drill (replays are not operations).

    Kept apart from ``FakeEbs.operations``: a drill changes no pair's or group's status, so
    ``FakeEbs.state_changes()`` never counts one.
    """

    action: str
    drill_id: str
    target_id: str
    status_before: str
    status_after: str
    client_token: str | None
    at: float


class Drills:
    """The drills' test controls, shared by every account (``FakeEbs.drills``).

    ``fail_next("execute_failed", message=…)`` makes the next drill started end
    ``execute_failed`` with that ``StatusMessage``; ``fail_next("clear_failed")``
    makes the next clear end ``clear_failed``. ``keep_cleared`` keeps cleared
    drills listed. The views (:meth:`all`, :meth:`get`, :meth:`operations`,
    :meth:`started`, :meth:`cleared`) and :meth:`advance` span every account.
    """

    def __init__(self, backends: Callable[[], Iterable[EbsBackend]] = tuple) -> None:
        self._backends = backends
        self._failures: list[tuple[DrillFailure, list[int]]] = []
        self._lock = threading.Lock()
        #: List cleared drills (their disk ``deleted``) instead of forgetting them.
        self.keep_cleared = False

    # -- injection -----------------------------------------------------------

    def fail_next(
        self,
        kind: FailureKind,
        message: str | None = None,
        *,
        disk_status: str = "InternalError",
        times: int = 1,
        target: str | None = None,
    ) -> DrillFailure:
        """The next ``times`` drills started (``execute_failed``) or cleared (``clear_failed``) fail.

        ``message`` becomes the drill's ``StatusMessage``; ``disk_status`` the
        ``DrillDiskStatus`` of its disks (the SDK: it "can also display error code
        details"); ``target`` narrows it to one pair's or group's drills.
        """
        if kind not in _DEFAULT_MESSAGES:
            raise ValueError(f"kind must be execute_failed or clear_failed, not {kind!r}")
        if times < 1:
            raise ValueError("times must be >= 1")
        failure = DrillFailure(kind, message or _DEFAULT_MESSAGES[kind], disk_status, target)
        with self._lock:
            self._failures.append((failure, [times]))
        return failure

    def take(self, kind: FailureKind, target_id: str) -> DrillFailure | None:
        """The injected failure for this start or clear, if any (it is used up)."""
        with self._lock:
            for failure, left in self._failures:
                if failure.kind == kind and left[0] > 0 and failure.target in (None, target_id):
                    left[0] -= 1
                    return failure
            return None

    def pending_failures(self) -> int:
        with self._lock:
            return sum(left[0] for _, left in self._failures)

    def reset(self) -> None:
        """No injected failure; cleared drills are forgotten."""
        with self._lock:
            self._failures.clear()
        self.keep_cleared = False

    # -- views ---------------------------------------------------------------

    def all(self) -> list[Drill]:
        """Every drill of every account, cleared ones included, in start order."""
        found: list[Drill] = []
        for backend in self._backends():
            with backend._lock:
                found.extend(sorted(backend.drills.drills.values(), key=lambda d: d.sequence))
        return found

    def get(self, drill_id: str) -> Drill:
        """One drill's current state (read-only use, please: change it through the API)."""
        for drill in self.all():
            if drill.drill_id == drill_id:
                return drill
        raise KeyError(drill_id)

    def operations(self, action: str | None = None) -> list[DrillOperation]:
        """The accepted Start…Drill and Clear…Drill calls (of ``action``), all accounts, in order."""
        ops = [op for backend in self._backends() for op in list(backend.drills.operations)]
        return sorted((op for op in ops if action is None or op.action == action), key=lambda op: op.at)

    def started(self) -> list[DrillOperation]:
        """The accepted StartPairDrill and StartReplicaGroupDrill calls."""
        return [op for op in self.operations() if op.action.startswith("Start")]

    def cleared(self) -> list[DrillOperation]:
        """The accepted ClearPairDrill and ClearReplicaGroupDrill calls that began a clearing."""
        return [op for op in self.operations() if op.action.startswith("Clear")]

    def advance(self, drill_id: str | None = None) -> int:
        """Complete the pending execution or clearing of one drill, or of all; return how many."""
        return sum(backend.drills.advance(drill_id) for backend in self._backends())


class DrillLedger:
    """One account's drills and the semantics of the six drill operations."""

    def __init__(self, backend: EbsBackend, controls: Drills) -> None:
        self.backend = backend
        self.controls = controls
        self.drills: dict[str, Drill] = {}
        self.operations: list[DrillOperation] = []
        self._sequence = itertools.count(1)

    # -- start ---------------------------------------------------------------

    def start_pair(self, *, region: str, pair_id: str, client_token: str | None = None) -> Drill:
        backend = self.backend
        with backend._lock:
            pair = backend._pair(region, pair_id)
            backend._require_standby_region(region, pair.source_region)
            backend._require_not_member(pair)
            self._require_drillable(pair)
            disks = [DrillDisk(pair.replica_pair_id, self._disk_id())]
            return self._start("StartPairDrill", "pair", pair, region, disks, client_token)

    def start_group(self, *, region: str, group_id: str, client_token: str | None = None) -> Drill:
        backend = self.backend
        with backend._lock:
            group = backend._group(region, group_id)
            backend._require_standby_region(region, group.source_region_id)
            if not group.pair_ids:
                raise OperationDenied("OperationDenied.NoPairInGroup")
            self._require_drillable(group)
            members = backend._members(group, _DRILL_FROM)
            disks = [DrillDisk(pair.replica_pair_id, self._disk_id()) for pair in members]
            return self._start("StartReplicaGroupDrill", "group", group, region, disks, client_token)

    def _require_drillable(self, target: ReplicaPair | ReplicaGroup) -> None:
        self.backend._require_status(target, _DRILL_FROM)
        if target.last_recover_point <= 0:
            raise OperationDenied(
                "OperationDenied.InvalidStatus", f"{target.resource_id} has no recovery point yet."
            )
        for drill in self.drills.values():
            if drill.target_id == target.resource_id and drill.status == "executing":
                raise OperationDenied(
                    "OperationDenied.InvalidStatus",
                    f"drill {drill.drill_id} of {target.resource_id} is still executing.",
                )

    def _start(
        self,
        action: str,
        kind: DrillKind,
        target: ReplicaPair | ReplicaGroup,
        region: str,
        disks: list[DrillDisk],
        client_token: str | None,
    ) -> Drill:
        backend = self.backend
        drill = Drill(
            drill_id=self._drill_id(kind),
            kind=kind,
            target_id=target.resource_id,
            region=region,
            status="executing",
            recover_point=target.last_recover_point,
            start_at=int(backend.clock()),
            disks=disks,
            client_token=client_token,
            sequence=next(self._sequence),
        )
        self.drills[drill.drill_id] = drill
        self.operations.append(
            DrillOperation(
                action, drill.drill_id, drill.target_id, "", "executing", client_token, backend.clock()
            )
        )
        self._begin(drill, "executing", self.controls.take("execute_failed", drill.target_id))
        return drill

    # -- clear ---------------------------------------------------------------

    def clear_pair(self, *, region: str, pair_id: str, drill_id: str) -> None:
        with self.backend._lock:
            pair = self.backend._pair(region, pair_id)
            self._clear("ClearPairDrill", self._drill_of(pair.replica_pair_id, "pair", drill_id), region)

    def clear_group(self, *, region: str, group_id: str, drill_id: str) -> None:
        with self.backend._lock:
            group = self.backend._group(region, group_id)
            self._clear(
                "ClearReplicaGroupDrill", self._drill_of(group.replica_group_id, "group", drill_id), region
            )

    def _drill_of(self, target_id: str, kind: DrillKind, drill_id: str) -> Drill:
        drill = self.drills.get(drill_id)
        if (
            drill is None
            or drill.target_id != target_id
            or drill.kind != kind
            or (drill.cleared and not self.controls.keep_cleared)
        ):
            raise NoSuchResource()
        return drill

    def _clear(self, action: str, drill: Drill, region: str) -> None:
        if region != drill.region:
            raise OperationDenied(
                "OperationDenied.OperateNotAllowedForPrimary",
                f"{drill.drill_id} and its disks are in {drill.region}.",
            )
        if drill.cleared or drill.status == "clearing":
            return  # cleared already, or being cleared: a retry changes nothing
        if drill.status not in _CLEAR_FROM:
            raise OperationDenied("OperationDenied.InvalidStatus", f"{drill.drill_id} is {drill.status}.")
        before = drill.status
        self.operations.append(
            DrillOperation(
                action, drill.drill_id, drill.target_id, before, "clearing", None, self.backend.clock()
            )
        )
        for disk in drill.disks:
            disk.status = "deleting"
        self._begin(drill, "clearing", self.controls.take("clear_failed", drill.target_id))

    # -- describe ------------------------------------------------------------

    def describe_pair(
        self, *, region: str, pair_id: str, drill_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The pair's drills, newest first; counts as a describe of each drill listed."""
        with self.backend._lock:
            pair = self.backend._pair(region, pair_id)
            return self._listed(pair.replica_pair_id, "pair", drill_id)

    def describe_group(
        self, *, region: str, group_id: str, drill_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The group's drills, newest first; counts as a describe of each drill listed."""
        with self.backend._lock:
            group = self.backend._group(region, group_id)
            return self._listed(group.replica_group_id, "group", drill_id)

    def _listed(self, target_id: str, kind: DrillKind, drill_id: str | None) -> list[dict[str, Any]]:
        drills = [
            drill
            for drill in self.drills.values()
            if drill.target_id == target_id
            and drill.kind == kind
            and (drill_id is None or drill.drill_id == drill_id)
            and (not drill.cleared or self.controls.keep_cleared)
        ]
        for drill in drills:
            self._on_describe(drill)
        shown = [d for d in drills if not d.cleared or self.controls.keep_cleared]
        shown.sort(key=lambda d: (d.start_at, d.sequence), reverse=True)
        return [drill.to_api() for drill in shown]

    # -- progression ---------------------------------------------------------

    def _begin(self, drill: Drill, transient: str, failure: DrillFailure | None) -> None:
        drill.status = transient
        rule = self.backend.transitions.get(transient)
        if failure is None and rule.fail:
            kind: FailureKind = "execute_failed" if transient == "executing" else "clear_failed"
            failure = DrillFailure(kind, _DEFAULT_MESSAGES[kind], "InternalError")
        drill.pending = _DrillPending(rule, rule.times, failure)
        if rule.progression == "immediate":
            self._complete(drill)

    def _complete(self, drill: Drill) -> None:
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

    def _on_describe(self, drill: Drill) -> None:
        pending = drill.pending
        if pending is None or pending.rule.progression != "describes":
            return
        if pending.remaining_describes <= 0:
            self._complete(drill)
        else:
            pending.remaining_describes -= 1

    def advance(self, drill_id: str | None = None) -> int:
        """Complete the pending transition of one drill (or of every drill); return how many."""
        with self.backend._lock:
            drills = list(self.drills.values()) if drill_id is None else [self.drills[drill_id]]
            done = 0
            for drill in drills:
                if drill.pending is not None:
                    self._complete(drill)
                    done += 1
            return done

    # -- seeding -------------------------------------------------------------

    def seed(self, target: ReplicaPair | ReplicaGroup, spec: Mapping[str, Any]) -> Drill:
        """A settled drill of ``target`` from a seed's ``Drills`` entry (history; no operation recorded)."""
        kind: DrillKind = "group" if hasattr(target, "pair_ids") else "pair"
        members = getattr(target, "pair_ids", None) or [target.resource_id]
        status = spec.get("Status", "executed")
        disk_status = spec.get("DrillDiskStatus", "created" if status == "executed" else "InternalError")
        drill_id = spec.get("DrillId") or self._drill_id(kind)
        if drill_id in self.drills:
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
            sequence=next(self._sequence),
        )
        self.drills[drill.drill_id] = drill
        return drill

    # -- ids -----------------------------------------------------------------

    def _drill_id(self, kind: DrillKind) -> str:
        prefix = "drill" if kind == "pair" else "pg-drill"
        return f"{prefix}-{self._suffix(16)}"

    def _disk_id(self) -> str:
        return f"d-{self._suffix(20)}"

    def _suffix(self, length: int) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.backend.rng.choice(alphabet) for _ in range(length))
