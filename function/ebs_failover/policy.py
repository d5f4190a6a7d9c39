"""Decide: act or not, on which pairs, in which mode. Pure: no I/O.

The rules, in order:

1. A manual request names one pair; it acts only if that pair is configured
   in ``FAILOVER_TARGETS`` (else ``refused``).
2. An alarm acts only while alerting (``OK`` and ``INSUFFICIENT_DATA`` are
   recoveries: ``ignored``) and at or above ``FAILOVER_MIN_LEVEL``.
3. An event acts only if its type is in ``FAILOVER_EVENT_TYPES`` (CloudMonitor's
   alert callback through EventBridge is an alarm, judged by rule 2).
4. The resource ids the trigger names map to pairs through
   ``FAILOVER_TARGETS``; naming nothing mapped is ``ignored``.
5. ``FAILOVER_MODE`` decides between ``dry_run`` and a live failover.
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
    """One pair to fail over, with the ClientToken this trigger uses for it."""

    pair_id: str
    client_token: str
    resource_id: str | None


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do: ``outcome`` is set when nothing is to be done (``ignored`` or ``refused``)."""

    targets: tuple[Target, ...]
    live: bool
    reason: str
    outcome: str | None = None


def decide(trigger: Trigger, settings: Settings) -> Plan:
    """The plan for one trigger under the instance's settings."""
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
    targets: dict[str, Target] = {}
    for resource in trigger.resource_ids:
        for pair_id in settings.targets.get(resource, ()):
            targets.setdefault(pair_id, Target(pair_id, client_token(trigger.identity, pair_id), resource))
    if not targets:
        named = _some(trigger.resource_ids) or "no resource"
        return _skip("ignored", f"{named}: nothing mapped in FAILOVER_TARGETS")
    return Plan(tuple(targets.values()), settings.live, "alert on a configured resource")


def _manual(trigger: Trigger, settings: Settings) -> Plan:
    pair_id = trigger.pair_id or ""
    if pair_id not in settings.configured_pairs:
        return _skip("refused", f"{pair_id} is not a pair configured in FAILOVER_TARGETS")
    target = Target(pair_id, client_token(trigger.identity, pair_id), None)
    return Plan((target,), settings.live, f"manual request: {trigger.reason}")


def _severe_enough(level: str | None, minimum: str) -> bool:
    if level not in LEVELS:
        return False
    return LEVELS.index(level) >= LEVELS.index(minimum)


def _some(ids: tuple[str, ...], shown: int = 5) -> str:
    """A few ids for a message: an alarm may name thousands."""
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


def _skip(outcome: str, reason: str) -> Plan:
    return Plan((), False, reason, outcome)
