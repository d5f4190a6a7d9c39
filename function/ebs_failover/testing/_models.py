"""State of the fake EBS: replica pairs and groups, their status machine, ClientTokens.

This module knows nothing of HTTP. An :class:`EbsBackend` holds one account's
pairs and groups (a pair lives once per account and is visible from both of its
regions) and enforces what the real service enforces: which status allows which
operation, which region an operation must be sent to, and ClientToken
idempotence. Operations raise the errors of :mod:`._exceptions`.

Transient statuses (``creating``, ``initial_syncing``, ``failovering`` …) move
on as :class:`Transitions` says: at once (the default), after N describe calls
that show the resource, or only when a test calls :meth:`EbsBackend.advance`
(moto's state manager, in small).

Replica groups: a group's Start, Stop or Failover carries its member pairs
along. The members show the matching transient status (``failovering`` …) and
settle together with the group, in the same step (:meth:`EbsBackend.advance` of
the group, or of any member, completes them all). The call is recorded as one
:class:`Operation` of the group's action, with the members it carried in
``members``: a member's change is not an API call of its own. With the
``describes`` progression, an answer showing the group or any of its members
counts once toward the group's transition. AddDiskReplicaPair takes a pair
``created`` or ``stopped`` (documented) into a group ``created`` or ``stopped``
(the fake's choice, so that members always move with their group).

The fake's choice: a member pair's own Start/Stop/FailoverDiskReplicaPair answers 403 ``OperationDenied``.

(The real API says only that the pairs of a group are managed together, not
which code refuses one of them; ``OperationDenied`` is the one code in the
FailoverDiskReplicaPair, Start and Stop error tables that says "not allowed"
without naming a status: the group codes are documented for other operations.)
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._drills import DRILL_OUTCOMES, DrillLedger, Drills
from ._exceptions import (
    IdempotentParameterMismatch,
    InvalidParameter,
    NoSuchResource,
    OperationDenied,
)

__all__ = [
    "PAIR_STATUSES",
    "EbsBackend",
    "Operation",
    "ReplicaGroup",
    "ReplicaPair",
    "Transition",
    "Transitions",
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
_OUTCOMES: dict[str, tuple[str, str]] = {
    "creating": ("created", "create_failed"),
    "initial_syncing": ("normal", "invalid"),
    "manual_syncing": ("stopped", "stopped"),
    "syncing": ("normal", "invalid"),
    "stopping": ("stopped", "stop_failed"),
    "failovering": ("failovered", "failover_failed"),
    "reprotecting": ("stopped", "reprotect_failed"),
    "deleting": ("deleted", "delete_failed"),
}

_START_FROM = frozenset({"created", "stopped"})
_STOP_FROM = frozenset({"initial_syncing", "syncing", "manual_syncing", "normal"})
# The API page forbids only invalid and deleted; a pair that never finished
# creating, or is being deleted, has no secondary to fail over to.
_FAILOVER_DENIED = frozenset({"invalid", "deleted", "creating", "create_failed", "deleting"})
_REPROTECT_FROM = frozenset({"failovered"})
_DELETE_FROM = frozenset({"stopped", "invalid", "failovered"})
_GROUP_FAILOVER_FROM = frozenset(
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
_MAX_PAIRS_PER_GROUP = 17
_RPO_SECONDS = 900
_PREPAY_PERIODS = frozenset({1, 2, 3, 6, 12, 24, 36, 60})
_BANDWIDTHS = frozenset({10240, 20480, 51200, 102400})

Progression = Literal["immediate", "describes", "manual"]


@dataclass(frozen=True)
class Transition:
    """How a transient status moves on.

    ``progression``: ``"immediate"`` (in the same call), ``"describes"`` (the
    resource shows the transient status in ``times`` describe answers, then
    the next one shows the outcome) or ``"manual"`` (only
    :meth:`EbsBackend.advance`). ``fail``: end in the failure status
    (``failover_failed`` …) instead of the success status.
    """

    progression: Progression = "immediate"
    times: int = 1
    fail: bool = False


#: The transient statuses a test can set: the pairs' and groups', the drills' (``executing``, ``clearing``).
_TRANSIENT = (*_OUTCOMES, *DRILL_OUTCOMES)


class Transitions:
    """Per transient status, the :class:`Transition` in force.

    Unset, a status completes at once, except a drill's ``executing`` and
    ``clearing``: one describe answer shows them, the next the outcome
    (``describes``, ``times=1``).
    """

    def __init__(self) -> None:
        self._rules: dict[str, Transition] = {}

    def set(
        self, status: str, progression: Progression = "immediate", *, times: int = 1, fail: bool = False
    ) -> None:
        """Make ``status`` (a transient one, e.g. ``"failovering"``) move on as described."""
        if status not in _TRANSIENT:
            raise ValueError(f"{status!r} is not a transient status; one of {sorted(_TRANSIENT)}")
        if progression not in ("immediate", "describes", "manual"):
            raise ValueError(f"progression must be immediate, describes or manual, not {progression!r}")
        if times < 0:
            raise ValueError("times must be >= 0")
        self._rules[status] = Transition(progression, times, fail)

    def set_all(self, progression: Progression, *, times: int = 1) -> None:
        """Apply one progression to every transient status."""
        for status in _TRANSIENT:
            self.set(status, progression, times=times)

    def get(self, status: str) -> Transition:
        default = Transition("describes", 1) if status in DRILL_OUTCOMES else Transition()
        return self._rules.get(status, default)

    def reset(self) -> None:
        self._rules.clear()


@dataclass
class _Pending:
    """A transient status waiting to complete."""

    rule: Transition
    remaining_describes: int
    on_success: Callable[[], None] | None = None
    #: A group's transition: the ids of the member pairs it carries, which settle with it.
    members: tuple[str, ...] = ()


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
    rpo: int = _RPO_SECONDS
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
    pending: _Pending | None = field(default=None, repr=False)
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

    def site_in(self, region: str) -> str:
        return "production" if region == self.source_region else "backup"

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
            "Site": self.site_in(region),
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
    rpo: int = _RPO_SECONDS
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
    pending: _Pending | None = field(default=None, repr=False)

    @property
    def resource_id(self) -> str:
        return self.replica_group_id

    @property
    def name(self) -> str:
        return self.group_name

    def visible_in(self, region: str) -> bool:
        return region in (self.source_region_id, self.destination_region_id)

    def site_in(self, region: str) -> str:
        return "production" if region == self.source_region_id else "backup"

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
            "Site": self.site_in(region),
            "EnableRtc": self.enable_rtc,
            "ResourceGroupId": self.resource_group_id,
            "Tags": [dict(tag) for tag in self.tags],
        }


Resource = ReplicaPair | ReplicaGroup


def fingerprint(params: Mapping[str, str]) -> str:
    """Deterministic digest of a request's parameters, ClientToken excluded."""
    relevant = {k: v for k, v in params.items() if k != "ClientToken"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


class EbsBackend:
    """One account's replica pairs and groups.

    Every public method is one EBS operation's semantics, called with already
    parsed arguments, under one lock: the fake is safe to drive from threads.
    """

    def __init__(
        self,
        account_id: str,
        *,
        transitions: Transitions | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        repeat_failover: Literal["accept", "deny"] = "accept",
        drills: Drills | None = None,
    ) -> None:
        self.account_id = account_id
        self.transitions = transitions if transitions is not None else Transitions()
        self.clock = clock
        self.rng = rng if rng is not None else random.Random()
        #: What FailoverDiskReplicaPair does to a pair already ``failovered``:
        #: the docs do not say; ``"accept"`` answers success and changes
        #: nothing, ``"deny"`` answers ``OperationDenied.InvalidStatus``.
        self.repeat_failover = repeat_failover
        self.pairs: dict[str, ReplicaPair] = {}
        self.groups: dict[str, ReplicaGroup] = {}
        self.operations: list[Operation] = []
        self._tokens: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self._lock = threading.RLock()
        #: The account's drills (``drills``: the controls every account shares, ``FakeEbs.drills``).
        self.drills = DrillLedger(self, drills if drills is not None else Drills())

    # -- idempotence ---------------------------------------------------------

    def idempotent(
        self,
        action: str,
        params: Mapping[str, str],
        run: Callable[[], dict[str, Any]],
    ) -> tuple[dict[str, Any], bool]:
        """Run ``run`` once per ClientToken; return ``(body, replayed)``.

        The same token with the same parameters answers the first successful
        body again, RequestId included, with no side effect. The same token
        with other parameters is ``IdempotentParameterMismatch``. A call that
        failed does not use its token up, so a retry with it runs again.
        """
        token = params.get("ClientToken")
        with self._lock:
            if not token:
                return run(), False
            key = (action, token)
            digest = fingerprint(params)
            if key in self._tokens:
                seen_digest, body = self._tokens[key]
                if seen_digest != digest:
                    raise IdempotentParameterMismatch()
                return dict(body), True
            body = run()
            self._tokens[key] = (digest, dict(body))
            return body, False

    # -- ids -----------------------------------------------------------------

    def _new_id(self, prefix: str, region: str) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        suffix = "".join(self.rng.choice(alphabet) for _ in range(16))
        return (
            f"{prefix}-{region.split('-', maxsplit=1)[0]}-{suffix}"
            if prefix == "pair"
            else f"{prefix}-{suffix}"
        )

    # -- status machine ------------------------------------------------------

    def _set_status(self, resource: Resource, status: str) -> None:
        resource.status = status

    def _begin(
        self,
        resource: Resource,
        action: str,
        transient: str,
        token: str | None,
        on_success: Callable[[], None] | None = None,
        members: tuple[str, ...] = (),
    ) -> None:
        """Enter ``transient`` and let it move on as its :class:`Transition` says.

        ``members`` (a group's operation): the pairs already carried along by
        :meth:`_begin_group`, recorded in the one :class:`Operation`.
        """
        before = resource.status
        self._set_status(resource, transient)
        self.operations.append(
            Operation(action, resource.resource_id, before, transient, token, self.clock(), members)
        )
        rule = self.transitions.get(transient)
        resource.pending = _Pending(rule, rule.times, on_success, members)
        if rule.progression == "immediate":
            self._complete(resource)

    def _begin_group(
        self,
        group: ReplicaGroup,
        action: str,
        transient: str,
        token: str | None,
        members: Mapping[str, str],
        on_success: Callable[[], None] | None = None,
    ) -> None:
        """Like :meth:`_begin`, the member pairs (id -> their transient status) carried along.

        The members are set first: an immediate transition completes them with
        the group inside :meth:`_begin`.
        """
        for pair_id, member_transient in members.items():
            pair = self.pairs[pair_id]
            pair.pending = None  # the group's transition is the member's now
            self._set_status(pair, member_transient)
            pair.following = group.replica_group_id
        self._begin(group, action, transient, token, on_success, tuple(members))

    def _complete(self, resource: Resource) -> None:
        pending = resource.pending
        if pending is None:
            return
        resource.pending = None
        success, failure = _OUTCOMES[resource.status]
        outcome = failure if pending.rule.fail else success
        self._set_status(resource, outcome)
        self._settle_members(resource.resource_id, pending.members, outcome)
        if not pending.rule.fail and pending.on_success is not None:
            pending.on_success()

    def _settle_members(self, group_id: str, members: tuple[str, ...], outcome: str) -> None:
        """The members still carried by ``group_id`` end where the group ended, in the same step."""
        for pair_id in members:
            pair = self.pairs.get(pair_id)
            # A member the world changed meanwhile (invalidated, deleted) no longer follows.
            if pair is not None and pair.following == group_id:
                pair.following = ""
                self._set_status(pair, outcome)

    def _owner(self, resource: Resource) -> Resource:
        """Whose transition moves ``resource``: the group carrying a member, else the resource itself."""
        if isinstance(resource, ReplicaPair) and resource.following:
            return self.groups.get(resource.following, resource)
        return resource

    def _on_describe(self, resource: Resource) -> None:
        pending = resource.pending
        if pending is None or pending.rule.progression != "describes":
            return
        if pending.remaining_describes <= 0:
            self._complete(resource)
        else:
            pending.remaining_describes -= 1

    def advance(self, resource_id: str | None = None) -> int:
        """Complete the pending transition of one resource, or of all; return how many.

        A group's transition completes with its members; a member's id
        advances the group that carries it. A drill's id advances the drill;
        with no id, every drill's pending transition completes too.
        """
        with self._lock:
            resources: Iterable[Resource]
            if resource_id is not None and resource_id in self.drills.drills:
                return self.drills.advance(resource_id)
            done = 0
            if resource_id is None:
                resources = [*self.pairs.values(), *self.groups.values()]
                done += self.drills.advance()
            else:
                resources = [self._owner(self._any(resource_id))]
            for resource in resources:
                if resource.pending is not None:
                    self._complete(resource)
                    done += 1
            return done

    # -- lookups -------------------------------------------------------------

    def _any(self, resource_id: str) -> Resource:
        resource = self.pairs.get(resource_id) or self.groups.get(resource_id)
        if resource is None:
            raise NoSuchResource()
        return resource

    def _pair(self, region: str, pair_id: str) -> ReplicaPair:
        pair = self.pairs.get(pair_id)
        if pair is None or not pair.visible_in(region):
            raise NoSuchResource()
        return pair

    def _group(self, region: str, group_id: str) -> ReplicaGroup:
        group = self.groups.get(group_id)
        if group is None or not group.visible_in(region):
            raise NoSuchResource()
        return group

    @staticmethod
    def _require_status(resource: Resource, allowed: Iterable[str]) -> None:
        if resource.status not in allowed:
            raise OperationDenied(
                "OperationDenied.InvalidStatus", f"{resource.resource_id} is {resource.status}."
            )

    @staticmethod
    def _require_not_member(pair: ReplicaPair) -> None:
        """A pair in a group is managed with its group only (the fake's code: see the module docstring)."""
        if pair.replica_group_id:
            raise OperationDenied(
                "OperationDenied",
                f"{pair.replica_pair_id} is in replica group {pair.replica_group_id}: "
                "operate on the group, which manages all its pairs together.",
            )

    @staticmethod
    def _require_standby_region(region: str, source: str) -> None:
        if region == source:
            raise OperationDenied("OperationDenied.OperateNotAllowedForPrimary")

    # -- pair operations -----------------------------------------------------

    def create_pair(
        self,
        *,
        region: str,
        disk_id: str,
        source_zone: str,
        destination_region: str,
        destination_zone: str,
        destination_disk_id: str,
        pair_name: str = "",
        description: str = "",
        charge_type: str = "POSTPAY",
        period: int | None = None,
        period_unit: str = "Month",
        bandwidth: int | None = None,
        rpo: int | None = None,
        resource_group_id: str = "",
        tags: list[dict[str, str]] | None = None,
        enable_rtc: bool = False,
        client_token: str | None = None,
        pair_id: str | None = None,
    ) -> ReplicaPair:
        """CreateDiskReplicaPair; ``pair_id`` fixes the id (seed files only)."""
        with self._lock:
            if pair_id is not None and pair_id in self.pairs:
                raise ValueError(f"pair {pair_id} exists already")
            _check_zone("SourceZoneId", source_zone, region)
            _check_zone("DestinationZoneId", destination_zone, destination_region)
            if destination_region == region:
                raise InvalidParameter(
                    "DestinationRegionId", "the secondary disk must be in another region than the primary"
                )
            if charge_type not in ("PREPAY", "POSTPAY"):
                raise InvalidParameter("ChargeType", "expected PREPAY or POSTPAY")
            if charge_type == "PREPAY" and period is None:
                raise InvalidParameter("Period", "required when ChargeType is PREPAY")
            if period is not None and period not in _PREPAY_PERIODS:
                raise InvalidParameter("Period", f"expected one of {sorted(_PREPAY_PERIODS)}")
            if bandwidth is not None:
                if charge_type == "POSTPAY":
                    raise InvalidParameter("Bandwidth", "cannot be set when ChargeType is POSTPAY")
                if bandwidth not in _BANDWIDTHS:
                    raise InvalidParameter("Bandwidth", f"expected one of {sorted(_BANDWIDTHS)}")
            if rpo is not None and rpo != _RPO_SECONDS:
                raise InvalidParameter("RPO", f"expected {_RPO_SECONDS}")
            _check_length("PairName", pair_name, 2, 128)
            _check_length("Description", description, 2, 256)
            for other in self.pairs.values():
                if other.status == "deleted":
                    continue
                disks = {other.source_disk_id, other.destination_disk_id}
                if disk_id in disks or destination_disk_id in disks:
                    raise OperationDenied(
                        "OperationDenied", f"A disk of {other.replica_pair_id} is already replicated."
                    )
            now = int(self.clock())
            expired = now + 30 * 86400 * period if charge_type == "PREPAY" and period else 0
            pair = ReplicaPair(
                replica_pair_id=pair_id or self._new_id("pair", region),
                source_disk_id=disk_id,
                source_region=region,
                source_zone_id=source_zone,
                destination_disk_id=destination_disk_id,
                destination_region=destination_region,
                destination_zone_id=destination_zone,
                status="created",
                pair_name=pair_name,
                description=description,
                rpo=_RPO_SECONDS,
                bandwidth=bandwidth if bandwidth is not None else (10240 if charge_type == "PREPAY" else 0),
                charge_type=charge_type,
                create_time=now,
                expired_time=expired,
                resource_group_id=resource_group_id,
                enable_rtc=enable_rtc,
                tags=list(tags or []),
                primary_region=region,
                primary_zone=source_zone,
                standby_region=destination_region,
                standby_zone=destination_zone,
            )
            self.pairs[pair.replica_pair_id] = pair
            self._begin(pair, "CreateDiskReplicaPair", "creating", client_token)
            return pair

    def start_pair(
        self, *, region: str, pair_id: str, one_shot: bool = False, client_token: str | None = None
    ) -> None:
        with self._lock:
            pair = self._pair(region, pair_id)
            self._require_not_member(pair)
            self._require_status(pair, _START_FROM)

            def synced() -> None:
                pair.synced_once = True
                pair.last_recover_point = int(self.clock())

            self._begin(pair, "StartDiskReplicaPair", _start_transient(pair, one_shot), client_token, synced)

    def stop_pair(self, *, region: str, pair_id: str, client_token: str | None = None) -> None:
        with self._lock:
            pair = self._pair(region, pair_id)
            self._require_not_member(pair)
            self._require_status(pair, _STOP_FROM)
            self._begin(pair, "StopDiskReplicaPair", "stopping", client_token)

    def failover_pair(self, *, region: str, pair_id: str, client_token: str | None = None) -> None:
        with self._lock:
            pair = self._pair(region, pair_id)
            self._require_standby_region(region, pair.source_region)
            self._require_not_member(pair)
            if pair.status in _FAILOVER_DENIED:
                self._require_status(pair, ())
            if pair.status == "failovering":
                return
            if pair.status == "failovered":
                if self.repeat_failover == "deny":
                    self._require_status(pair, ())
                return
            self._begin(pair, "FailoverDiskReplicaPair", "failovering", client_token)

    def reprotect_pair(
        self,
        *,
        region: str,
        pair_id: str,
        reverse_replicate: bool = True,
        client_token: str | None = None,
    ) -> None:
        with self._lock:
            pair = self._pair(region, pair_id)
            self._require_standby_region(region, pair.source_region)
            self._require_status(pair, _REPROTECT_FROM)

            def reprotected() -> None:
                # Which way the pair then replicates is inferred, not documented:
                # reverse replication makes the old secondary the source.
                if reverse_replicate:
                    _swap_direction(pair)
                pair.synced_once = False

            self._begin(pair, "ReprotectDiskReplicaPair", "reprotecting", client_token, reprotected)

    def delete_pair(self, *, region: str, pair_id: str, client_token: str | None = None) -> None:
        with self._lock:
            pair = self._pair(region, pair_id)
            if region != pair.source_region:
                raise OperationDenied("OperationDenied.OperateNotAllowedForStandby")
            self._require_status(pair, _DELETE_FROM)

            def deleted() -> None:
                group = self.groups.get(pair.replica_group_id)
                if group is not None and pair_id in group.pair_ids:
                    group.pair_ids.remove(pair_id)
                pair.replica_group_id = pair.replica_group_name = ""

            self._begin(pair, "DeleteDiskReplicaPair", "deleting", client_token, deleted)

    def describe_pairs(
        self,
        *,
        region: str,
        site: str = "production",
        pair_ids: list[str] | None = None,
        replica_group_id: str | None = None,
        name: str | None = None,
        resource_group_id: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> list[dict[str, Any]]:
        """Pairs whose ``site`` is ``region``, filtered; counts as a describe for transitions."""
        with self._lock:
            pairs: Iterable[ReplicaPair] = self.pairs.values()
            if replica_group_id == "-":  # the API's spelling of "in no group"
                pairs = [p for p in pairs if not p.replica_group_id]
            elif replica_group_id is not None:
                pairs = [p for p in pairs if p.replica_group_id == replica_group_id]
            return self._select(pairs, region, site, pair_ids, name, resource_group_id, tags)

    # -- group operations ----------------------------------------------------

    def create_group(
        self,
        *,
        region: str,
        source_zone: str,
        destination_region: str,
        destination_zone: str,
        group_name: str = "",
        description: str = "",
        rpo: int | None = None,
        bandwidth: int | None = None,
        resource_group_id: str = "",
        tags: list[dict[str, str]] | None = None,
        enable_rtc: bool = False,
        client_token: str | None = None,
        group_id: str | None = None,
    ) -> ReplicaGroup:
        """CreateDiskReplicaGroup; ``group_id`` fixes the id (seed files only)."""
        with self._lock:
            if group_id is not None and group_id in self.groups:
                raise ValueError(f"group {group_id} exists already")
            _check_zone("SourceZoneId", source_zone, region)
            _check_zone("DestinationZoneId", destination_zone, destination_region)
            if destination_region == region:
                raise InvalidParameter(
                    "DestinationRegionId", "the secondary site must be in another region than the primary"
                )
            if rpo is not None and rpo != _RPO_SECONDS:
                raise InvalidParameter("RPO", f"expected {_RPO_SECONDS}")
            if bandwidth is not None and bandwidth not in _BANDWIDTHS:
                raise InvalidParameter("Bandwidth", f"expected one of {sorted(_BANDWIDTHS)}")
            _check_length("GroupName", group_name, 2, 128)
            _check_length("Description", description, 2, 256)
            group = ReplicaGroup(
                replica_group_id=group_id or self._new_id("pg", region),
                source_region_id=region,
                source_zone_id=source_zone,
                destination_region_id=destination_region,
                destination_zone_id=destination_zone,
                group_name=group_name,
                description=description,
                status="created",
                bandwidth=bandwidth or 0,
                resource_group_id=resource_group_id,
                enable_rtc=enable_rtc,
                tags=list(tags or []),
                primary_region=region,
                primary_zone=source_zone,
                standby_region=destination_region,
                standby_zone=destination_zone,
            )
            self.groups[group.replica_group_id] = group
            return group

    def add_pair_to_group(
        self, *, region: str, group_id: str, pair_id: str, client_token: str | None = None
    ) -> None:
        with self._lock:
            group = self._group(region, group_id)
            pair = self._pair(region, pair_id)
            if pair.replica_group_id == group_id:
                return
            if pair.replica_group_id:
                raise OperationDenied("OperationDenied.PairInAnotherGroup")
            # Documented for the pair; for the group it is the fake's choice, so that a member
            # never joins mid-replication and the group's next operation carries it along.
            self._require_status(pair, _START_FROM)
            self._require_status(group, _START_FROM)
            if (pair.source_zone_id, pair.destination_zone_id) != (
                group.source_zone_id,
                group.destination_zone_id,
            ):
                raise OperationDenied("OperationDenied.PairGroupAZoneConflict")
            if len(group.pair_ids) >= _MAX_PAIRS_PER_GROUP:
                raise OperationDenied("OperationDenied.QuotaExceed")
            group.pair_ids.append(pair_id)
            pair.replica_group_id = group.replica_group_id
            pair.replica_group_name = group.group_name

    def start_group(
        self, *, region: str, group_id: str, one_shot: bool = False, client_token: str | None = None
    ) -> None:
        """StartDiskReplicaGroup: the group and each of its pairs start replicating."""
        with self._lock:
            group = self._group(region, group_id)
            self._require_status(group, _START_FROM)
            members = self._members(group, _START_FROM)

            def synced() -> None:
                # One recovery point for the group and every member: they replicate at the same moment.
                point = int(self.clock())
                group.last_recover_point = point
                for pair in self._members(group):
                    pair.synced_once = True
                    pair.last_recover_point = point

            self._begin_group(
                group,
                "StartDiskReplicaGroup",
                "manual_syncing" if one_shot else "initial_syncing",
                client_token,
                {pair.replica_pair_id: _start_transient(pair, one_shot) for pair in members},
                synced,
            )

    def stop_group(self, *, region: str, group_id: str, client_token: str | None = None) -> None:
        """StopDiskReplicaGroup: the group and its pairs stop replicating, together."""
        with self._lock:
            group = self._group(region, group_id)
            self._require_status(group, _STOP_FROM)
            members = self._members(group, _STOP_FROM)
            self._begin_group(
                group,
                "StopDiskReplicaGroup",
                "stopping",
                client_token,
                {pair.replica_pair_id: "stopping" for pair in members},
            )

    def failover_group(self, *, region: str, group_id: str, client_token: str | None = None) -> None:
        """FailoverDiskReplicaGroup: the group and its pairs fail over, together.

        A group already ``failovering`` or ``failovered`` is accepted and left as it is.
        """
        with self._lock:
            group = self._group(region, group_id)
            self._require_standby_region(region, group.source_region_id)
            self._require_status(group, _GROUP_FAILOVER_FROM)
            if not group.pair_ids:
                raise OperationDenied("OperationDenied.NoPairInGroup")
            if group.status in ("failovering", "failovered"):
                return
            members = self._members(group, denied=_FAILOVER_DENIED)
            self._begin_group(
                group,
                "FailoverDiskReplicaGroup",
                "failovering",
                client_token,
                {pair.replica_pair_id: "failovering" for pair in members},
            )

    def _members(
        self,
        group: ReplicaGroup,
        allowed: Iterable[str] | None = None,
        *,
        denied: Iterable[str] = (),
    ) -> list[ReplicaPair]:
        """The group's pairs; with ``allowed`` or ``denied``, each must be fit for the group's operation.

        An operation needs members (``NoPairInGroup``); a member whose own status
        refuses it is ``PairGroupStatusConflict``.
        """
        members = [self.pairs[pair_id] for pair_id in group.pair_ids]
        if allowed is None and not denied:
            return members
        if not members:
            raise OperationDenied("OperationDenied.NoPairInGroup")
        allowed_set = frozenset(allowed) if allowed is not None else None
        denied_set = frozenset(denied)
        for pair in members:
            if pair.status in denied_set or (allowed_set is not None and pair.status not in allowed_set):
                raise OperationDenied(
                    "OperationDenied.PairGroupStatusConflict",
                    f"{pair.replica_pair_id} is {pair.status}, {group.replica_group_id} is {group.status}.",
                )
        return members

    def describe_groups(
        self,
        *,
        region: str,
        site: str = "production",
        group_ids: list[str] | None = None,
        name: str | None = None,
        resource_group_id: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> list[dict[str, Any]]:
        """Groups whose ``site`` is ``region``, filtered; counts as a describe for transitions."""
        with self._lock:
            return self._select(self.groups.values(), region, site, group_ids, name, resource_group_id, tags)

    def _select(
        self,
        resources: Iterable[Resource],
        region: str,
        site: str,
        ids: list[str] | None,
        name: str | None,
        resource_group_id: str | None,
        tags: list[dict[str, str]] | None,
    ) -> list[dict[str, Any]]:
        """The describe filters shared by pairs and groups.

        Each transition shown counts as described once per call: a group's
        counts once however many of its members (and itself) the answer holds.
        """
        shown = [
            resource
            for resource in resources
            if resource.visible_in(region)
            and resource.site_in(region) == site
            and (ids is None or resource.resource_id in ids)
            and (not name or name in resource.name)
            and (not resource_group_id or resource.resource_group_id == resource_group_id)
            and (not tags or _has_tags(resource.tags, tags))
        ]
        owners = {owner.resource_id: owner for owner in map(self._owner, shown)}
        for owner in owners.values():
            self._on_describe(owner)
        return [resource.to_api(region) for resource in shown]

    # -- events from the world, not from the API -----------------------------

    def invalidate(self, pair_id: str, reason: str = "DeviceRemoved") -> None:
        """The world broke the pair (disk removed, order expired): status ``invalid``."""
        with self._lock:
            pair = self.pairs[pair_id]
            pair.pending = None
            pair.following = ""
            self._set_status(pair, "invalid")
            pair.status_message = reason

    def replicate(self, resource_id: str, at: float | None = None) -> None:
        """A replication cycle completed: ``LastRecoverPoint`` moves to ``at`` (default now).

        For a group, the group's and every member's: a group's pairs share one recovery point.
        """
        with self._lock:
            resource = self._any(resource_id)
            point = int(self.clock() if at is None else at)
            resource.last_recover_point = point
            if isinstance(resource, ReplicaGroup):
                for pair in self._members(resource):
                    pair.last_recover_point = point


def _start_transient(pair: ReplicaPair, one_shot: bool) -> str:
    """The status a Start puts ``pair`` in: a one-shot sync, its first full copy, or a later cycle."""
    if one_shot:
        return "manual_syncing"
    return "syncing" if pair.synced_once else "initial_syncing"


def _swap_direction(pair: ReplicaPair) -> None:
    pair.source_disk_id, pair.destination_disk_id = pair.destination_disk_id, pair.source_disk_id
    pair.source_region, pair.destination_region = pair.destination_region, pair.source_region
    pair.source_zone_id, pair.destination_zone_id = pair.destination_zone_id, pair.source_zone_id


def _check_zone(name: str, zone: str, region: str) -> None:
    if not zone.startswith(region + "-") or len(zone) <= len(region) + 1:
        raise InvalidParameter(name, f"zone {zone!r} is not in region {region!r}")


def _check_length(name: str, value: str, low: int, high: int) -> None:
    if value and not low <= len(value) <= high:
        raise InvalidParameter(name, f"expected {low} to {high} characters")


def _has_tags(have: list[dict[str, str]], wanted: list[dict[str, str]]) -> bool:
    present = {(t.get("TagKey"), t.get("TagValue")) for t in have}
    return all((t.get("TagKey"), t.get("TagValue")) in present for t in wanted)
