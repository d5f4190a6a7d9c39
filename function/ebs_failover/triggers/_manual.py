"""The manual failover request.

``{"action": "failover", "replicaPairId" | "replicaGroupId" | "resourceId", "reason", "idempotencyKey"?,
"maxTargets"?}``: exactly one of the three names what to fail over (a pair, a replica group, or every
target a disk or instance id maps in ``FAILOVER_TARGETS``).
"""

from __future__ import annotations

from typing import Any

from ebs_failover.redact import shorten

from . import _values as values
from ._model import InvalidEvent, Trigger
from ._schema import validate

#: The fields that name a manual request's target, one of which it must carry.
TARGET_FIELDS = ("replicaPairId", "replicaGroupId", "resourceId")


def manual_trigger(request: dict[str, Any], request_id: str | None) -> Trigger:
    """A :class:`Trigger` for a manual request; identity ``manual:<idempotencyKey>``, else the FC request id.

    The schema refuses unknown fields, so a typo in an optional field cannot pass unnoticed.
    """
    validate("manual", request)
    named = [name for name in TARGET_FIELDS if name in request]
    if len(named) != 1:
        raise InvalidEvent(
            named[1] if len(named) > 1 else "replicaPairId",
            "exactly one of replicaPairId, replicaGroupId, resourceId (what to fail over)",
        )
    key = request.get("idempotencyKey")
    if key is None:
        if not isinstance(request_id, str) or not request_id.strip():
            raise InvalidEvent("idempotencyKey", "a non-empty string (no FC request id to fall back on)")
        key = request_id
    target_id: str = request[named[0]]
    reason: str = request["reason"]
    max_targets: int | None = request.get("maxTargets")
    summary = {named[0]: target_id, "reason": shorten(reason, values.SUMMARY_LIMIT)}
    if max_targets is not None:
        summary["maxTargets"] = str(max_targets)
    return Trigger(
        kind="manual",
        identity=values.identity("manual", key),
        state="MANUAL",
        level=None,
        resource_ids=(target_id,) if named[0] == "resourceId" else (),
        rule=None,
        time=None,
        event_type=None,
        target_id=target_id,
        reason=reason,
        max_targets=max_targets,
        summary=summary,
    )
