"""Decide: act or not, on which pairs, in which mode. Pure: no I/O.

The rules, in order:

1. A manual request names one pair; it acts only if that pair is configured
   in ``FAILOVER_TARGETS`` (else ``refused``).
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
5. A trigger older than ``FAILOVER_MAX_EVENT_AGE`` is ``refused`` as stale.
6. ``FAILOVER_MODE`` decides between ``dry_run`` and a live failover.

A level-less alarm counts as ``INFO``: it acts only when ``FAILOVER_MIN_LEVEL`` is ``INFO``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import LEVELS, Settings
from .token import client_token
from .triggers import Trigger

__all__ = ["Plan", "Target", "decide"]

_ALARM_KINDS = frozenset({"cms_callback", "cms_alarm"})
#: EventBridge event types that carry a threshold alarm (CloudMonitor's alert callback), judged by level.
_ALARM_EVENT_TYPES = frozenset({"cms:CloudMonitor:AlertWebHook"})


@dataclass(frozen=True, slots=True)
class Target:
    """One pair to fail over, with the ClientToken this trigger uses for it.

    ``source_disks``: the disks whose trouble this pair answers; the pair's source disk must be one of
    them (empty: no such check, as for an instance alarm or a manual request).
    """

    pair_id: str
    client_token: str
    resource_id: str | None
    source_disks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do: ``outcome`` is set when nothing is to be done (``ignored`` or ``refused``)."""

    targets: tuple[Target, ...]
    live: bool
    reason: str
    outcome: str | None = None


def decide(trigger: Trigger, settings: Settings, now: float) -> Plan:
    """The plan for one trigger under the instance's settings, at ``now`` (unix seconds)."""
    if trigger.kind == "manual":
        return _manual(trigger, settings)
    if trigger.state != "ALERT":
        return _skip("ignored", f"state {trigger.state} is not an alert")
    is_alarm = trigger.kind in _ALARM_KINDS or trigger.event_type in _ALARM_EVENT_TYPES
    if is_alarm and not _severe_enough(trigger.level, settings.min_level):
        return _skip(
            "ignored", f"level {trigger.level or 'none'} is below FAILOVER_MIN_LEVEL {settings.min_level}"
        )
    if not is_alarm and trigger.event_type not in settings.event_types:
        return _skip("ignored", f"event type {trigger.event_type} is not in FAILOVER_EVENT_TYPES")
    disks = tuple(resource for resource in trigger.resource_ids if resource.startswith("d-"))
    targets: dict[str, Target] = {}
    for resource in trigger.resource_ids:
        for pair_id in settings.targets.get(resource, ()):
            token = client_token(trigger.identity, pair_id)
            targets.setdefault(pair_id, Target(pair_id, token, resource, disks))
    if not targets:
        named = _some(trigger.resource_ids) or "no resource"
        return _skip("ignored", f"{named}: nothing mapped in FAILOVER_TARGETS")
    age = now - trigger.time if trigger.time is not None else 0.0
    if settings.max_event_age is not None and age > settings.max_event_age:
        limit = f"FAILOVER_MAX_EVENT_AGE {settings.max_event_age:.0f} s"
        return _skip("refused", f"stale: the trigger is {age:.0f} s old, over {limit}")
    return Plan(tuple(targets.values()), settings.live, "alert on a configured resource")


def _manual(trigger: Trigger, settings: Settings) -> Plan:
    pair_id = trigger.pair_id or ""
    if pair_id not in settings.configured_pairs:
        return _skip("refused", f"{pair_id} is not a pair configured in FAILOVER_TARGETS")
    target = Target(pair_id, client_token(trigger.identity, pair_id), None)
    return Plan((target,), settings.live, f"manual request: {trigger.reason}")


def _severe_enough(level: str | None, minimum: str) -> bool:
    return LEVELS.index(level if level in LEVELS else "INFO") >= LEVELS.index(minimum)


def _some(ids: tuple[str, ...], shown: int = 5) -> str:
    """A few ids for a message: an alarm may name thousands."""
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


def _skip(outcome: str, reason: str) -> Plan:
    return Plan((), False, reason, outcome)
