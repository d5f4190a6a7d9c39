"""The result event: one CloudEvents 1.0 event per invocation.

``type`` is ``ebs-failover.v1.<outcome>`` (the project's own namespace, versioned), ``dataschema`` names
the published JSON Schema (``schemas/result.json``, ``ebs-failover schema result``), ``subject`` is the
targets' ids (comma-separated, each once), and ``data`` carries everything an operator needs: the
outcome, the trigger, each target (``target_id`` and ``target_kind``; ``pair_id`` / ``group_id`` are kept
as aliases in version 1) with its ClientToken, EBS RequestId, status before and after, data-loss window,
error code and hint, and durations.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .outcomes import OUTCOMES

if TYPE_CHECKING:  # the command line reads results without loading the parse stage
    from .triggers import Trigger

__all__ = [
    "DATASCHEMA",
    "SCHEMA_PATH",
    "TYPE_PREFIX",
    "ResultView",
    "TargetView",
    "batch_entry",
    "build",
    "target_id",
    "trigger_summary",
]

#: The result's ``type`` is this plus the outcome; a new version of the result is a new prefix.
TYPE_PREFIX = "ebs-failover.v1."
#: The result's ``dataschema``: the ``$id`` of ``schemas/result.json``.
DATASCHEMA = "urn:ebs-failover:result:v1"
#: The published JSON Schema of the result (draft-07).
SCHEMA_PATH = Path(__file__).with_name("schemas") / "result.json"
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
        "targets": [_keyed(target) for target in targets],
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
        "dataschema": DATASCHEMA,
        "data": data,
    }
    if targets:
        event["subject"] = ",".join(dict.fromkeys(target_id(target) for target in targets))
    return event


def _keyed(target: dict[str, Any]) -> dict[str, Any]:
    """A target's entry with its id under one key and its kind beside it (the aliases kept in v1)."""
    kind = "group" if target.get("group_id") and not target.get("pair_id") else "pair"
    return {"target_id": target_id(target), "target_kind": kind, **target}


# -- reading a result: typed, read-only views over the CloudEvent's dict --------------------------------


class TargetView:
    """One target's entry in a result, read through typed properties (Powertools' data classes are the
    model): the channels and the command line read these names, never the dict's keys. A result may have
    come from outside (a replayed file): a value of the wrong type reads as absent."""

    __slots__ = ("raw",)

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw

    @property
    def target_id(self) -> str | None:
        found = self.raw.get("pair_id") or self.raw.get("group_id")
        return None if found is None else str(found)

    @property
    def outcome(self) -> str | None:
        return _text(self.raw.get("outcome"))

    @property
    def status_before(self) -> str | None:
        return _text(self.raw.get("status_before"))

    @property
    def status_after(self) -> str | None:
        return _text(self.raw.get("status_after"))

    @property
    def verified(self) -> bool | None:
        value = self.raw.get("verified")
        return value if isinstance(value, bool) else None

    @property
    def failover_seconds(self) -> float | None:
        return _number(self.raw.get("failover_seconds"))

    @property
    def reports_data_loss(self) -> bool:
        """Whether the entry says anything of the data loss (its value may still be unknown)."""
        return "data_loss_seconds" in self.raw

    @property
    def data_loss_seconds(self) -> Any:
        """As the entry gives it: a number of seconds, or whatever a result from outside holds."""
        return self.raw.get("data_loss_seconds")

    @property
    def error_code(self) -> str | None:
        return _text(self.raw.get("error_code"))

    @property
    def request_id(self) -> str | None:
        return _text(self.raw.get("request_id"))

    @property
    def hint(self) -> str | None:
        return _text(self.raw.get("hint"))

    @property
    def member_pairs(self) -> list[Mapping[str, Any]]:
        pairs = self.raw.get("member_pairs")
        return [p for p in pairs if isinstance(p, Mapping)] if isinstance(pairs, list) else []

    @property
    def drill(self) -> Mapping[str, Any] | None:
        report = self.raw.get("drill")
        return report if isinstance(report, Mapping) else None


class ResultView:
    """A result (the CloudEvent), read through typed properties; see :class:`TargetView`."""

    __slots__ = ("raw",)

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw

    @property
    def data(self) -> Mapping[str, Any]:
        data = self.raw.get("data")
        return data if isinstance(data, Mapping) else {}

    @property
    def id(self) -> str | None:
        return _text(self.raw.get("id"))

    @property
    def time(self) -> str | None:
        return _text(self.raw.get("time"))

    @property
    def source(self) -> str | None:
        return _text(self.raw.get("source"))

    @property
    def outcome(self) -> str | None:
        return _text(self.data.get("outcome"))

    @property
    def dry_run(self) -> bool:
        return self.data.get("dry_run") is True

    @property
    def reason(self) -> str | None:
        return _text(self.data.get("reason"))

    @property
    def region(self) -> str | None:
        return _text(self.data.get("region"))

    @property
    def trigger_identity(self) -> str | None:
        trigger = self.data.get("trigger")
        return _text(trigger.get("identity")) if isinstance(trigger, Mapping) else None

    @property
    def error(self) -> Mapping[str, Any]:
        error = self.data.get("error")
        return error if isinstance(error, Mapping) else {}

    @property
    def targets(self) -> tuple[TargetView, ...]:
        targets = self.data.get("targets")
        listed = targets if isinstance(targets, list) else []
        return tuple(TargetView(t) for t in listed if isinstance(t, Mapping))


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
