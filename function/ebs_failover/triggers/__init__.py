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

from dataclasses import dataclass
from typing import Any

from ._decode import MAX_BATCH_EVENTS, MAX_DEPTH, MAX_EVENT_BYTES, Payload, decode_event, split_batch
from ._model import HttpRequestInfo, InvalidEvent, Trigger
from ._parse import build, detect, is_http_envelope
from ._schema import SCHEMA_DIR
from ._values import level, resource_id

__all__ = [
    "MAX_BATCH_EVENTS",
    "MAX_DEPTH",
    "MAX_EVENT_BYTES",
    "SCHEMA_DIR",
    "Batch",
    "HttpRequestInfo",
    "InvalidEvent",
    "Payload",
    "Trigger",
    "decode",
    "is_http_envelope",
    "level",
    "parse",
    "resource_id",
]


@dataclass(frozen=True, slots=True)
class Batch:
    """An EventBridge event-streaming batch: a JSON array of CloudEvents, each decided on its own."""

    events: tuple[dict[str, Any], ...]


def decode(event: object) -> Payload | Batch:
    """What FC passed, decoded once: one event (a JSON object or form fields), or a batch of CloudEvents.
    Raises :class:`InvalidEvent` for anything else."""
    try:
        batch = split_batch(event)
        return Batch(tuple(batch)) if batch is not None else decode_event(event)
    except InvalidEvent:
        raise
    except Exception as error:  # as in parse: any bug or oddity still reads as a bad event
        raise InvalidEvent("", "a well-formed event", type(error).__name__) from error


def parse(event: bytes | str | dict[str, Any] | Payload, *, request_id: str | None = None) -> Trigger:
    """Parse one invocation payload into a :class:`Trigger`.

    ``event``: the raw payload FC passed (bytes on Python 3), a str, an already-decoded dict, or the
    :class:`Payload` :func:`decode` made of it. ``request_id``: the FC request id, the identity of a manual
    request without ``idempotencyKey``. Raises :class:`InvalidEvent` for anything else, and never any other
    exception.
    """
    try:
        payload = event if isinstance(event, Payload) else decode_event(event)
        return build(detect(payload), payload, request_id)
    except InvalidEvent:
        raise
    except Exception as error:  # the one catch-all: any bug or oddity below still reads as a bad event
        raise InvalidEvent("", "a well-formed event", type(error).__name__) from error
