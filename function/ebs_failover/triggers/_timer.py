"""FC's timer trigger: ``{"triggerTime", "triggerName", "payload"}``, whose payload is a drill request.

The trigger's message (``payload``, a string) is the request: ``{"action": "drill"}`` drills every
configured target, and it may name one or set ``keep``, as a manual drill request may. A timer never
fails over: a schedule is not an incident. The identity is the trigger's name and the time it fired,
so FC's retries of one firing are one drill (the same ClientTokens, so the same DrillIds) and each
firing is a new one.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from . import _values as values
from ._manual import manual_trigger
from ._model import InvalidEvent, Trigger
from ._schema import validate

_DRILL_ONLY = 'a drill request as JSON, such as {"action": "drill"} (a timer never fails over)'


def timer_trigger(event: dict[str, Any]) -> Trigger:
    """The drill a timer firing asks for; identity ``timer:<triggerName>@<triggerTime>``."""
    validate("timer", event)
    try:
        request = json.loads(event["payload"])
    except ValueError:
        raise InvalidEvent("payload", _DRILL_ONLY) from None
    if not isinstance(request, dict) or request.get("action") != "drill":
        raise InvalidEvent("payload/action", _DRILL_ONLY)
    if "idempotencyKey" in request:
        raise InvalidEvent("payload/idempotencyKey", "no idempotencyKey (each firing is its own drill)")
    fired = datetime.fromisoformat(event["triggerTime"].replace("Z", "+00:00"))
    identity = values.identity("timer", f"{event['triggerName']}@{event['triggerTime']}")
    try:
        trigger = manual_trigger(request, None, kind="timer", identity=identity)
    except InvalidEvent as error:
        field = f"payload/{error.field}" if error.field else "payload"
        raise InvalidEvent(field, error.expected, error.got) from None
    summary = {**trigger.summary, "timer": event["triggerName"], "fired": event["triggerTime"]}
    return dataclasses.replace(trigger, time=fired.timestamp(), rule=event["triggerName"], summary=summary)
