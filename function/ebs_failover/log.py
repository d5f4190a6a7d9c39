"""structlog in the style of Powertools' Logger: JSON lines with invocation context.

Every line carries ``level``, ``timestamp``, ``service``, ``cold_start``,
``function_name``, ``function_memory_size``, ``function_request_id`` and,
once known, ``correlation_id`` (the trigger's identity), ``client_token`` and
``replica_pair_id``. Context lives in contextvars and is cleared at the start
of every invocation, so nothing leaks into the next warm one. The last
processor before rendering redacts secrets: values under secret-looking keys,
and every registered secret value wherever it appears in a string.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, quote_plus

import structlog

__all__ = ["Redactor", "configure", "get_logger", "invocation"]

_SECRET_KEY = re.compile(
    r"secret|password|security_?token|authorization|signature|credential|access_?key", re.I
)
_NOT_SECRET = frozenset({"client_token"})
_MASK = "***"
#: How a shortened text ends (triggers' ``shorten``, InvalidEvent): what precedes it may be a cut secret.
_CUT = "..."
_SHORTEST_FRAGMENT = 4
#: Log keys whose values the handler has scrubbed already (the result event): not walked twice.
_SCRUBBED_ALREADY = frozenset({"result"})


class Redactor:
    """A structlog processor that masks secrets; ``register`` adds values to mask anywhere."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def register(self, values: Iterable[str | None]) -> None:
        """Mask these values, and their URL-encoded forms (a form body carries them so), anywhere."""
        fresh = {v for v in values if v and len(v) >= 4} - self._values
        if not fresh:
            return
        for value in fresh:
            self._values.update({value, quote(value, safe=""), quote_plus(value)})
        # One alternation, longest first, so a value and its encodings are masked in a single pass.
        ordered = sorted(self._values, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def __call__(
        self, logger: object, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        return {
            key: value if key in _SCRUBBED_ALREADY else self.scrub(value, key) for key, value in event.items()
        }

    def scrub(self, value: Any, key: str = "") -> Any:
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if key and _is_secret_key(key) and value != "":
            return _MASK
        if isinstance(value, str):
            return self._mask(value)
        if isinstance(value, dict):
            return {
                self._mask(k) if isinstance(k, str) else k: self.scrub(v, str(k)) for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self.scrub(v) for v in value]
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
_configured = False


def configure(stream: Any = None) -> None:
    """Configure structlog once per process (JSON to stdout, where FC collects it)."""
    global _configured  # noqa: PLW0603 - once per instance
    if _configured and stream is None:
        return
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
            REDACTOR,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=False,
    )
    _configured = True


def get_logger() -> Any:
    return structlog.get_logger()


@contextmanager
def invocation(**context: Any) -> Iterator[None]:
    """Fresh contextvars for one invocation, bound to ``context``; cleared afterwards too."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**context)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()


def bind(**values: Any) -> None:
    structlog.contextvars.bind_contextvars(**values)
