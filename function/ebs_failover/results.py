"""The result event: one CloudEvents 1.0 event per invocation.

``type`` ends in the outcome (``com.aliyun.ebs-failover.failed_over`` …),
``subject`` is the pair or group id (several, comma-separated, when one alarm
maps to several targets), and ``data`` carries everything an operator needs: the
outcome, the trigger, each pair's ClientToken, EBS RequestId, status before
and after, data-loss window, error code and hint, and durations.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .outcomes import OUTCOMES

if TYPE_CHECKING:  # the command line reads results without loading the parse stage
    from .triggers import Trigger

__all__ = [
    "TYPE_PREFIX",
    "batch_entry",
    "build",
    "target_id",
    "trigger_summary",
]

TYPE_PREFIX = "com.aliyun.ebs-failover."
#: Resource ids a result lists at most: an alarm may name thousands, and the result must fit a message.
RESOURCES_SHOWN = 50


def target_id(target: dict[str, Any]) -> str:
    """A result entry's pair id, or group id."""
    return str(target.get("pair_id") or target.get("group_id"))


def trigger_summary(trigger: Trigger, *, resources_shown: int = RESOURCES_SHOWN) -> dict[str, Any]:
    """What the result (and ``ebs-failover check``) says of the trigger."""
    summary: dict[str, Any] = {
        "kind": trigger.kind,
        "identity": trigger.identity,
        "state": trigger.state,
        "level": trigger.level,
        "resource_ids": list(trigger.resource_ids[:resources_shown]),
        "resource_count": len(trigger.resource_ids),
        "rule": trigger.rule,
        "event_type": trigger.event_type,
    }
    if trigger.summary:
        summary["summary"] = dict(trigger.summary)
    return summary


def batch_entry(
    index: int, trigger: Trigger | None, outcome: str, reason: str, targets: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """One event of a batch, as the result lists it (its pairs' details are in the result's targets)."""
    return {
        "index": index,
        "identity": None if trigger is None else trigger.identity,
        "outcome": outcome,
        "reason": reason,
        "targets": [target_id(target) for target in targets],
    }


def build(
    *,
    outcome: str,
    source: str,
    request_id: str | None,
    trigger: dict[str, Any] | None,
    targets: Sequence[dict[str, Any]],
    region: str | None,
    dry_run: bool,
    reason: str,
    duration_ms: float,
    error: dict[str, str] | None = None,
    batch: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The CloudEvent for one invocation (``batch``: each event's entry, for an EventBridge batch)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    data: dict[str, Any] = {
        "outcome": outcome,
        "reason": reason,
        "dry_run": dry_run,
        "region": region,
        "request_id": request_id,
        "trigger": trigger,
        "targets": list(targets),
        "duration_ms": round(duration_ms, 1),
    }
    if error is not None:
        data["error"] = error
    if batch is not None:
        data["batch"] = list(batch)
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": TYPE_PREFIX + outcome,
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": data,
    }
    if targets:
        event["subject"] = ",".join(target_id(target) for target in targets)
    return event
