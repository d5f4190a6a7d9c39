"""The parse stage's result types, :class:`Trigger` and :class:`HttpRequestInfo`, and its error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ebs_failover.errors import InvalidEvent

__all__ = ["HttpRequestInfo", "InvalidEvent", "Trigger"]


@dataclass(frozen=True, slots=True)
class HttpRequestInfo:
    """What an FC HTTP-trigger envelope said about the request that carried the event.

    ``query``: the query parameters; ``headers``: the request headers, names lower-cased (a multi-valued
    parameter or header is joined with ``","``); ``source_ip``: ``requestContext.http.sourceIp`` if given.
    """

    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    source_ip: str | None = None


@dataclass(frozen=True, slots=True)
class Trigger:
    """One alarm, event or manual request, normalised (immutable).

    ``kind``: ``"cms_callback"``, ``"cms_alarm"``, ``"eventbridge"``, ``"system_event"``, ``"manual"`` or
    ``"timer"`` (FC's timer trigger, whose payload is a drill request).
    ``identity``: ``"<prefix>:<id>"`` (prefixes ``cms``, ``eb``, ``sys``, ``manual``), printable ASCII, the
    same for every redelivery of one alarm and different for different alarms; a raw id with other characters
    is replaced by its sha256 hex digest.
    ``state``: ``"ALERT"``, ``"OK"`` or ``"INSUFFICIENT_DATA"``; ``"MANUAL"`` for a manual request,
    ``"SCHEDULED"`` for a timer.
    ``level``: ``"CRITICAL"``, ``"WARN"``, ``"INFO"`` or ``None``.
    ``resource_ids``: disk (``d-``) and instance (``i-``) ids named by the event, deduplicated, in order of
    appearance; masked ids such as ``i-12****`` are not ids and are left out.
    ``rule``: the alarm rule id, or the event type / name.
    ``time``: unix seconds, or ``None`` when the shape carries no time.
    ``event_type``: the event type / name for events; ``None`` for threshold alarms and manual requests.
    ``target_id``, ``reason`` and ``max_targets``: manual requests (and a timer's drill) only; ``target_id``
    is the pair (``pair-``), group (``pg-``) or disk or instance (``d-``, ``i-``) the request names (None: a
    drill of every configured target), ``max_targets`` its own cap on the number of targets
    (``maxTargets``), if it sets one.
    ``action``: ``"failover"``, or ``"drill"`` (a manual request's or a timer's: rehearse on a clone of the
    secondary, never fail over); ``keep``: a drill whose disks are left for a person to look at.
    ``summary``: a few short human-readable fields for the result event.
    ``http``: set when the event arrived inside an FC HTTP-trigger envelope.
    ``over``: why the event says its trouble is over (state ``OK``), in words, when it says more than its
    state: an end notice's finish time, a finished status.
    """

    kind: str
    identity: str
    state: str
    level: str | None
    resource_ids: tuple[str, ...]
    rule: str | None
    time: float | None
    event_type: str | None
    target_id: str | None = None
    reason: str | None = None
    max_targets: int | None = None
    action: str = "failover"
    keep: bool = False
    summary: Mapping[str, str] = field(default_factory=dict)
    http: HttpRequestInfo | None = None
    over: str | None = None

    def __post_init__(self) -> None:
        # Read-only, so that the whole trigger is: the summary is built as a dict by each shape.
        object.__setattr__(self, "summary", MappingProxyType(dict(self.summary)))
