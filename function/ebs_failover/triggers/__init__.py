"""The ``parse`` stage: turn whatever invoked the function into one normalised :class:`Trigger`.

Accepted shapes (see ``/work/shared/reference/cloudmonitor-events.md``), recognised in this order:

* manual request ``{"action": "failover", "replicaPairId", "reason", "idempotencyKey"?}``, or
  ``{"action": "drill", ...}`` (has ``action``);
* FC timer trigger ``{"triggerTime", "triggerName", "payload"}`` whose payload is a drill request;
* EventBridge CloudEvent from ``acs.ebs``, ``acs.cms`` or ``acs.ecs`` (has ``specversion``);
* FC HTTP-trigger envelope (``body`` plus ``headers``/``isBase64Encoded``/...) holding a callback or event;
* CloudMonitor alarm callback: form-urlencoded, or historical JSON (has ``alertState``/``alertName``);
* CloudMonitor alarm JSON for MNS/FC targets (has ``curLevel``/``batchId``/``escalation``/``metricData``);
* legacy system event (has ``name`` and ``product``/``resourceId``);
* MNS message whose ``Message``/``message`` string holds one of the JSON alarm or event shapes.

Pure: no I/O besides reading the bundled JSON Schemas (``schemas/*.json``, validated with fastjsonschema,
imported and compiled on first use). ``parse`` raises nothing but :class:`InvalidEvent`.
"""

from __future__ import annotations

from typing import Any

from ._decode import MAX_BATCH_EVENTS, MAX_DEPTH, MAX_EVENT_BYTES, decode_event, split_batch
from ._model import HttpRequestInfo, InvalidEvent, Trigger
from ._parse import build, detect, is_http_envelope
from ._schema import SCHEMA_DIR
from ._values import level, resource_id

__all__ = [
    "MAX_BATCH_EVENTS",
    "MAX_DEPTH",
    "MAX_EVENT_BYTES",
    "SCHEMA_DIR",
    "HttpRequestInfo",
    "InvalidEvent",
    "Trigger",
    "is_http_request",
    "level",
    "parse",
    "resource_id",
    "split_batch",
]


def parse(event: bytes | str | dict[str, Any], *, request_id: str | None = None) -> Trigger:
    """Parse one invocation payload into a :class:`Trigger`.

    ``event``: the raw payload FC passed (bytes on Python 3), or a str, or an already-decoded dict.
    ``request_id``: the FC request id, the identity of a manual request without ``idempotencyKey``.
    Raises :class:`InvalidEvent` for anything else, and never any other exception.
    """
    try:
        payload = decode_event(event)
        return build(detect(payload), payload, request_id)
    except InvalidEvent:
        raise
    except Exception as error:  # the one catch-all: any bug or oddity below still reads as a bad event
        raise InvalidEvent("", "a well-formed event", type(error).__name__) from error


def is_http_request(event: bytes | str | dict[str, Any]) -> bool:
    """Whether ``event`` is an FC HTTP-trigger envelope (so its caller expects an HTTP answer), even one
    whose content :func:`parse` rejects. Never raises."""
    try:
        payload = decode_event(event)
    except Exception:  # not even JSON: not an envelope either
        return False
    return not payload.form and is_http_envelope(payload.data)
