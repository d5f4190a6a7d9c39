"""The fake EBS's records: replica pairs and groups, drills, operations, and how a transient status
moves on (:class:`Transitions`). Plain data: no HTTP, no lock; the backend's mixins
(:mod:`.state`, :mod:`.pairs`, :mod:`.groups`, :mod:`.drills`) change them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "DRILL_OUTCOMES",
    "DRILL_STATUSES",
    "PAIR_STATUSES",
    "Drill",
    "DrillDisk",
    "DrillFailure",
    "DrillOperation",
    "Operation",
    "ReplicaGroup",
    "ReplicaPair",
    "Resource",
    "Transition",
    "Transitions",
    "fingerprint",
]

#: The 19 values of ``Status`` (SDK docstring of DescribeDiskReplicaPairs).
PAIR_STATUSES = (
    "invalid",
    "creating",
    "created",
    "create_failed",
    "initial_syncing",
    "manual_syncing",
    "syncing",
    "normal",
    "stopping",
    "stopped",
    "stop_failed",
    "failovering",
    "failovered",
    "failover_failed",
    "reprotecting",
    "reprotect_failed",
    "deleting",
    "delete_failed",
    "deleted",
)

#: Transient status -> (status when it completes, status when it fails).
OUTCOMES: dict[str, tuple[str, str]] = {
    "creating": ("created", "create_failed"),
    "initial_syncing": ("normal", "invalid"),
    "manual_syncing": ("stopped", "stopped"),
    "syncing": ("normal", "invalid"),
    "stopping": ("stopped", "stop_failed"),
    "failovering": ("failovered", "failover_failed"),
    "reprotecting": ("stopped", "reprotect_failed"),
    "deleting": ("deleted", "delete_failed"),
}

START_FROM = frozenset({"created", "stopped"})
STOP_FROM = frozenset({"initial_syncing", "syncing", "manual_syncing", "normal"})
# The API page forbids only invalid and deleted; a pair that never finished
# creating, or is being deleted, has no secondary to fail over to.
FAILOVER_DENIED = frozenset({"invalid", "deleted", "creating", "create_failed", "deleting"})
REPROTECT_FROM = frozenset({"failovered"})
DELETE_FROM = frozenset({"stopped", "invalid", "failovered"})
GROUP_FAILOVER_FROM = frozenset(
    {
        "manual_syncing",
        "syncing",
        "normal",
        "stopping",
        "stop_failed",
        "stopped",
        "failovering",
        "failover_failed",
        "failovered",
    }
)
MAX_PAIRS_PER_GROUP = 17
RPO_SECONDS = 900
PREPAY_PERIODS = frozenset({1, 2, 3, 6, 12, 24, 36, 60})
BANDWIDTHS = frozenset({10240, 20480, 51200, 102400})

Progression = Literal["immediate", "describes", "manual", "timed"]

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
DRILL_FROM = frozenset({"normal", "syncing"})
DRILL_CLEAR_FROM = frozenset({"executed", "execute_failed", "clear_failed"})
DEFAULT_DRILL_MESSAGES: dict[str, str] = {
    "execute_failed": "InternalError: the drill disk could not be created.",
    "clear_failed": "InternalError: the drill disk could not be deleted.",
}


@dataclass(frozen=True)
class Transition:
    """How a transient status moves on.

    ``progression``: ``"immediate"`` (in the same call), ``"describes"`` (the
    resource shows the transient status in ``times`` describe answers, then
    the next one shows the outcome), ``"timed"`` (real time, as EBS: for
    ``start_delay`` seconds after the accepted call a Describe still shows the
    status before it, then the transient status for ``settle`` seconds, then
    the outcome) or ``"manual"`` (only :meth:`EbsBackend.advance`). ``fail``:
    end in the failure status (``failover_failed`` …) instead of the success status.
    """

    progression: Progression = "immediate"
    times: int = 1
    fail: bool = False
    start_delay: float = 0.0
    settle: float = 0.0


#: The transient statuses a test can set: the pairs' and groups', the drills' (``executing``, ``clearing``).
TRANSIENT = (*OUTCOMES, *DRILL_OUTCOMES)

#: Unless a test says otherwise: an accepted Failover is seen ``failovering`` in one Describe answer and
#: ``failovered`` in the next (EBS's failover is asynchronous: never settled inside the call), a drill's
#: ``executing`` and ``clearing`` likewise; every other transient status completes at once.
DEFAULT_RULES: dict[str, Transition] = {
    "failovering": Transition("describes", 1),
    "executing": Transition("describes", 1),
    "clearing": Transition("describes", 1),
}


class Transitions:
    """Per transient status, and optionally per resource (a pair, a group), the :class:`Transition` in
    force: a resource's own rule, else the status's, else :data:`DEFAULT_RULES`, else at once."""

    def __init__(self) -> None:
        self._rules: dict[tuple[str, str | None], Transition] = {}

    def set(
        self,
        status: str,
        progression: Progression = "immediate",
        *,
        times: int = 1,
        fail: bool = False,
        start_delay: float = 0.0,
        settle: float = 0.0,
        resource: str | None = None,
    ) -> None:
        """Make ``status`` (a transient one, e.g. ``"failovering"``) move on as described; with
        ``resource`` (a pair or group id), for that resource only."""
        if status not in TRANSIENT:
            raise ValueError(f"{status!r} is not a transient status; one of {sorted(TRANSIENT)}")
        if progression == "timed" and status in DRILL_OUTCOMES:
            raise ValueError(f"{status!r} is a drill's status: timed transitions are for pairs and groups")
        if progression not in ("immediate", "describes", "manual", "timed"):
            raise ValueError(
                f"progression must be immediate, describes, timed or manual, not {progression!r}"
            )
        if times < 0 or start_delay < 0 or settle < 0:
            raise ValueError("times, start_delay and settle must be >= 0")
        self._rules[(status, resource)] = Transition(progression, times, fail, start_delay, settle)

    def set_all(self, progression: Progression, *, times: int = 1) -> None:
        """Apply one progression to every transient status (``timed``: the pairs' and groups' only)."""
        for status in TRANSIENT:
            if progression != "timed" or status not in DRILL_OUTCOMES:
                self.set(status, progression, times=times)

    def get(self, status: str, resource: str | None = None) -> Transition:
        found = self._rules.get((status, resource)) if resource is not None else None
        if found is None:
            found = self._rules.get((status, None))
        return found or DEFAULT_RULES.get(status, Transition())

    def reset(self) -> None:
        self._rules.clear()


@dataclass
class Pending:
    """A transient status waiting to complete."""

    rule: Transition
    remaining_describes: int
    on_success: Callable[[], None] | None = None
    #: A group's transition: the ids of the member pairs it carries, which settle with it.
    members: tuple[str, ...] = ()
    #: When the call was accepted (the backend's clock), for a ``timed`` transition.
    began_at: float = 0.0
    #: The status each resource it moves (the resource, its members) had before: what a Describe shows
    #: during the ``timed`` rule's start delay.
    before: Mapping[str, str] = field(default_factory=dict)

    def phase(self, now: float) -> Literal["starting", "moving", "done"]:
        """Where a ``timed`` transition is at ``now``; any other is ``moving`` until it completes."""
        if self.rule.progression != "timed":
            return "moving"
        if now < self.began_at + self.rule.start_delay:
            return "starting"
        if now < self.began_at + self.rule.start_delay + self.rule.settle:
            return "moving"
        return "done"


@dataclass
class Operation:
    """One accepted call that changed a resource's status (replays are not operations)."""

    action: str
    resource_id: str
    status_before: str
    status_after: str
    client_token: str | None
    at: float
    #: A group operation: the member pairs whose status it changed along with the group's.
    members: tuple[str, ...] = ()


@dataclass
class ReplicaPair:
    """One async-replication pair, with every field DescribeDiskReplicaPairs returns."""

    replica_pair_id: str
    source_disk_id: str
    source_region: str
    source_zone_id: str
    destination_disk_id: str
    destination_region: str
    destination_zone_id: str
    status: str = "creating"
    status_message: str = ""
    pair_name: str = ""
    description: str = ""
    rpo: int = RPO_SECONDS
    bandwidth: int = 0
    charge_type: str = "POSTPAY"
    create_time: int = 0
    expired_time: int = 0
    last_recover_point: int = 0
    replica_group_id: str = ""
    replica_group_name: str = ""
    resource_group_id: str = ""
    enable_rtc: bool = False
    tags: list[dict[str, str]] = field(default_factory=list)
    primary_region: str = ""
    primary_zone: str = ""
    standby_region: str = ""
    standby_zone: str = ""
    pending: Pending | None = field(default=None, repr=False)
    synced_once: bool = False
    #: The group whose transition carries this pair ("" when none): the pair settles when it does.
    following: str = field(default="", repr=False)

    @property
    def resource_id(self) -> str:
        return self.replica_pair_id

    @property
    def name(self) -> str:
        return self.pair_name

    def visible_in(self, region: str) -> bool:
        return region in (self.source_region, self.destination_region)

    def sites_in(self, region: str) -> tuple[str, ...]:
        """The sites ``region`` holds: one, or both for a pair across two zones of one region."""
        return _sites(region, self.source_region, self.destination_region)

    def to_api(self, region: str) -> dict[str, Any]:
        """The pair as DescribeDiskReplicaPairs shows it from ``region``."""
        return {
            "ReplicaPairId": self.replica_pair_id,
            "PairName": self.pair_name,
            "Description": self.description,
            "Status": self.status,
            "StatusMessage": self.status_message,
            "SourceDiskId": self.source_disk_id,
            "SourceRegion": self.source_region,
            "SourceZoneId": self.source_zone_id,
            "DestinationDiskId": self.destination_disk_id,
            "DestinationRegion": self.destination_region,
            "DestinationZoneId": self.destination_zone_id,
            "PrimaryRegion": self.primary_region,
            "PrimaryZone": self.primary_zone,
            "StandbyRegion": self.standby_region,
            "StandbyZone": self.standby_zone,
            "RPO": self.rpo,
            "Bandwidth": self.bandwidth,
            "LastRecoverPoint": self.last_recover_point,
            "CreateTime": self.create_time,
            "ExpiredTime": self.expired_time,
            "ChargeType": self.charge_type,
            "ReplicaGroupId": self.replica_group_id,
            "ReplicaGroupName": self.replica_group_name,
            "ResourceGroupId": self.resource_group_id,
            "Site": self.sites_in(region)[0],
            "EnableRtc": self.enable_rtc,
            "Tags": [dict(tag) for tag in self.tags],
        }


@dataclass
class ReplicaGroup:
    """A consistent replica group, with every field DescribeDiskReplicaGroups returns."""

    replica_group_id: str
    source_region_id: str
    source_zone_id: str
    destination_region_id: str
    destination_zone_id: str
    group_name: str = ""
    description: str = ""
    status: str = "created"
    rpo: int = RPO_SECONDS
    bandwidth: int = 0
    last_recover_point: int = 0
    pair_ids: list[str] = field(default_factory=list)
    resource_group_id: str = ""
    enable_rtc: bool = False
    tags: list[dict[str, str]] = field(default_factory=list)
    primary_region: str = ""
    primary_zone: str = ""
    standby_region: str = ""
    standby_zone: str = ""
    pending: Pending | None = field(default=None, repr=False)

    @property
    def resource_id(self) -> str:
        return self.replica_group_id

    @property
    def name(self) -> str:
        return self.group_name

    def visible_in(self, region: str) -> bool:
        return region in (self.source_region_id, self.destination_region_id)

    def sites_in(self, region: str) -> tuple[str, ...]:
        """The sites ``region`` holds: one, or both for a group across two zones of one region."""
        return _sites(region, self.source_region_id, self.destination_region_id)

    def to_api(self, region: str) -> dict[str, Any]:
        """The group as DescribeDiskReplicaGroups shows it from ``region``."""
        return {
            "ReplicaGroupId": self.replica_group_id,
            "GroupName": self.group_name,
            "Description": self.description,
            "Status": self.status,
            "SourceRegionId": self.source_region_id,
            "SourceZoneId": self.source_zone_id,
            "DestinationRegionId": self.destination_region_id,
            "DestinationZoneId": self.destination_zone_id,
            "PrimaryRegion": self.primary_region,
            "PrimaryZone": self.primary_zone,
            "StandbyRegion": self.standby_region,
            "StandbyZone": self.standby_zone,
            "RPO": self.rpo,
            "Bandwidth": self.bandwidth,
            "LastRecoverPoint": self.last_recover_point,
            "PairIds": list(self.pair_ids),
            "PairNumber": len(self.pair_ids),
            "Site": self.sites_in(region)[0],
            "EnableRtc": self.enable_rtc,
            "ResourceGroupId": self.resource_group_id,
            "Tags": [dict(tag) for tag in self.tags],
        }


Resource = ReplicaPair | ReplicaGroup


def _sites(region: str, source: str, destination: str) -> tuple[str, ...]:
    return tuple(site for site, where in (("production", source), ("backup", destination)) if where == region)


def fingerprint(params: Mapping[str, str]) -> str:
    """Deterministic digest of a request's parameters, ClientToken excluded."""
    relevant = {k: v for k, v in params.items() if k != "ClientToken"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


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
class DrillPending:
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
    pending: DrillPending | None = field(default=None, repr=False)
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
