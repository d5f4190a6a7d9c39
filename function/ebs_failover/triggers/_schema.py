"""JSON Schema validation of each shape, with fastjsonschema compiled lazily, once per process and schema.

The schemas live in ``schemas/<name>.json`` (draft-07). A validation failure becomes an :class:`InvalidEvent`
naming the field path and what was expected; a schema node's ``description``, when present, is used as the
"expected" text for every rule of that node except ``required``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._model import InvalidEvent

SCHEMA_DIR = Path(__file__).with_name("schemas")

_TYPE_NAMES = {
    "string": "a string",
    "object": "a JSON object",
    "array": "an array",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


@functools.cache
def validator(name: str) -> Callable[[Any], Any]:
    """Compile and cache the validator for ``schemas/<name>.json`` (imports fastjsonschema)."""
    import fastjsonschema

    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    compiled: Callable[[Any], Any] = fastjsonschema.compile(schema, use_default=False)
    return compiled


def validate(name: str, data: dict[str, Any]) -> None:
    """Validate ``data`` against schema ``name``; raise :class:`InvalidEvent` on the first violation."""
    try:
        validator(name)(data)
    except Exception as error:
        from fastjsonschema import JsonSchemaValueException  # only a failure needs the class

        if isinstance(error, JsonSchemaValueException):
            raise _translate(error) from None
        raise


def _join(path: list[str]) -> str:
    return "/".join(path)


def _render(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return None
    return json.dumps(value)


def _translate(error: Any) -> InvalidEvent:
    path = [str(part) for part in list(error.path)[1:]]  # the first element is fastjsonschema's "data"
    rule: str | None = error.rule
    definition: Any = error.rule_definition
    value: Any = error.value
    node: Any = error.definition if isinstance(error.definition, dict) else {}
    if rule == "required":
        names = [str(key) for key in definition]
        missing = [key for key in names if not isinstance(value, dict) or key not in value] or names
        return InvalidEvent(_join([*path, missing[0]]), "a value (the field is required)")
    if rule == "additionalProperties":
        known = node.get("properties", {})
        extra = [str(key) for key in value if key not in known] if isinstance(value, dict) else []
        allowed = ", ".join(known) or "none"
        return InvalidEvent(_join([*path, *extra[:1]]), f"no such field (allowed: {allowed})")
    described = node.get("description")
    if isinstance(described, str):
        return InvalidEvent(_join(path), described, _render(value))
    if rule == "enum":
        expected = "one of " + ", ".join(str(item) for item in definition)
    elif rule == "const":
        expected = f"exactly {definition!r}"
    elif rule == "type":
        kinds = definition if isinstance(definition, list) else [definition]
        expected = " or ".join(_TYPE_NAMES.get(str(kind), str(kind)) for kind in kinds)
    elif rule == "pattern":
        expected = f"a string matching {definition}"
    elif rule == "minLength":
        expected = (
            "a non-empty string" if definition == 1 else f"a string of at least {definition} characters"
        )
    elif rule == "maxLength":
        expected = f"a string of at most {definition} characters"
    else:
        message = str(error.message)
        expected = message.split(" must ", 1)[1] if " must " in message else message
    return InvalidEvent(_join(path), expected, _render(value))
