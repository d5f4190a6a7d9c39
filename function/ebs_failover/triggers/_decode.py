"""Turning the raw invocation payload into a JSON object or form fields, safely.

Every check here runs before any shape-specific parsing: the size limit, UTF-8, JSON well-formedness
(no NaN/Infinity, no duplicate keys), the nesting limit, and "the top level is an object".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from ebs_failover.strictjson import DuplicateKey, unique_pairs

from ._model import InvalidEvent

#: Largest accepted event, in bytes (UTF-8 for text, the JSON serialisation for a dict).
MAX_EVENT_BYTES = 262144
#: Deepest accepted JSON nesting; the top-level object is level 1.
MAX_DEPTH = 32
#: Most fields accepted in a form-urlencoded body.
MAX_FORM_FIELDS = 256
#: Most events accepted in one EventBridge event-streaming batch (the result lists every one).
MAX_BATCH_EVENTS = 50

_TOO_BIG = f"at most {MAX_EVENT_BYTES} bytes"
_TOO_DEEP = f"JSON nested at most {MAX_DEPTH} levels deep"


@dataclass(frozen=True, slots=True)
class Payload:
    """A decoded event: a JSON object, or form-urlencoded fields (``form`` true; all values str)."""

    data: dict[str, Any]
    form: bool


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def check_depth(value: object, field: str = "") -> None:
    """Refuse ``value`` if it nests deeper than :data:`MAX_DEPTH` or holds more nodes than fit the size limit.

    Iterative, so neither deep nesting nor a reference cycle can exhaust the stack or loop forever.
    """
    stack: list[tuple[object, int]] = [(value, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_EVENT_BYTES:
            raise InvalidEvent(field, _TOO_BIG)
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            raise InvalidEvent(field, _TOO_DEEP)
        stack.extend((child, depth + 1) for child in children)


def load_json(text: str, field: str = "") -> Any:
    """Parse JSON ``text`` strictly; any failure is an :class:`InvalidEvent` naming ``field``."""
    try:
        value = json.loads(text, object_pairs_hook=unique_pairs, parse_constant=_reject_constant)
    except RecursionError:
        raise InvalidEvent(field, _TOO_DEEP) from None
    except DuplicateKey as error:
        where = f"{field}/{error.key}" if field else error.key
        raise InvalidEvent(where, "a key that appears once per JSON object") from None
    except json.JSONDecodeError as error:
        raise InvalidEvent(
            field, f"valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    except ValueError as error:
        raise InvalidEvent(field, f"valid JSON ({error})") from None
    check_depth(value, field)
    return value


def load_json_object(text: str, field: str) -> dict[str, Any]:
    """Parse ``text`` as JSON that must be an object (used for JSON carried inside a string field)."""
    value = load_json(text, field)
    if not isinstance(value, dict):
        raise InvalidEvent(field, f"a JSON object, not {_json_kind(value)}")
    return value


def parse_form(text: str) -> dict[str, str]:
    """Parse a form-urlencoded body: ``key=value`` fields joined by ``&``, ``+`` a space, values
    percent-encoded UTF-8 (strictly), each key once, at most :data:`MAX_FORM_FIELDS` fields.

    Empty fields (a stray ``&``) are skipped and a field without ``=`` is a key with an empty value, as
    ``parse_qsl`` does unless ``strict_parsing``: refusing them would refuse an alarm over a separator.
    """
    try:
        parts = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS)
    except UnicodeDecodeError:
        raise InvalidEvent("", "form values that are percent-encoded UTF-8") from None
    except ValueError:  # parse_qsl's only other refusal: more fields than max_num_fields
        raise InvalidEvent("", f"at most {MAX_FORM_FIELDS} form fields") from None
    fields: dict[str, str] = {}
    for key, value in parts:
        if key in fields:
            raise InvalidEvent(key, "a form field that appears once")
        fields[key] = value
    return fields


def decode_text(raw: bytes | bytearray | str) -> Payload:
    """Decode a raw body (UTF-8, size-limited): JSON if it opens with ``{`` or ``[``, else form."""
    if isinstance(raw, str):
        size = len(raw) if len(raw) > MAX_EVENT_BYTES else len(raw.encode("utf-8", "surrogatepass"))
        if size > MAX_EVENT_BYTES:
            raise InvalidEvent("", _TOO_BIG, f"{size} bytes")
        text = raw
    else:
        if len(raw) > MAX_EVENT_BYTES:
            raise InvalidEvent("", _TOO_BIG, f"{len(raw)} bytes")
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidEvent("", f"UTF-8 text (invalid byte at offset {error.start})") from None
    text = text.removeprefix("\ufeff").strip()
    if not text:
        raise InvalidEvent("", "a non-empty event")
    if text[0] in "{[":
        value = load_json(text)
        if not isinstance(value, dict):
            raise InvalidEvent("", f"a JSON object, not {_json_kind(value)}")
        return Payload(value, form=False)
    if "=" in text:
        return Payload(parse_form(text), form=True)
    raise InvalidEvent("", "a JSON object or a form-urlencoded CloudMonitor callback")


def decode_event(event: object) -> Payload:
    """Decode what FC passed to the handler: bytes (Python 3 runtime), str, or an already-parsed dict."""
    if isinstance(event, (bytes, bytearray, str)):
        return decode_text(event)
    if isinstance(event, dict):
        check_depth(event)
        try:
            text = json.dumps(event, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError) as error:
            raise InvalidEvent("", f"a JSON-serialisable object ({error})") from None
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_EVENT_BYTES:
            raise InvalidEvent("", _TOO_BIG, f"{size} bytes")
        # Round-trip so that later stages only ever see plain JSON values with str keys.
        return Payload(load_json_object(text, ""), form=False)
    raise InvalidEvent("", "bytes, str or dict", type(event).__name__)


def split_batch(event: object) -> list[dict[str, Any]] | None:
    """The events of an EventBridge event-streaming batch (a JSON array of CloudEvents), or None when
    ``event`` is not an array. Raises :class:`InvalidEvent` for an array that is not such a batch."""
    if isinstance(event, list):
        items: Any = event
        check_depth(items)
    elif isinstance(event, (bytes, bytearray, str)):
        try:
            text = event if isinstance(event, str) else bytes(event).decode("utf-8")
        except UnicodeDecodeError:
            return None  # not a batch this function can read: the event's own decoding says why
        if not text.removeprefix("\ufeff").lstrip().startswith("["):
            return None
        if len(text) > MAX_EVENT_BYTES:
            raise InvalidEvent("", _TOO_BIG, f"{len(text)} characters")
        items = load_json(text.removeprefix("\ufeff").strip())
    else:
        return None
    if not items:
        raise InvalidEvent("", "a non-empty batch of CloudEvents")
    if len(items) > MAX_BATCH_EVENTS:
        raise InvalidEvent("", f"at most {MAX_BATCH_EVENTS} events in a batch", f"{len(items)} events")
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "specversion" not in item:
            raise InvalidEvent(
                str(index), "a CloudEvent (EventBridge's event-streaming batches hold only those)"
            )
    return list(items)
