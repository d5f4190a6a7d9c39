"""Decide, for one event or a batch: parse, the HTTP trigger's gate, the policy. Pure: no I/O, no SDK,
so that ``ebs-failover check`` decides exactly as the handler does (the pipeline's decide stage and the
command line both call these)."""

from __future__ import annotations

from typing import Any

from . import config
from .errors import InvalidEvent
from .invocation import Decision
from .policy import Plan, cap_batch, decide
from .triggers import Batch, parse

__all__ = ["decide_batch", "decide_event", "nothing"]


def decide_event(event: Any, settings: config.Settings, *, request_id: str | None, now: float) -> Decision:
    """parse -> the HTTP trigger's gate -> decide, at ``now`` (unix seconds). Pure: no I/O, no SDK
    (``ebs-failover check`` uses it). ``event``: raw, or the :class:`Payload` decoded from it. An HTTP
    request is gated before its body is judged: one that did not authenticate is refused as such (and so
    never published), whether its body is an event or not."""
    try:
        trigger = parse(event, request_id=request_id)
    except InvalidEvent as error:
        unauthenticated = _gate_without_body(event, settings)
        if unauthenticated is not None:
            return unauthenticated
        return Decision(None, nothing("rejected", str(error)), {"code": "InvalidEvent", "field": error.field})
    if trigger.http is not None:
        from .web import gate  # only a request through the HTTP trigger has a gate to pass

        refused = gate.refusal(trigger.http, settings.callback_token, settings.callback_networks)
        if refused is not None:
            return Decision(trigger, nothing("rejected", refused.reason), {"code": refused.code})
    return Decision(trigger, decide(trigger, settings, now))


def _gate_without_body(event: Any, settings: config.Settings) -> Decision | None:
    """The gate's refusal of an HTTP-trigger request whose body is not an event (None: not such a request,
    or one that authenticated): the envelope's token and source address, read without the body."""
    from .triggers import HttpRequestInfo, Payload, decode, is_http_envelope

    try:
        payload = event if isinstance(event, Payload) else decode(event)
    except InvalidEvent:
        return None
    if not isinstance(payload, Payload) or payload.form or not is_http_envelope(payload.data):
        return None
    from .web import envelope, gate  # only an HTTP request has a gate to pass

    request = envelope.request_of(payload)
    if request is None:
        return None
    info = HttpRequestInfo(
        query=dict(request.query), headers=dict(request.headers), source_ip=request.source_ip
    )
    refused = gate.refusal(info, settings.callback_token, settings.callback_networks)
    if refused is None:
        return None
    return Decision(None, nothing("rejected", refused.reason), {"code": refused.code})


def decide_batch(batch: Batch, settings: config.Settings, now: float) -> tuple[Decision, ...]:
    """Each event of an event-streaming batch decided on its own, then capped together
    (``FAILOVER_MAX_TARGETS`` counts the whole batch). Pure (``ebs-failover check`` uses it too)."""
    decided = [_batch_decision(event, settings, now) for event in batch.events]
    plans = cap_batch([d.plan for d in decided], settings)
    return tuple(Decision(d.trigger, p, d.error) for d, p in zip(decided, plans, strict=True))


def _batch_decision(event: dict[str, Any], settings: config.Settings, now: float) -> Decision:
    """One event of an event-streaming batch (EventBridge's, or FC's MNS queue trigger's): only an event's
    failover decision (an element shaped like a manual request or a timer's drill, a CloudEvent's
    ``specversion`` added, is not one: a batch never carries a manual failover, and a drill never reaches
    the failover stage)."""
    decision = decide_event(event, settings, request_id=None, now=now)  # checked as JSON, as any event
    trigger = decision.trigger
    if trigger is not None and (trigger.kind in ("manual", "timer") or decision.plan.action != "failover"):
        return Decision(
            None,
            nothing("rejected", "a batch holds events only, not a manual request or a timer's"),
            {"code": "InvalidEvent", "field": ""},
        )
    return decision


def nothing(outcome: str, reason: str) -> Plan:
    """A plan with nothing to do: its outcome and why."""
    return Plan((), False, reason, outcome)
