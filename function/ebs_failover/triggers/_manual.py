"""The manual failover request: ``{"action": "failover", "replicaPairId", "reason", "idempotencyKey"?}``."""

from __future__ import annotations

from typing import Any

from ebs_failover.redact import shorten

from . import _values as values
from ._model import InvalidEvent, Trigger
from ._schema import validate


def manual_trigger(request: dict[str, Any], request_id: str | None) -> Trigger:
    """A :class:`Trigger` for a manual request; identity ``manual:<idempotencyKey>``, else the FC request id.

    The schema refuses unknown fields, so a typo in an optional field cannot pass unnoticed.
    """
    validate("manual", request)
    key = request.get("idempotencyKey")
    if key is None:
        if not isinstance(request_id, str) or not request_id.strip():
            raise InvalidEvent("idempotencyKey", "a non-empty string (no FC request id to fall back on)")
        key = request_id
    pair_id: str = request["replicaPairId"]
    reason: str = request["reason"]
    return Trigger(
        kind="manual",
        identity=values.identity("manual", key),
        state="MANUAL",
        level=None,
        resource_ids=(),
        rule=None,
        time=None,
        event_type=None,
        pair_id=pair_id,
        reason=reason,
        summary={"replicaPairId": pair_id, "reason": shorten(reason, values.SUMMARY_LIMIT)},
    )
