"""Turning the raw invocation payload into a JSON object or form fields, safely.

Every check here runs before any shape-specific parsing: the size limit, UTF-8, JSON well-formedness
(no NaN/Infinity, no duplicate keys), the nesting limit, and "the top level is an object".
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any, NamedTuple, cast

from ._model import InvalidEvent

#: Largest accepted event, in bytes (UTF-8 for text, the JSON serialisation for a dict).
MAX_EVENT_BYTES = 262144
#: Deepest accepted JSON nesting; the top-level object is level 1.
MAX_DEPTH = 32
#: Most fields accepted in a form-urlencoded body.
MAX_FORM_FIELDS = 256

_TOO_BIG = f"at most {MAX_EVENT_BYTES} bytes"
_TOO_DEEP = f"JSON nested at most {MAX_DEPTH} levels deep"


class Payload(NamedTuple):
    """A decoded event: a JSON object, or form-urlencoded fields (``form`` true; all values str).

    A named tuple: as immutable as a frozen dataclass, and built at a third of its cost.
    """

    data: dict[str, Any]
    form: bool


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


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


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_pairs, parse_constant=_reject_constant)
_JSON_SPACE = " \t\n\r"


def _decode_strict(text: str) -> Any:
    """``_DECODER.decode(text)``: the same value, the same errors.

    Without its two regular-expression matches for the whitespace around the value, which events
    (stripped before they get here) seldom have.
    """
    start = len(text) - len(text.lstrip(_JSON_SPACE)) if text[:1] in _JSON_SPACE else 0
    value, end = _DECODER.raw_decode(text, start)
    if end != len(text):
        rest = text[end:]
        if rest.strip(_JSON_SPACE):
            raise json.JSONDecodeError("Extra data", text, end + len(rest) - len(rest.lstrip(_JSON_SPACE)))
    return value


def load_json(text: str, field: str = "") -> Any:
    """Parse JSON ``text`` strictly; any failure is an :class:`InvalidEvent` naming ``field``."""
    try:
        value = _decode_strict(text)
    except RecursionError:
        raise InvalidEvent(field, _TOO_DEEP) from None
    except _DuplicateKey as error:
        where = f"{field}/{error.key}" if field else error.key
        raise InvalidEvent(where, "a key that appears once per JSON object") from None
    except json.JSONDecodeError as error:
        raise InvalidEvent(
            field, f"valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    except ValueError as error:
        raise InvalidEvent(field, f"valid JSON ({error})") from None
    # Text within the size limit holds fewer nodes than the limit; and it cannot nest deeper than it
    # has brackets: the walk is needed only when there are more brackets than levels allowed.
    if text.count("{") + text.count("[") > MAX_DEPTH:
        check_depth(value, field)
    return value


def load_json_object(text: str, field: str) -> dict[str, Any]:
    """Parse ``text`` as JSON that must be an object (used for JSON carried inside a string field)."""
    value = load_json(text, field)
    if not isinstance(value, dict):
        raise InvalidEvent(field, f"a JSON object, not {_json_kind(value)}")
    return value


_ESCAPE_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def _escaped_bytes(run: re.Match[str]) -> str:
    return bytes.fromhex(run.group().replace("%", "")).decode("utf-8")


def _unquote_plus(text: str) -> str:
    """``urllib.parse.unquote_plus(text, errors="strict")``, in C when ``text`` is ASCII.

    Each ``%XX`` becomes ``\\xXX`` for ``codecs.escape_decode`` (a backslash doubled first), and the
    bytes are decoded as UTF-8 at once: between ASCII characters, the whole is valid UTF-8 exactly when
    every run of escapes is, which is what ``unquote_plus`` decodes one by one. A ``%`` without two hex
    digits makes ``escape_decode`` refuse, and such text (or non-ASCII text) is decoded a run of
    escapes at a time, as ``unquote_plus`` leaves what is not an escape. Raises ``UnicodeDecodeError``
    when a run is not whole UTF-8, as ``unquote_plus`` does.
    """
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    if not text.isascii():
        return _ESCAPE_RUN.sub(_escaped_bytes, text)
    try:
        # typeshed has escape_decode return str; it returns bytes.
        raw = cast(bytes, codecs.escape_decode(text.replace("\\", "\\\\").replace("%", "\\x").encode())[0])
    except ValueError:  # a "%" without two hex digits after it
        return _ESCAPE_RUN.sub(_escaped_bytes, text)
    return raw.decode("utf-8")


def parse_form(text: str) -> dict[str, str]:
    """Parse a form-urlencoded body; ``+`` is a space, values percent-encoded UTF-8, unique keys.

    What ``urllib.parse.parse_qsl(text, keep_blank_values=True, errors="strict")`` accepts, field for
    field, without its per-field overhead. A body with no escaped ``&`` or ``=`` (CloudMonitor's never
    has one) is decoded whole, then split: decoding cannot add a separator to it. Otherwise only the
    parts holding ``%`` or ``+`` are decoded, one by one.
    """
    if text.count("&") >= MAX_FORM_FIELDS:
        raise InvalidEvent("", f"at most {MAX_FORM_FIELDS} form fields")
    try:
        if "%26" not in text and "%3D" not in text and "%3d" not in text:
            parts = [part.partition("=") for part in _unquote_plus(text).split("&") if part]
        else:
            parts = [_decoded_part(part) for part in text.split("&") if part]
    except UnicodeDecodeError:
        raise InvalidEvent("", "form values that are percent-encoded UTF-8") from None
    fields = {key: value for key, _, value in parts}
    if len(fields) < len(parts):
        seen: set[str] = set()
        for key, _, _ in parts:
            if key in seen:
                raise InvalidEvent(key, "a form field that appears once")
            seen.add(key)
    return fields


def _decoded_part(part: str) -> tuple[str, str, str]:
    """One ``key=value`` part split at its first ``=``, then key and value decoded."""
    key, separator, value = part.partition("=")
    if "%" in part or "+" in part:
        return _unquote_plus(key), separator, _unquote_plus(value)
    return key, separator, value


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
