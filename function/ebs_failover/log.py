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

import re
import sys
from collections.abc import Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

__all__ = ["Redactor", "configure", "get_logger", "invocation"]

_SECRET_KEY = re.compile(
    r"secret|password|security_?token|authorization|signature|credential|access_?key", re.I
)
_NOT_SECRET = frozenset({"client_token"})
_MASK = "***"


class Redactor:
    """A structlog processor that masks secrets; ``register`` adds values to mask anywhere."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def register(self, values: Iterable[str | None]) -> None:
        self._values.update(v for v in values if v and len(v) >= 4)

    def __call__(
        self, logger: object, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        return {key: self.scrub(value, key) for key, value in event.items()}

    def scrub(self, value: Any, key: str = "") -> Any:
        if key and key not in _NOT_SECRET and _SECRET_KEY.search(key) and value not in (None, ""):
            return _MASK
        if isinstance(value, str):
            for secret in self._values:
                if secret in value:
                    value = value.replace(secret, _MASK)
            return value
        if isinstance(value, dict):
            return {k: self.scrub(v, str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.scrub(v) for v in value]
        return value


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
    try:
        with structlog.contextvars.bound_contextvars(**context):
            yield
    finally:
        structlog.contextvars.clear_contextvars()


def bind(**values: Any) -> None:
    structlog.contextvars.bind_contextvars(**values)
