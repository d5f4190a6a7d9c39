"""structlog in the style of AWS Lambda Powertools' Logger: one JSON object per line, on stdout.

Every line carries Powertools' keys: ``level`` (``INFO``, ``WARNING``, ``ERROR``), ``location``
(``module:function:line``), ``message``, ``timestamp`` (ISO 8601, UTC) and whatever the invocation bound
with :func:`bind`: the handler binds ``service``, ``cold_start``, ``function_name``,
``function_memory_size``, ``function_arn``, ``function_request_id`` and, when known, ``trace_id`` and
``correlation_id``. A line logged with ``exc_info`` also carries ``exception_name`` and ``exception``.

The processors, one job each: context-local keys merged → level → timestamp → location → exception →
``event`` renamed ``message`` → secrets masked (:mod:`ebs_failover.redact`) → Powertools' key order →
JSON. The keys live in
structlog's context variables; :func:`isolated` runs an invocation in a copy of the caller's context, so
that nothing it binds leaks into the next warm invocation, nor into a concurrent one. The logger has its own
processor chain: the global ``structlog.configure`` is left to whoever embeds the function.
"""

from __future__ import annotations

import contextvars
import json
import math
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import structlog
from structlog.contextvars import bind_contextvars, merge_contextvars
from structlog.processors import (
    CallsiteParameter,
    CallsiteParameterAdder,
    EventRenamer,
    JSONRenderer,
    TimeStamper,
    format_exc_info,
)
from structlog.typing import EventDict, WrappedLogger

from . import redact

__all__ = ["LOGGER", "bind", "configure", "dumps", "isolated"]

T = TypeVar("T")
_INFO = 20  # logging.INFO: DEBUG lines are dropped


def dumps(value: Any, **_: Any) -> str:
    """``value`` as compact JSON on one line, whatever it holds.

    orjson first; what it refuses (lone surrogates, integers beyond 64 bits, very deep nesting, keys
    that are not scalars) goes through ``json``, escaped to ASCII, after :func:`_plain`. A value
    neither can serialise is written as its ``repr``; a float that is not a number as ``null``.
    """
    try:
        text = orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(_plain(value), default=repr, separators=(",", ":"), allow_nan=False)
    if not text.isascii():
        # JSON leaves U+0085, U+2028 and U+2029 raw, and log viewers (and str.splitlines) break lines there.
        text = text.replace("\x85", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text


def _plain(value: Any) -> Any:
    """``value`` with what ``json`` refuses made plain: keys as text, NaN and infinities as None."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _level(_: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """``level``: the method's name, upper-case, as Powertools writes it."""
    event["level"] = method.upper()
    return event


def _location(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """``location``: ``module:function:line`` of the call, from the call-site keys structlog added."""
    module, function, line = event.pop("module", "?"), event.pop("func_name", "?"), event.pop("lineno", 0)
    event["location"] = f"{module}:{function}:{line}"
    return event


def _exception_name(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """``exception_name``: the class of the exception a line was logged with (``exc_info``)."""
    error = event.get("exc_info")
    if isinstance(error, BaseException):
        event["exception_name"] = type(error).__name__
    elif isinstance(error, tuple) and error and isinstance(error[0], type):
        event["exception_name"] = error[0].__name__
    elif error is True and sys.exc_info()[0] is not None:
        event["exception_name"] = sys.exc_info()[0].__name__  # type: ignore[union-attr]
    return event


def _redact(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Every secret masked: values under secret-looking keys, registered secrets anywhere."""
    scrubbed: EventDict = redact.REDACTOR.scrub(event)
    return scrubbed


_FIRST_KEYS = ("level", "location", "message", "timestamp")


def _powertools_order(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Powertools' key order: ``level``, ``location``, ``message``, ``timestamp``, then the rest."""
    return {**{key: event[key] for key in _FIRST_KEYS if key in event}, **event}


class _Output:
    """The wrapped logger: writes each line to the stream :func:`configure` chose, else to stdout."""

    stream: Any = None

    def msg(self, line: str) -> None:
        stream = self.stream or sys.stdout  # looked up per line: FC's (or a test's) stdout of the moment
        stream.write(line + "\n")
        stream.flush()  # FC collects stdout: a line must not wait in a buffer

    debug = info = warning = error = critical = exception = msg


_OUTPUT = _Output()

#: The logger, with its own processors.
LOGGER: Any = structlog.wrap_logger(
    _OUTPUT,
    processors=[
        merge_contextvars,
        _level,
        TimeStamper(fmt="iso", utc=True, key="timestamp"),
        CallsiteParameterAdder(
            [CallsiteParameter.MODULE, CallsiteParameter.FUNC_NAME, CallsiteParameter.LINENO],
            additional_ignores=[__name__],
        ),
        _location,
        _exception_name,
        format_exc_info,
        EventRenamer("message"),
        _redact,
        _powertools_order,
        JSONRenderer(serializer=dumps),
    ],
    wrapper_class=structlog.make_filtering_bound_logger(_INFO),
).bind()


def configure(stream: Any = None) -> None:
    """Send the lines to ``stream`` (a text stream); ``None``: to stdout, where FC collects them."""
    _OUTPUT.stream = stream


def bind(**keys: Any) -> None:
    """Add ``keys`` to every further line of this context (see :func:`isolated`)."""
    bind_contextvars(**keys)


def isolated(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a copy of the current context: what it binds is gone when it returns."""
    return contextvars.copy_context().run(function, *args)
