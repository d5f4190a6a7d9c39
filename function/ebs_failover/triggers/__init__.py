"""The ``parse`` stage: turn whatever invoked the function into one normalised :class:`Trigger`.

Accepted shapes (see ``/work/shared/reference/cloudmonitor-events.md``), recognised in this order:

* manual request ``{"action": "failover", "replicaPairId", "reason", "idempotencyKey"?}`` (has ``action``);
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

import contextlib
from typing import Any

from ._decode import MAX_DEPTH, MAX_EVENT_BYTES, decode_event
from ._model import HttpRequestInfo, InvalidEvent, Trigger
from ._parse import build, detect

__all__ = ["MAX_DEPTH", "MAX_EVENT_BYTES", "HttpRequestInfo", "InvalidEvent", "Trigger", "forget", "parse"]


#: Redeliveries parsed from memory: at most this many events, of at most this many bytes each (2 MB).
MEMO_ENTRIES = 512
MEMO_MAX_BYTES = 4096
_memo: dict[bytes, Trigger] = {}


def parse(event: bytes | str | dict[str, Any], *, request_id: str | None = None) -> Trigger:
    """Parse one invocation payload into a :class:`Trigger`.

    ``event``: the raw payload FC passed (bytes on Python 3), or a str, or an already-decoded dict.
    ``request_id``: the FC request id, the identity of a manual request without ``idempotencyKey``.
    Raises :class:`InvalidEvent` for anything else, and never any other exception.

    Parsing is a pure function of the bytes, and an alarm storm is mostly redeliveries of the same
    bytes (FC's and EventBridge's retries, a callback repeated): an alarm or event of up to
    :data:`MEMO_MAX_BYTES` bytes is parsed once per instance and its :class:`Trigger` (immutable) is
    reused while it is among the last :data:`MEMO_ENTRIES` remembered. A manual request is never
    remembered (its identity may be the request id), nor is an event that was refused.
    """
    if type(event) is bytes and len(event) <= MEMO_MAX_BYTES:
        remembered = _memo.get(event)
        if remembered is not None:
            return remembered
        trigger = _parse_fresh(event, request_id)
        if trigger.kind != "manual":
            _remember(event, trigger)
        return trigger
    return _parse_fresh(event, request_id)


def _parse_fresh(event: bytes | str | dict[str, Any], request_id: str | None) -> Trigger:
    try:
        payload = decode_event(event)
        return build(detect(payload), payload, request_id)
    except InvalidEvent:
        raise
    except Exception as error:  # the one catch-all: any bug or oddity below still reads as a bad event
        raise InvalidEvent("", "a well-formed event", type(error).__name__) from error


def forget() -> None:
    """Forget every remembered event, as a fresh instance starts (tests, benchmarks)."""
    _memo.clear()


def _remember(event: bytes, trigger: Trigger) -> None:
    """Remember ``trigger`` as ``event``'s, forgetting the oldest event when full.

    Concurrent invocations (threads) may forget the same oldest one: the loser's error is ignored.
    """
    if len(_memo) >= MEMO_ENTRIES:
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):
            del _memo[next(iter(_memo))]
    _memo[event] = trigger
