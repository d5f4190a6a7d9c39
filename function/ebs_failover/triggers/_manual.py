"""The manual request: a failover, or a drill.

``{"action": "failover", "replicaPairId" | "replicaGroupId" | "resourceId", "reason", "idempotencyKey"?,
"maxTargets"?}``: exactly one of the three names what to fail over (a pair, a replica group, or every
target a disk or instance id maps in ``FAILOVER_TARGETS``).

``{"action": "drill", "replicaPairId" | "replicaGroupId" | "resourceId"?, "reason"?, "keep"?,
"idempotencyKey"?, "maxTargets"?}``: a drill of what one of them names, or of every configured target
when none does; never a failover. ``keep`` leaves the drill's disks for a person to look at.
"""

from __future__ import annotations

from typing import Any

from ebs_failover.redact import shorten

from . import _values as values
from ._model import InvalidEvent, Trigger
from ._schema import validate

#: The fields that name a manual request's target, one of which it must carry.
TARGET_FIELDS = ("replicaPairId", "replicaGroupId", "resourceId")
#: A drill request's reason when it gives none (the weekly timer's payload need not).
DEFAULT_DRILL_REASON = "drill: prove that each target can fail over"


def manual_trigger(
    request: dict[str, Any], request_id: str | None, *, kind: str = "manual", identity: str | None = None
) -> Trigger:
    """A :class:`Trigger` for a manual request; identity ``manual:<idempotencyKey>``, else the FC request id
    (a timer gives its own ``kind`` and ``identity``).

    The schema refuses unknown fields, so a typo in an optional field cannot pass unnoticed.
    """
    validate("manual", request)
    action: str = request["action"]
    named = [name for name in TARGET_FIELDS if name in request]
    if action == "failover" and len(named) != 1:
        raise InvalidEvent(
            named[1] if len(named) > 1 else "replicaPairId",
            "exactly one of replicaPairId, replicaGroupId, resourceId (what to fail over)",
        )
    if len(named) > 1:
        raise InvalidEvent(
            named[1], "at most one of replicaPairId, replicaGroupId, resourceId (what to drill)"
        )
    if action == "failover" and "keep" in request:
        raise InvalidEvent("keep", "no keep in a failover (it is a drill's: leave the drill disks)")
    if identity is None:
        key = request.get("idempotencyKey")
        if key is None:
            if not isinstance(request_id, str) or not request_id.strip():
                raise InvalidEvent("idempotencyKey", "a non-empty string (no FC request id to fall back on)")
            key = request_id
        identity = values.identity("manual", key)
    target_id: str | None = request[named[0]] if named else None
    reason: str = request.get("reason") or DEFAULT_DRILL_REASON
    max_targets: int | None = request.get("maxTargets")
    summary = {"action": action} if action != "failover" else {}
    if named and target_id is not None:
        summary[named[0]] = target_id
    summary["reason"] = shorten(reason, values.SUMMARY_LIMIT)
    if max_targets is not None:
        summary["maxTargets"] = str(max_targets)
    if request.get("keep"):
        summary["keep"] = "true"
    return Trigger(
        kind=kind,
        identity=identity,
        state="MANUAL" if kind == "manual" else "SCHEDULED",
        level=None,
        resource_ids=(target_id,) if target_id is not None and named[0] == "resourceId" else (),
        rule=None,
        time=None,
        event_type=None,
        target_id=target_id,
        reason=reason,
        max_targets=max_targets,
        action=action,
        keep=bool(request.get("keep", False)),
        summary=summary,
    )
