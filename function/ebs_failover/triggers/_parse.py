"""``parse``: decode, recognise the shape, unwrap envelopes, and hand over to the shape's builder.

Shape detection is a fixed, ordered list of key tests on the top-level JSON object (:data:`SHAPES`); the
first that matches wins. A form-urlencoded body is a CloudMonitor callback if it has one of the callback's
keys. Envelopes (FC HTTP trigger, MNS topic message, FC's MNS queue trigger) are unwrapped once; what
they carry is recognised the same way, except that neither another envelope, a manual request nor a
timer's is accepted inside one: a manual failover must be a direct invocation, never something a callback
URL or a queue can deliver.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Callable
from typing import Any

from ._cms import alarm_trigger, callback_trigger
from ._decode import Payload, decode_text
from ._events import eventbridge_trigger, system_trigger
from ._manual import manual_trigger
from ._model import HttpRequestInfo, InvalidEvent, Trigger
from ._schema import validate
from ._timer import timer_trigger

_CALLBACK_KEYS = ("alertState", "alertName", "ruleId", "metricName")


def _has(*keys: str) -> Callable[[dict[str, Any]], bool]:
    return lambda data: any(key in data for key in keys)


def is_http_envelope(data: dict[str, Any]) -> bool:
    """An FC HTTP-trigger envelope: ``body`` and one of its other keys."""
    return _is_http(data)


def _is_http(data: dict[str, Any]) -> bool:
    return "body" in data and _has("headers", "isBase64Encoded", "requestContext", "queryParameters")(data)


def _is_system(data: dict[str, Any]) -> bool:
    return "name" in data and _has("product", "resourceId")(data)


def _is_mns_queue(data: dict[str, Any]) -> bool:
    """FC's MNS queue trigger: a CloudEvent of type ``mns:Queue:SendMessage`` (or from an MNS source)."""
    source = data.get("source")
    return "specversion" in data and (
        data.get("type") == "mns:Queue:SendMessage"
        or source == "acs.mns"
        or (isinstance(source, str) and source.startswith("MNS-Function-"))
    )


def _is_mns(data: dict[str, Any]) -> bool:
    return isinstance(data.get("Message"), str) or isinstance(data.get("message"), str)


#: (shape, how it is recognised, test), in the order they are tried.
SHAPES: tuple[tuple[str, str, Callable[[dict[str, Any]], bool]], ...] = (
    ("manual", "manual request (has 'action')", _has("action")),
    ("timer", "FC timer trigger (has 'triggerTime' and 'triggerName')",
     lambda data: "triggerTime" in data and "triggerName" in data),
    ("mns_queue", "FC's MNS queue trigger (CloudEvent of type 'mns:Queue:SendMessage')", _is_mns_queue),
    ("eventbridge", "EventBridge CloudEvent (has 'specversion')", _has("specversion")),
    ("http_envelope", "FC HTTP-trigger envelope (has 'body' and 'headers'/'isBase64Encoded'/...)", _is_http),
    ("cms_callback", "CloudMonitor alarm callback (form-urlencoded, or JSON with 'alertState'/'alertName')",
     _has("alertState", "alertName")),
    ("cms_alarm", "CloudMonitor alarm JSON (has 'curLevel'/'batchId'/'escalation'/'metricData')",
     _has("curLevel", "batchId", "escalation", "metricData")),
    ("system_event", "system event (has 'name' and 'product'/'resourceId')", _is_system),
    ("mns_message", "MNS message (string 'Message'/'message' holding one of the JSON shapes)", _is_mns),
)  # fmt: skip

ACCEPTED = "one of: " + "; ".join(description for _, description, _ in SHAPES)
_IN_ENVELOPE = frozenset({"cms_callback", "cms_alarm", "eventbridge", "system_event"})


def detect(payload: Payload) -> str:
    """The shape name of ``payload``, or :class:`InvalidEvent` listing the accepted shapes."""
    if payload.form:
        if any(key in payload.data for key in _CALLBACK_KEYS):
            return "cms_callback"
        raise InvalidEvent("", ACCEPTED)
    for shape, _, test in SHAPES:
        if test(payload.data):
            return shape
    raise InvalidEvent("", ACCEPTED)


def _within(prefix: str, error: InvalidEvent) -> InvalidEvent:
    field = f"{prefix}/{error.field}" if error.field else prefix
    return InvalidEvent(field, error.expected, error.got)


def build(shape: str, payload: Payload, request_id: str | None) -> Trigger:
    """The :class:`Trigger` of a payload of the given shape (as :func:`detect` named it)."""
    data = payload.data
    if shape == "manual":
        return manual_trigger(data, request_id)
    if shape == "timer":
        return timer_trigger(data)
    if shape == "eventbridge":
        return eventbridge_trigger(data)
    if shape == "cms_callback":
        return callback_trigger(data, form=payload.form)
    if shape == "cms_alarm":
        return alarm_trigger(data)
    if shape == "system_event":
        return system_trigger(data)
    if shape == "http_envelope":
        return _from_http(data)
    if shape == "mns_queue":
        return _from_mns_queue(data)
    return _from_mns(data)


def _enveloped(raw: bytes | str) -> Trigger:
    payload = decode_text(raw)
    shape = detect(payload)
    if shape not in _IN_ENVELOPE:
        raise InvalidEvent("", "a CloudMonitor alarm or an event (not a manual request or another envelope)")
    return build(shape, payload, None)


def _header_text(value: Any) -> str:
    return ",".join(value) if isinstance(value, list) else str(value)


def _from_http(envelope: dict[str, Any]) -> Trigger:
    """Unwrap an FC HTTP-trigger envelope: ``body`` (base64 if ``isBase64Encoded``) holds the event."""
    validate("http_envelope", envelope)
    body = envelope.get("body")
    if not body:
        raise InvalidEvent("body", "a non-empty request body")
    raw: bytes | str = body
    if envelope.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidEvent("body", "base64 text (isBase64Encoded is true)") from None
    try:
        trigger = _enveloped(raw)
    except InvalidEvent as error:
        raise _within("body", error) from None
    context = envelope.get("requestContext") or {}
    source_ip = (context.get("http") or {}).get("sourceIp")
    info = HttpRequestInfo(
        query={key: _header_text(value) for key, value in (envelope.get("queryParameters") or {}).items()},
        headers={key.lower(): _header_text(value) for key, value in (envelope.get("headers") or {}).items()},
        source_ip=source_ip or None,
    )
    return dataclasses.replace(trigger, http=info)


def _from_mns_queue(event: dict[str, Any]) -> Trigger:
    """Unwrap FC's MNS queue trigger: ``data.messageBody`` holds the queue message, as JSON text or (when
    the producer wrote it so) base64 of it. The message is judged as the alarm or event it carries; the
    result's summary names the queue it came through."""
    validate("mns_queue", event)
    body: str = event["data"]["messageBody"]
    raw: bytes | str = body
    if not body.lstrip().startswith(("{", "\ufeff")):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            expected = "a JSON CloudMonitor alarm or event, or base64 of one"
            raise InvalidEvent("data/messageBody", expected) from None
    try:
        trigger = _enveloped(raw)
    except InvalidEvent as error:
        raise _within("data/messageBody", error) from None
    queue = {"queue": str(event.get("subject") or event["source"])[:256]}
    return dataclasses.replace(trigger, summary={**trigger.summary, **queue})


def _from_mns(message: dict[str, Any]) -> Trigger:
    """Unwrap an MNS message: its ``Message`` (or ``message``) string holds the JSON alarm or event."""
    validate("mns_message", message)
    key = "Message" if isinstance(message.get("Message"), str) else "message"
    try:
        if not message[key].lstrip().startswith(("{", "\ufeff")):
            raise InvalidEvent("", "a JSON CloudMonitor alarm or event")
        return _enveloped(message[key])
    except InvalidEvent as error:
        raise _within(key, error) from None
