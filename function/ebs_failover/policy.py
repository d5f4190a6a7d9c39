"""Decide: act or not, on which pairs, in which mode. Pure: no I/O.

The rules, in order:

1. A manual request names one pair, one replica group, or a disk or instance
   id; it acts only on what ``FAILOVER_TARGETS`` configures (else ``refused``).
2. An alarm acts only while alerting (``OK`` and ``INSUFFICIENT_DATA`` are
   recoveries: ``ignored``) and at or above ``FAILOVER_MIN_LEVEL``.
3. An event acts only if its type is in ``FAILOVER_EVENT_TYPES`` (CloudMonitor's
   alert callback through EventBridge is an alarm, judged by rule 2).
4. The resource ids the trigger names map to pairs through
   ``FAILOVER_TARGETS``; naming nothing mapped is ``ignored``. A trigger that
   names disks is about those disks (an instance id beside them is where they are
   attached): every pair it maps, through a disk or its instance, carries them,
   and the act stage fails a pair over only if one of them is its source
   (primary) disk. A trigger that names only instances acts on their pairs.
5. A trigger dated more than :data:`FUTURE_SKEW` seconds ahead is ``refused`` whole as implausible. A
   trigger older than ``FAILOVER_MAX_EVENT_AGE``, or with no time at all while that limit is set, is
   stale: its targets are still looked at (:attr:`Plan.stale`), so that a retry of a delivery that
   failed them over reports ``already_failed_over``; every other target is ``refused`` as stale.
6. A trigger that maps more targets (pairs and groups, a group counting once) than
   ``FAILOVER_MAX_TARGETS`` is ``refused`` whole: a mis-mapped alarm must not fail
   a region over. A manual request may set its own cap (``maxTargets``); the events of one batch
   are capped together (:func:`cap_batch`).
7. ``FAILOVER_MODE`` decides between ``dry_run`` and a live failover.
8. A drill (a manual request's, or the timer's) names one configured target, what a disk or instance
   maps, or every configured target; it is capped like a failover. It never fails over, so it runs in
   dry-run mode too: it changes nothing in production.

A level-less alarm counts as ``INFO``: it acts only when ``FAILOVER_MIN_LEVEL`` is ``INFO``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .config import LEVELS, Settings
from .token import client_token, drill_token
from .triggers import Trigger

__all__ = ["Plan", "Target", "cap_batch", "decide"]

_ALARM_KINDS = frozenset({"cms_callback", "cms_alarm"})
#: EventBridge event types that carry a threshold alarm (CloudMonitor's alert callback), judged by level.
_ALARM_EVENT_TYPES = frozenset({"cms:CloudMonitor:AlertWebHook"})


@dataclass(frozen=True, slots=True)
class Target:
    """One pair (``pair-…``) or replica group (``pg-…``) to fail over, with the ClientToken this trigger
    uses for it.

    ``source_disks``: the disks whose trouble this target answers; the pair's source disk (for a group,
    one of its pairs') must be one of them (empty: no such check, as for an instance alarm or a manual
    request).
    """

    target_id: str
    client_token: str
    resource_id: str | None
    source_disks: tuple[str, ...] = ()

    @property
    def is_group(self) -> bool:
        """A replica group, failed over whole with FailoverDiskReplicaGroup."""
        return self.target_id.startswith("pg-")


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do: ``outcome`` is set when nothing is to be done (``ignored`` or ``refused``).

    ``action``: ``failover``, or ``drill`` (``keep``: leave the drill disks); a drill's ``live`` only
    says the mode, since a drill runs in both.
    """

    targets: tuple[Target, ...]
    live: bool
    reason: str
    outcome: str | None = None
    action: str = "failover"
    keep: bool = False
    #: Why the trigger is stale (its targets are looked at, and refused unless already failed over).
    stale: str | None = None


def decide(trigger: Trigger, settings: Settings, now: float) -> Plan:
    """The plan for one trigger under the instance's settings, at ``now`` (unix seconds)."""
    if trigger.action == "drill":
        return _drill(trigger, settings)
    if trigger.kind == "manual":
        return _manual(trigger, settings)
    if trigger.state != "ALERT":
        return _skip("ignored", trigger.over or f"state {trigger.state} is not an alert")
    is_alarm = trigger.kind in _ALARM_KINDS or trigger.event_type in _ALARM_EVENT_TYPES
    if is_alarm and not _severe_enough(trigger.level, settings.min_level):
        return _skip(
            "ignored", f"level {trigger.level or 'none'} is below FAILOVER_MIN_LEVEL {settings.min_level}"
        )
    if not is_alarm and trigger.event_type not in settings.event_types:
        return _skip("ignored", f"event type {trigger.event_type} is not in FAILOVER_EVENT_TYPES")
    disks = tuple(resource for resource in trigger.resource_ids if resource.startswith("d-"))
    targets = _mapped(trigger, settings, disks)
    if not targets:
        named = _some(trigger.resource_ids) or "no resource"
        return _skip("ignored", f"{named}: nothing mapped in FAILOVER_TARGETS")
    if trigger.time is not None and trigger.time - now > FUTURE_SKEW:
        ahead = trigger.time - now
        return _skip("refused", f"implausible: the trigger is dated {ahead:.0f} s in the future")
    if len(targets) > settings.max_targets:
        return _skip("refused", _too_many(len(targets), settings.max_targets, "FAILOVER_MAX_TARGETS"))
    stale = _staleness(trigger, settings, now)
    if stale is not None:
        reason = f"{stale}: each target is looked at, and refused unless EBS shows it failed over already"
        return Plan(targets, settings.live, reason, stale=stale)
    return Plan(targets, settings.live, "alert on a configured resource")


#: Seconds a trigger may be dated ahead of the function's clock (clocks differ a little).
FUTURE_SKEW = 300.0


def _staleness(trigger: Trigger, settings: Settings, now: float) -> str | None:
    """Why the trigger is too old to act on (None: it is not), under FAILOVER_MAX_EVENT_AGE."""
    limit = settings.max_event_age
    if limit is None:
        return None
    if trigger.time is None:
        return (
            f"stale: the trigger carries no time, so FAILOVER_MAX_EVENT_AGE {limit:.0f} s cannot vouch for it"
        )
    age = now - trigger.time
    if age > limit:
        return f"stale: the trigger is {age:.0f} s old, over FAILOVER_MAX_EVENT_AGE {limit:.0f} s"
    return None


def cap_batch(plans: Sequence[Plan], settings: Settings) -> list[Plan]:
    """The plans of one batch of events (EventBridge's event streaming), capped as one: when the plans
    that act name more distinct targets together than ``FAILOVER_MAX_TARGETS``, every one of them is
    ``refused`` (a storm of events is a region failing over, which a person decides)."""
    acting = {target.target_id for plan in plans if plan.outcome is None for target in plan.targets}
    if len(acting) <= settings.max_targets:
        return list(plans)
    reason = _too_many(len(acting), settings.max_targets, "FAILOVER_MAX_TARGETS").replace(
        "the trigger maps", "the batch's events map", 1
    )
    return [plan if plan.outcome is not None else _skip("refused", reason) for plan in plans]


def _mapped(trigger: Trigger, settings: Settings, disks: tuple[str, ...]) -> tuple[Target, ...]:
    """The targets the trigger's resource ids map to, each once, in the order they are named."""
    targets: dict[str, Target] = {}
    for resource in trigger.resource_ids:
        for target_id in settings.targets.get(resource, ()):
            token = client_token(trigger.identity, target_id)
            targets.setdefault(target_id, Target(target_id, token, resource, disks))
    return tuple(targets.values())


def _manual(trigger: Trigger, settings: Settings) -> Plan:
    named = trigger.target_id or ""
    if named.startswith(("d-", "i-")):
        # An operator naming a disk or an instance asks for what it maps, whatever its source disk is.
        targets = tuple(
            Target(target_id, client_token(trigger.identity, target_id), named)
            for target_id in settings.targets.get(named, ())
        )
        if not targets:
            return _skip("refused", f"{named} is not a resource mapped in FAILOVER_TARGETS")
    elif named in settings.configured_targets:
        targets = (Target(named, client_token(trigger.identity, named), None),)
    else:
        kind = "group" if named.startswith("pg-") else "pair"
        return _skip("refused", f"{named} is not a {kind} configured in FAILOVER_TARGETS")
    reason = f"manual request: {trigger.reason}"
    limit = trigger.max_targets or settings.max_targets
    if len(targets) > limit:
        variable = "its maxTargets" if trigger.max_targets else "FAILOVER_MAX_TARGETS"
        return _skip("refused", _too_many(len(targets), limit, variable))
    if trigger.max_targets is not None and trigger.max_targets != settings.max_targets:
        raised = settings.max_targets
        reason += f" (maxTargets {trigger.max_targets} in place of FAILOVER_MAX_TARGETS {raised})"
    return Plan(targets, settings.live, reason)


def _drill(trigger: Trigger, settings: Settings) -> Plan:
    """A drill of what the request names (a configured target, what a disk or instance maps), or of every
    configured target, in a stable order; capped like a failover."""
    named = trigger.target_id
    if named is None:
        ids: tuple[str, ...] = tuple(sorted(settings.configured_targets))
        if not ids:
            return _skip(
                "refused", "nothing to drill: FAILOVER_TARGETS configures no pair or group", action="drill"
            )
    elif named.startswith(("d-", "i-")):
        ids = settings.targets.get(named, ())
        if not ids:
            return _skip("refused", f"{named} is not a resource mapped in FAILOVER_TARGETS", action="drill")
    elif named in settings.configured_targets:
        ids = (named,)
    else:
        kind = "group" if named.startswith("pg-") else "pair"
        return _skip("refused", f"{named} is not a {kind} configured in FAILOVER_TARGETS", action="drill")
    limit = trigger.max_targets or settings.max_targets
    if len(ids) > limit:
        variable = "its maxTargets" if trigger.max_targets else "FAILOVER_MAX_TARGETS"
        return _skip(
            "refused",
            f"the drill names {len(ids)} targets, over {variable} {limit}: refused whole (each drill makes "
            "pay-as-you-go disks and uses the API quota the failover path shares; maxTargets raises the cap)",
            action="drill",
        )
    targets = tuple(Target(target_id, drill_token(trigger.identity, target_id), named) for target_id in ids)
    reason = str(trigger.reason)
    if not reason.startswith("drill"):
        reason = f"drill: {reason}"
    return Plan(targets, settings.live, reason, action="drill", keep=trigger.keep)


def _too_many(count: int, limit: int, variable: str) -> str:
    return (
        f"the trigger maps {count} targets, over {variable} {limit}: refused whole, so that a mis-mapped "
        "alarm cannot fail a region over (a manual request may raise the cap with maxTargets)"
    )


def _severe_enough(level: str | None, minimum: str) -> bool:
    return LEVELS.index(level if level in LEVELS else "INFO") >= LEVELS.index(minimum)


def _some(ids: tuple[str, ...], shown: int = 5) -> str:
    """A few ids for a message: an alarm may name thousands."""
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


def _skip(outcome: str, reason: str, *, action: str = "failover") -> Plan:
    return Plan((), False, reason, outcome, action=action)
