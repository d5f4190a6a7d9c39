"""The checks: one chain, per action, that says whether a target the preflight saw may be acted on.

Pure: what Describe showed (:class:`~.records.Seen`), the trigger's target and the
:class:`~.records.Guards` in; a :class:`Verdict` (the outcome and why) or None out.
Each check is a small function; an action is the ordered tuple of checks it needs:

=====================  ==========================================================  ========
check                  stops the target when                                       actions
=====================  ==========================================================  ========
``signal``             the trigger names disks that are not the target's sources   failover
``member``             the pair belongs to a replica group (groups act whole)      both
``done``               it is ``failovering``/``failovered`` (a failover: already    both
                       failed over, reported so; a drill: nothing to drill)
``stale``              the trigger is stale (after ``done``: a retry of a failover  failover
                       is reported, whatever its age)
``hopeless``           its status forbids any action (invalid, deleted, creating…)  both
``failing_back``       a fail-back (reprotect) is under way or failed              both
``direction``          it replicates toward another region than FAILOVER_REGION    both
                       (or zone than FAILOVER_ZONE; both sites in one region and
                       no FAILOVER_ZONE: the standby side cannot be told)
``empty_group``        the group has no pairs                                      both
``blocking_member``    a pair of the group is not visible, or in a status EBS      both
                       refuses (PairGroupStatusConflict) or a fail-back
``no_data``            the secondary holds no recovery point yet                   both
``stopped``            replication is stopped and an alarm (not an operator) asks  failover
``data_loss``          an alarm's failover would lose more than FAILOVER_MAX_DATA_  failover
                       LOSS
``replicating``        replication is not running (a drill clones a live replica)   drill
=====================  ==========================================================  ========

The first check that stops a target decides its verdict. A new action (a recovery plan) is a new tuple.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ebs_failover.policy import Target

from .records import Guards, Seen

__all__ = ["DONE", "DRILL", "FAILOVER", "Action", "Subject", "Verdict", "check"]

#: Statuses in which the secondary is (becoming) the live copy: the failover is done or under way.
DONE = frozenset({"failovered", "failovering"})
#: Statuses in which no action can help: the outcome is ``refused``.
_HOPELESS = frozenset({"invalid", "deleted", "deleting", "delete_failed", "creating", "create_failed"})
#: Statuses in which the secondary has never held a full copy: nothing to fail over to.
_NO_DATA = frozenset({"created", "initial_syncing"})
#: Statuses of a fail-back (reprotect) in progress or failed: the operator is bringing the primary back.
_FAILING_BACK = frozenset({"reprotecting", "reprotect_failed"})
#: Statuses a target is drilled in: replicating, so the secondary holds a recovery point.
_REPLICATING = frozenset({"normal", "syncing"})


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a check stopped a target: its outcome (``ignored``, ``refused``, ``already_failed_over``) and the
    hint the result gives."""

    outcome: str
    hint: str


@dataclass(frozen=True, slots=True)
class Subject:
    """What a check looks at: the target as the trigger named it, as the preflight saw it, and the guards."""

    target: Target
    seen: Seen
    guards: Guards
    #: Seconds since the secondary's last recovery point (None: no recovery point).
    data_loss_seconds: int | None

    @property
    def noun(self) -> str:
        return "group" if self.target.is_group else "pair"


Check = Callable[["Action", Subject], "Verdict | None"]


@dataclass(frozen=True, slots=True)
class Action:
    """An action the checks guard, with the words its hints use."""

    name: str
    #: "fail over" / "drill": what is done to a target.
    verb: str
    #: "failed over" / "drilled".
    done_verb: str
    #: What a replica group's pairs do together.
    together: str
    #: The action on a whole group ("fail a group over").
    on_a_group: str
    checks: tuple[Check, ...]
    #: A target found failed over is this action's success already (``already_failed_over``), not a refusal.
    reports_already_done: bool = False


def check(action: Action, subject: Subject) -> Verdict | None:
    """The verdict of the first of ``action``'s checks that stops ``subject``; None when all pass."""
    for each in action.checks:
        verdict = each(action, subject)
        if verdict is not None:
            return verdict
    return None


# -- the checks, in the order the actions run them ------------------------------------------------------


def signal(action: Action, subject: Subject) -> Verdict | None:
    """The trigger is about disks of its own (an ECS or EBS event): the target must have one as source."""
    wanted, sources = subject.target.source_disks, subject.seen.source_disks
    if not wanted or set(sources) & set(wanted):
        return None
    return Verdict(
        "ignored",
        f"the trigger is about {', '.join(wanted)}, and this {subject.noun}'s source (primary) disks are "
        f"{', '.join(sources) or 'unknown'}: nothing to {action.verb} for it",
    )


def member(action: Action, subject: Subject) -> Verdict | None:
    group = subject.seen.group_id
    if not group:
        return None
    return Verdict(
        "refused",
        f"the pair belongs to replica group {group}, whose pairs {action.together}: configure {group} in "
        "FAILOVER_TARGETS instead of the pair",
    )


def done(action: Action, subject: Subject) -> Verdict | None:
    """A failover already done or under way: a failover reports it so; nothing else can act on it."""
    status = subject.seen.status
    if status not in DONE:
        return None
    if action.reports_already_done:
        return Verdict(
            "already_failed_over",
            f"the {subject.noun} was {status} when this delivery looked, so no Failover was sent: an earlier "
            "delivery of this trigger (same ClientToken) or someone else failed it over; the function keeps "
            "no store, so it cannot tell which",
        )
    return Verdict(
        "refused",
        f"the {subject.noun} is {status}: the secondary is (becoming) the live copy, so there is nothing to "
        f"{action.verb} (reprotect it first)",
    )


def hopeless(action: Action, subject: Subject) -> Verdict | None:
    status = subject.seen.status
    if status not in _HOPELESS:
        return None
    return Verdict("refused", f"a {subject.noun} in status {status} cannot be {action.done_verb}")


def failing_back(action: Action, subject: Subject) -> Verdict | None:
    status = subject.seen.status
    if status not in _FAILING_BACK:
        return None
    return Verdict(
        "refused",
        f"the {subject.noun} is {status}: a fail-back is under way, and the function never fights one",
    )


def direction(action: Action, subject: Subject) -> Verdict | None:
    """The target replicates toward the standby side: FAILOVER_REGION, and FAILOVER_ZONE when set. With
    both sites in one region the region says nothing, so the zone must be configured and must match."""
    seen, region, zone = subject.seen, subject.guards.region, subject.guards.zone
    toward = seen.destination_region
    if toward and toward != region:
        return Verdict(
            "refused",
            f"the {subject.noun} replicates toward {toward}, not toward FAILOVER_REGION {region}: "
            "a fail-back reversed it, and the function never fights one",
        )
    if seen.one_region and zone is None:
        return Verdict(
            "refused",
            f"both sites of the {subject.noun} are zones of {toward} ({seen.source_zone} -> "
            f"{seen.destination_zone}): set FAILOVER_ZONE to the standby zone, so that a fail-back that "
            "reversed it cannot be mistaken for the way it was built",
        )
    if zone is None:
        return None
    # Both zone fields must say FAILOVER_ZONE: StandbyZone is the initial destination zone (the SDK's
    # docs), DestinationZoneId the current one (a fail-back with reverse replication swaps it); with both
    # sites in one region a missing zone leaves the direction unknown.
    shown = {seen.destination_zone, seen.standby_zone} - {""}
    if seen.one_region and not seen.destination_zone:
        return Verdict(
            "refused",
            f"both sites of the {subject.noun} are zones of {toward}, and Describe named no "
            "DestinationZoneId: the standby side cannot be told",
        )
    wrong = sorted(shown - {zone})
    if wrong:
        reversed_here = seen.one_region and seen.source_zone == zone
        why = (
            "a fail-back reversed it, and the function never fights one"
            if reversed_here
            else ("check FAILOVER_ZONE")
        )
        return Verdict(
            "refused",
            f"the {subject.noun} replicates toward zone {wrong[0]}, not toward FAILOVER_ZONE {zone}: {why}",
        )
    return None


def stale(action: Action, subject: Subject) -> Verdict | None:
    """A stale trigger acts on nothing; it is checked after ``done``, so that a retry of a delivery that
    failed the target over still says so, whatever the trigger's age."""
    if subject.guards.stale is None:
        return None
    return Verdict("refused", subject.guards.stale)


def empty_group(action: Action, subject: Subject) -> Verdict | None:
    if not subject.target.is_group or subject.seen.members:
        return None
    return Verdict("refused", f"the replica group has no pairs: nothing to {action.verb}")


def blocking_member(action: Action, subject: Subject) -> Verdict | None:
    """A group's pairs, as the preflight saw them, forbid the action: EBS would refuse it, or the group is
    not what FAILOVER_TARGETS was written for."""
    if not subject.target.is_group:
        return None
    for pair in subject.seen.members:
        if pair.status is None:
            return Verdict(
                "refused",
                f"the group's pair {pair.pair_id} is not visible from the backup site: the group is not "
                f"whole here, so it is not {action.done_verb} (check it in the console)",
            )
        if pair.status in _HOPELESS or pair.status in _FAILING_BACK:
            return Verdict(
                "refused",
                f"the group's pair {pair.pair_id} is {pair.status}: EBS does not {action.on_a_group} with "
                "a pair in that status (PairGroupStatusConflict), and the function never fights a fail-back",
            )
    return None


def no_data(action: Action, subject: Subject) -> Verdict | None:
    seen = subject.seen
    if seen.status not in _NO_DATA and seen.last_recover_point:
        return None
    return Verdict(
        "refused",
        f"the secondary holds no recovery point (status {seen.status}, LastRecoverPoint "
        f"{seen.last_recover_point or 0}): the first full synchronisation has not finished",
    )


def stopped(action: Action, subject: Subject) -> Verdict | None:
    """An alarm does not fail over a target whose replication is stopped; an operator's request may."""
    if subject.seen.status != "stopped" or subject.guards.by_operator:
        return None
    return Verdict(
        "refused",
        "replication is stopped (a fail-back with ReverseReplicate=false, or maintenance): an alarm does not "
        "fail it over; a manual request can",
    )


def data_loss(action: Action, subject: Subject) -> Verdict | None:
    """An alarm's failover may lose at most FAILOVER_MAX_DATA_LOSS; an operator who asks accepts the loss the
    result reports."""
    limit, loss = subject.guards.max_data_loss, subject.data_loss_seconds or 0
    if limit is None or subject.guards.by_operator or loss <= limit:
        return None
    return Verdict(
        "refused",
        f"the last recovery point is {loss} s old, over FAILOVER_MAX_DATA_LOSS {limit:.0f} s",
    )


def replicating(action: Action, subject: Subject) -> Verdict | None:
    status = subject.seen.status
    if status in _REPLICATING:
        return None
    return Verdict(
        "refused",
        f"a {action.name} needs replication running (normal or syncing); the {subject.noun} is {status}",
    )


FAILOVER = Action(
    "failover",
    verb="fail over",
    done_verb="failed over",
    together="fail over together to one point in time",
    on_a_group="fail a group over",
    checks=(
        signal,
        member,
        done,
        stale,
        hopeless,
        failing_back,
        direction,
        empty_group,
        blocking_member,
        no_data,
        stopped,
        data_loss,
    ),
    reports_already_done=True,
)

DRILL = Action(
    "drill",
    verb="drill",
    done_verb="drilled",
    together="act together",
    on_a_group="drill a group",
    checks=(
        member,
        done,
        hopeless,
        failing_back,
        direction,
        empty_group,
        blocking_member,
        no_data,
        replicating,
    ),
)
