"""The parse stage's result types: :class:`Trigger`, :class:`HttpRequestInfo` and :class:`InvalidEvent`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

#: Longest rendering of an offending value inside an :class:`InvalidEvent` message.
_GOT_LIMIT = 80


@dataclass(frozen=True)
class HttpRequestInfo:
    """What an FC HTTP-trigger envelope said about the request that carried the event.

    ``query``: the query parameters; ``headers``: the request headers, names lower-cased (a multi-valued
    parameter or header is joined with ``","``); ``source_ip``: ``requestContext.http.sourceIp`` if given.
    """

    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    source_ip: str | None = None


#: The summary of a trigger that has none: read-only, so the one shared default cannot change.
_NO_SUMMARY: Mapping[str, str] = MappingProxyType({})


class Trigger(NamedTuple):
    """One alarm, event or manual request, normalised (immutable).

    ``kind``: ``"cms_callback"``, ``"cms_alarm"``, ``"eventbridge"``, ``"system_event"`` or ``"manual"``.
    ``identity``: ``"<prefix>:<id>"`` (prefixes ``cms``, ``eb``, ``sys``, ``manual``), printable ASCII, the
    same for every redelivery of one alarm and different for different alarms; a raw id with other characters
    is replaced by its sha256 hex digest.
    ``state``: ``"ALERT"``, ``"OK"`` or ``"INSUFFICIENT_DATA"``; ``"MANUAL"`` for a manual request.
    ``level``: ``"CRITICAL"``, ``"WARN"``, ``"INFO"`` or ``None``.
    ``resource_ids``: disk (``d-``) and instance (``i-``) ids named by the event, deduplicated, in order of
    appearance; masked ids such as ``i-12****`` are not ids and are left out.
    ``rule``: the alarm rule id, or the event type / name.
    ``time``: unix seconds, or ``None`` when the shape carries no time.
    ``event_type``: the event type / name for events; ``None`` for threshold alarms and manual requests.
    ``pair_id`` and ``reason``: manual requests only.
    ``summary``: a few short human-readable fields for the result event.
    ``http``: set when the event arrived inside an FC HTTP-trigger envelope.

    A named tuple, like the other per-invocation values: as immutable as a frozen dataclass, and
    built at under half its cost (a frozen dataclass sets each of its twelve fields through
    ``object.__setattr__``). ``_replace`` gives a copy with some fields changed.
    """

    kind: str
    identity: str
    state: str
    level: str | None
    resource_ids: tuple[str, ...]
    rule: str | None
    time: float | None
    event_type: str | None
    pair_id: str | None = None
    reason: str | None = None
    summary: Mapping[str, str] = _NO_SUMMARY
    http: HttpRequestInfo | None = None


class InvalidEvent(Exception):
    """The event is not one ``parse`` accepts.

    ``field``: JSON-pointer-ish path of the offending field, segments joined with ``/`` and no leading slash
    (``"alertState"``, ``"data/resourceId"``, ``"body/alertState"`` inside an HTTP envelope); ``""`` for the
    whole event. ``expected``: what was expected. ``got``: the offending value as text, or ``None`` (a missing
    field, or a value not worth echoing); rendered with ``repr`` and shortened.
    """

    def __init__(self, field: str, expected: str, got: str | None = None) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        where = f"event field {field!r}" if field else "event"
        message = f"{where}: expected {expected}"
        if got is not None:
            shown = got if len(got) <= _GOT_LIMIT else got[: _GOT_LIMIT - 3] + "..."
            message += f", got {shown!r}"
        super().__init__(message)
