"""The fake EBS backend's shared state and machinery (see :mod:`ebs_failover.testing.ebs.models`).

State of the fake EBS: replica pairs and groups, their status machine, ClientTokens.

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

import itertools
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from ebs_failover.testing._core.errors import InvalidParameter
from ebs_failover.testing.ebs.exceptions import IdempotentParameterMismatch, NoSuchResource, OperationDenied

from .controls import Drills
from .records import (
    OUTCOMES,
    Drill,
    DrillOperation,
    Operation,
    Pending,
    ReplicaGroup,
    ReplicaPair,
    Resource,
    Transitions,
    fingerprint,
)

__all__ = ["BackendState"]


class BackendState:
    """One account's state (pairs, groups, drills, ClientTokens) and the machinery every resource shares:
    idempotence, ids, the status machine, lookups and the checks operations make. The resources'
    operations are the mixins' (:mod:`.pairs`, :mod:`.groups`, :mod:`.drills`), composed in
    :class:`~.EbsBackend`; every public method runs under the one ``lock``.
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
        joined_pair_ids: bool = False,
    ) -> None:
        self.account_id = account_id
        self.transitions = transitions if transitions is not None else Transitions()
        self.clock = clock
        self.rng = rng if rng is not None else random.Random()
        #: What FailoverDiskReplicaPair does to a pair already ``failovered``:
        #: the docs do not say; ``"accept"`` answers success and changes
        #: nothing, ``"deny"`` answers ``OperationDenied.InvalidStatus``.
        self.repeat_failover = repeat_failover
        #: List a group's pairs as one comma-joined string (the API metadata's example), see ``FakeEbs``.
        self.joined_pair_ids = joined_pair_ids
        self.pairs: dict[str, ReplicaPair] = {}
        self.groups: dict[str, ReplicaGroup] = {}
        self.operations: list[Operation] = []
        self._tokens: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self.lock = threading.RLock()
        #: The account's drills, by id, and the drill calls that changed one.
        self.drill_records: dict[str, Drill] = {}
        self.drill_operations: list[DrillOperation] = []
        #: The test-facing drill controls every account shares (``FakeEbs.drills``).
        self.drill_controls = drills if drills is not None else Drills()
        self._drill_sequence = itertools.count(1)

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
        with self.lock:
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
        members: Mapping[str, str] | None = None,
    ) -> None:
        """Enter ``transient`` and let it move on as its :class:`Transition` says.

        ``members`` (a group's operation): the pairs already carried along by
        :meth:`_begin_group` (id -> the status each had before), recorded in the one :class:`Operation`.
        """
        before = resource.status
        carried = tuple(members or ())
        self._set_status(resource, transient)
        now = self.clock()
        self.operations.append(
            Operation(action, resource.resource_id, before, transient, token, now, carried)
        )
        rule = self.transitions.get(transient, resource.resource_id)
        shown_before = {**(members or {}), resource.resource_id: before}
        resource.pending = Pending(rule, rule.times, on_success, carried, now, shown_before)
        if rule.progression == "immediate" or (
            rule.progression == "timed" and rule.start_delay + rule.settle == 0
        ):
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
        before: dict[str, str] = {}
        for pair_id, member_transient in members.items():
            pair = self.pairs[pair_id]
            before[pair_id] = pair.status
            pair.pending = None  # the group's transition is the member's now
            self._set_status(pair, member_transient)
            pair.following = group.replica_group_id
        self._begin(group, action, transient, token, on_success, before)

    def _complete(self, resource: Resource) -> None:
        pending = resource.pending
        if pending is None:
            return
        resource.pending = None
        success, failure = OUTCOMES[resource.status]
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

    def _tick(self, resource: Resource) -> None:
        """Complete the transition moving ``resource`` (its own, or its group's) if its time is up."""
        owner = self._owner(resource)
        if owner.pending is not None and owner.pending.phase(self.clock()) == "done":
            self._complete(owner)

    def _shown_status(self, resource: Resource) -> str | None:
        """The status a Describe shows instead of the true one: the one before the call, while a ``timed``
        transition has not started showing (None: the true one)."""
        pending = self._owner(resource).pending
        if pending is None or pending.phase(self.clock()) != "starting":
            return None
        return pending.before.get(resource.resource_id)

    def _on_describe(self, resource: Resource) -> None:
        pending = resource.pending
        if pending is not None and pending.rule.progression == "timed":
            self._tick(resource)
            return
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
        with self.lock:
            resources: Iterable[Resource]
            if resource_id is not None and resource_id in self.drill_records:
                return self._advance_drills(resource_id)
            done = 0
            if resource_id is None:
                resources = [*self.pairs.values(), *self.groups.values()]
                done += self._advance_drills()
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
        self._tick(pair)
        return pair

    def _group(self, region: str, group_id: str) -> ReplicaGroup:
        group = self.groups.get(group_id)
        if group is None or not group.visible_in(region):
            raise NoSuchResource()
        self._tick(group)
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
    def _require_standby_region(region: str, source: str, destination: str) -> None:
        """A call for the secondary goes to its region; with both sites in one region, that region."""
        if region == source != destination:
            raise OperationDenied("OperationDenied.OperateNotAllowedForPrimary")

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
            and site in resource.sites_in(region)
            and (ids is None or resource.resource_id in ids)
            and (not name or name in resource.name)
            and (not resource_group_id or resource.resource_group_id == resource_group_id)
            and (not tags or _has_tags(resource.tags, tags))
        ]
        owners = {owner.resource_id: owner for owner in map(self._owner, shown)}
        for owner in owners.values():
            self._on_describe(owner)
        answers = []
        for resource in shown:
            answer = {**resource.to_api(region), "Site": site}  # both sites in one region: the one asked for
            if (before := self._shown_status(resource)) is not None:
                answer["Status"] = before
            answers.append(answer)
        return answers

    def _advance_drills(self, drill_id: str | None = None) -> int:
        """Complete drills' pending transitions (the drills mixin's); none without it."""
        return 0


def _check_sites(source: tuple[str, str], destination: tuple[str, str]) -> None:
    """The two sites differ: another region, or another zone of the same region (CreateDiskReplicaGroup's
    description; Terraform's acceptance test builds a pair from cn-hangzhou-g to cn-hangzhou-h)."""
    if source == destination:
        raise InvalidParameter("DestinationZoneId", "the secondary must be in another zone or region")


def _check_zone(name: str, zone: str, region: str) -> None:
    if not zone.startswith(region + "-") or len(zone) <= len(region) + 1:
        raise InvalidParameter(name, f"zone {zone!r} is not in region {region!r}")


def _check_length(name: str, value: str, low: int, high: int) -> None:
    if value and not low <= len(value) <= high:
        raise InvalidParameter(name, f"expected {low} to {high} characters")


def _has_tags(have: list[dict[str, str]], wanted: list[dict[str, str]]) -> bool:
    present = {(t.get("TagKey"), t.get("TagValue")) for t in have}
    return all((t.get("TagKey"), t.get("TagValue")) in present for t in wanted)
