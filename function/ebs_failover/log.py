"""structlog in the style of Powertools' Logger: JSON lines with invocation context.

Every line carries ``level``, ``timestamp``, ``service``, ``cold_start``,
``function_name``, ``function_memory_size``, ``function_request_id`` and,
once known, ``correlation_id`` (the trigger's identity), ``client_token`` and
``replica_pair_id``. The keys live in one context variable holding a fresh
dict per invocation, so nothing leaks into the next warm one, nor into a
concurrent one. The renderer redacts secrets: values under secret-looking
keys, and every registered secret value wherever it appears in a string.

The logger is built once per process, with its own processor chain (the
global ``structlog.configure`` is left to whoever embeds the function);
:func:`configure` only chooses the stream the lines go to.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Iterable, MutableMapping
from contextvars import ContextVar, Token
from typing import Any
from urllib.parse import quote, quote_plus

import orjson
import structlog

from ._clock import iso_utc

__all__ = ["LOGGER", "Redactor", "Rendered", "configure", "dumps", "get_logger", "invocation"]

_SECRET_WORDS = r"secret|password|security_?token|authorization|signature|credential|access_?key"
_SECRET_KEY = re.compile(_SECRET_WORDS, re.I)
#: The same words in lower-cased JSON text (a case-insensitive pattern is several times slower).
_SECRET_WORD = re.compile(_SECRET_WORDS.encode())
_NOT_SECRET = frozenset({"client_token"})
_MASK = "***"
#: How a shortened text ends (triggers' ``shorten``, InvalidEvent): what precedes it may be a cut secret.
_CUT = "..."
_SHORTEST_FRAGMENT = 4
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS
#: Log keys whose values may be structures from outside, with keys of their own (the raw event).
#: Every other key of a line, and every key inside its values, is the function's own: a line is
#: searched for secret-looking keys only when it has one of these.
_OUTSIDE_STRUCTURES = frozenset({"raw_event"})


class Rendered:
    """A value rendered as JSON and scrubbed (:meth:`Redactor.scrub_rendered`): ``json``, UTF-8.

    :func:`dumps` embeds it as it is; a log line splices it in without searching it again.
    """

    __slots__ = ("json",)

    def __init__(self, json: bytes) -> None:
        self.json = json


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON (UTF-8); a :class:`Rendered` inside it is embedded as it is.

    orjson first; what it refuses (lone surrogates, integers beyond 64 bits, very deep nesting) goes
    through ``json``, escaped to ASCII.
    """
    try:
        return orjson.dumps(value, default=_fragment, option=_ORJSON_OPTIONS)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, default=_plain, separators=(",", ":")).encode()


def _fragment(value: Any) -> Any:
    """What orjson writes for a value it does not know: a :class:`Rendered`'s text, else repr."""
    if isinstance(value, Rendered):
        return orjson.Fragment(value.json)
    return repr(value)


def _plain(value: Any) -> Any:
    """What ``json`` writes for a value it does not know: a :class:`Rendered` parsed back, else repr."""
    if isinstance(value, Rendered):
        return orjson.loads(value.json)
    return repr(value)


class Redactor:
    """Masks secrets; ``register`` adds values to mask anywhere.

    :meth:`scrub` walks a value and masks. Walking is the slow part, so
    :meth:`clean` first asks the serialised text whether anything could need
    masking: no registered secret (in any of the forms it can take in JSON), no
    cut mark once secrets are registered, and no secret-looking word (a key
    that needs masking contains one). Only a suspect value is walked; a false
    alarm costs a walk, never a leak.
    """

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._needles: tuple[bytes, ...] = ()
        self._registered_last: tuple[str | None, ...] = ()

    def register(self, values: Iterable[str | None]) -> None:
        """Mask these values, and their URL-encoded forms (a form body carries them so), anywhere."""
        values = tuple(values)
        if values == self._registered_last:  # every warm invocation registers the same few
            return
        self._registered_last = values
        fresh = {v for v in values if v and len(v) >= 4} - self._values
        if not fresh:
            return
        for value in fresh:
            self._values.update({value, quote(value, safe=""), quote_plus(value)})
        # One alternation, longest first, so a value and its encodings are masked in a single pass.
        ordered = sorted(self._values, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered)))
        # The values as they read inside JSON text (quotes, backslashes, controls escaped), and the cut
        # mark. Substring tests: a few long needles are found faster one by one than by one alternation.
        self._needles = (*sorted({dumps(value)[1:-1] for value in self._values}), _CUT.encode())

    def clean(self, rendered: bytes, *, foreign_keys: bool = True) -> bool:
        """Whether ``rendered`` (a value's JSON) holds nothing :meth:`scrub` would mask.

        ``foreign_keys=False``: every key in the value is the function's own (none looks secret), so
        only the values are checked.
        """
        find = rendered.find
        for needle in self._needles:
            # Not ``needle in rendered``: bytes' ``in`` first tries its operand as an integer, and
            # builds and formats a TypeError for every needle before it searches.
            if find(needle) != -1:
                return False
        return not foreign_keys or _SECRET_WORD.search(rendered.lower()) is None

    def scrub(self, value: Any, key: str = "", *, foreign_keys: bool = True) -> Any:
        """``value`` with secrets masked; ``value`` itself when its JSON shows nothing to mask."""
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if not key and self.clean(dumps(value), foreign_keys=foreign_keys):
            return value
        return self._walk(value, key)

    def scrub_rendered(self, value: Any) -> tuple[Any, Rendered]:
        """:meth:`scrub` of a value whose keys are all the function's own, and its JSON.

        The JSON is the text the check rendered anyway (rendered again only if something was
        masked): a log line embeds it instead of serialising the value a second time.
        """
        rendered = dumps(value)
        if not self.clean(rendered, foreign_keys=False):
            value = self._walk(value)
            rendered = dumps(value)
        return value, Rendered(rendered)

    def _walk(self, value: Any, key: str = "") -> Any:
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if key and _is_secret_key(key) and value != "":
            return _MASK
        if isinstance(value, str):
            return self._mask(value)
        if isinstance(value, dict):
            return {
                self._mask(k) if isinstance(k, str) else k: self._walk(v, str(k)) for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self._walk(v) for v in value]
        return value

    def _mask(self, text: str) -> str:
        if self._pattern is None:
            return text
        text = self._pattern.sub(_MASK, text)
        if _CUT in text:  # shortened somewhere: a secret may have lost its end at a cut
            pieces = text.split(_CUT)
            text = _CUT.join([*(self._mask_cut_start(p) for p in pieces[:-1]), pieces[-1]])
        return text

    def _mask_cut_start(self, head: str) -> str:
        for secret in self._values:
            for length in range(len(secret) - 1, _SHORTEST_FRAGMENT - 1, -1):
                if head.endswith(secret[:length]):
                    head = head[:-length] + _MASK
                    break
        return head


@functools.lru_cache(maxsize=1024)
def _is_secret_key(key: str) -> bool:
    return key not in _NOT_SECRET and _SECRET_KEY.search(key) is not None


REDACTOR = Redactor()


@functools.lru_cache(maxsize=64)
def _json_key(key: str) -> bytes:
    return dumps(key)


def _one_line(rendered: bytes) -> bytes:
    """Escape the three characters JSON leaves raw that ``str.splitlines`` (and log viewers) break lines at.

    In UTF-8 these byte sequences can only be those characters, so a byte replace is exact.
    """
    if rendered.isascii():  # the common case, and a far quicker test than three searches
        return rendered
    find = rendered.find  # not ``in``: see Redactor.clean
    if find(b"\xc2\x85") != -1 or find(b"\xe2\x80\xa8") != -1 or find(b"\xe2\x80\xa9") != -1:
        rendered = rendered.replace(b"\xc2\x85", b"\\u0085")
        rendered = rendered.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    return rendered


class _Output:
    """The wrapped logger: writes each line to the stream :func:`configure` chose, else to stdout."""

    stream: Any = None

    def msg(self, line: str) -> None:
        stream = self.stream or sys.stdout  # looked up per line: FC's (or pytest's) stdout of the moment
        stream.write(line + "\n")
        stream.flush()  # FC collects stdout: a line must not wait in a buffer

    debug = info = warning = error = critical = msg


_OUTPUT = _Output()
#: The invocation's keys (Powertools' appended keys): one dict per invocation, context-local, so that
#: concurrent invocations in one instance (threads) never see each other's keys.
_CONTEXT: ContextVar[dict[str, Any] | None] = ContextVar("ebs_failover_log_context", default=None)


def _render_line(logger: object, method: str, event: MutableMapping[str, Any]) -> str:
    """The one processor: the line as JSON, with secrets masked.

    The invocation's keys, the line's own (which win), level and timestamp: what
    ``merge_contextvars``, ``add_log_level``, ``TimeStamper`` and a renderer would do in four
    processors, in one (the canonical line is written on every invocation). The line's values are
    rendered and searched once (walked and rendered again only if that looked suspect);
    :class:`Rendered` values, scrubbed when they were rendered, are spliced in as they are, neither
    serialised nor searched a second time.
    """
    context = _CONTEXT.get()
    merged = {**context, **event} if context else dict(event)
    merged["level"] = method
    merged["timestamp"] = iso_utc(digits=6)
    spliced = []
    for key, value in event.items():
        if type(value) is Rendered:
            spliced.append((key, value))
            del merged[key]
    redactor = REDACTOR  # looked up per line: a test may swap in a fresh one
    line = dumps(merged)
    if not redactor.clean(line, foreign_keys=not _OUTSIDE_STRUCTURES.isdisjoint(merged)):
        line = dumps(redactor._walk(merged))
    for key, rendered in spliced:  # the line always has keys (event, level, timestamp): never "{}"
        line = b"".join((line[:-1], b",", _json_key(key), b":", rendered.json, b"}"))
    return _one_line(line).decode("utf-8", "replace")


class _BoundLogger(structlog.BoundLoggerBase):
    """The bound logger: a method per level, each straight into the processor chain.

    structlog's custom-wrapper pattern: what ``make_filtering_bound_logger("info")`` builds, minus
    the %-interpolation step its methods take on every call (no line here has positional
    arguments), and so one call less per line.
    """

    def debug(self, event: str, **kw: Any) -> None:
        """Below INFO, the threshold: dropped, as a filtering logger at INFO drops it."""

    def info(self, event: str, **kw: Any) -> Any:
        return self._proxy_to_logger("info", event, **kw)

    def warning(self, event: str, **kw: Any) -> Any:
        return self._proxy_to_logger("warning", event, **kw)

    def error(self, event: str, **kw: Any) -> Any:
        return self._proxy_to_logger("error", event, **kw)

    def critical(self, event: str, **kw: Any) -> Any:
        return self._proxy_to_logger("critical", event, **kw)


#: The logger, built once with its own processors (the global ``structlog.configure`` stays the
#: embedder's): a bound logger itself, not a lazy proxy that resolves one on every call.
LOGGER: Any = structlog.wrap_logger(
    _OUTPUT,
    processors=[_render_line],
    wrapper_class=_BoundLogger,
    context_class=dict,
).bind()


def configure(stream: Any = None) -> None:
    """Send the lines to ``stream`` (a text stream); ``None``: to stdout, where FC collects them."""
    _OUTPUT.stream = stream


def get_logger() -> Any:
    """:data:`LOGGER`."""
    return LOGGER


class invocation:
    """A fresh context for one invocation, holding ``context``; the previous one is back afterwards.

    A class rather than a ``@contextmanager`` generator: entered on every invocation, it should cost
    two context-variable operations and little else.
    """

    __slots__ = ("_context", "_token")

    def __init__(self, **context: Any) -> None:
        self._context = context
        self._token: Token[dict[str, Any] | None] | None = None

    def __enter__(self) -> None:
        self._token = _CONTEXT.set(self._context)

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _CONTEXT.reset(self._token)


def bind(**values: Any) -> None:
    """Add keys to every further line of this invocation (of this context, outside one)."""
    context = _CONTEXT.get()
    if context is None:
        _CONTEXT.set(dict(values))
    else:
        context.update(values)
