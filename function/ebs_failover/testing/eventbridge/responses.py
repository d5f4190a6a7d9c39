"""The PutEvents protocol as the fake speaks it: the event list, the claimed AccessKey, the error body."""

from __future__ import annotations

import json
import uuid
from typing import Any

from ebs_failover.testing.eventbridge.models import (
    EventBridgeError,
)

__all__ = ["claimed_key", "error_json", "new_request_id", "parse_event_list"]


def parse_event_list(raw: str | None) -> list[dict[str, Any]]:
    if not raw:
        raise EventBridgeError(
            400, "MissingParameter", "The input parameter EventList that is mandatory is missing."
        )
    try:
        items = json.loads(raw)
    except ValueError:
        raise EventBridgeError(
            400, "InvalidParameter", "The parameter EventList is not valid JSON."
        ) from None
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        raise EventBridgeError(400, "InvalidParameter", "The parameter EventList must be a list of events.")
    return items


def claimed_key(authorization: str) -> str | None:
    """The AccessKeyId an ``Authorization`` header claims (verified or not)."""
    for part in authorization.partition(" ")[2].split(","):
        name, _, value = part.strip().partition("=")
        if name == "Credential":
            return value or None
    return None


def error_json(error: EventBridgeError, request_id: str, host: str) -> bytes:
    return json.dumps(
        {
            "RequestId": request_id,
            "HostId": host,
            "Code": error.code,
            "Message": error.message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={error.code}",
        }
    ).encode()


def new_request_id() -> str:
    return str(uuid.uuid4()).upper()
