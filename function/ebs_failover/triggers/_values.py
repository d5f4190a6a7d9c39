"""Small normalisers shared by the shapes: identities, timestamps, levels, resource ids, summaries."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from ebs_failover.redact import shorten

from ._model import InvalidEvent

#: Longest value kept in :attr:`Trigger.summary`.
SUMMARY_LIMIT = 200

#: ``alertState`` spellings and their normalised state (ALARM is an older spelling of ALERT).
ALERT_STATES = {"ALERT": "ALERT", "ALARM": "ALERT", "OK": "OK", "INSUFFICIENT_DATA": "INSUFFICIENT_DATA"}

_LEVELS = {"CRITICAL": "CRITICAL", "WARN": "WARN", "WARNING": "WARN", "INFO": "INFO"}

#: Event statuses that say the trouble is over (ECS/EBS system-event lifecycle).
FINISHED_STATUSES = frozenset({"executed", "finished", "avoided", "canceled", "cancelled"})

_RESOURCE_ID = re.compile(r"[di]-[A-Za-z0-9]{2,64}")
_ID_KEYS = frozenset({"resourceid", "diskid", "instanceid", "ecsinstanceid"})
_ISO = re.compile(
    r"(\d{4})-?(\d{2})-?(\d{2})[Tt ](\d{2}):?(\d{2}):?(\d{2})(?:[.,](\d{1,9}))?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?"
)
_EPOCH_EXPECTED = "a 10-digit (seconds) or 13-digit (milliseconds) unix timestamp"


def identity(prefix: str, raw: str) -> str:
    """``"<prefix>:<raw>"``, or ``"<prefix>:<sha256 hex of raw>"`` if ``raw`` is not all printable ASCII."""
    printable = bool(raw) and raw.isascii() and raw.isprintable()  # exactly " " to "~"
    safe = raw if printable else hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{prefix}:{safe}"


#: Texts that mean "absent" in CloudMonitor's payloads.
ABSENT = frozenset({"", "null"})


def text(value: object) -> str | None:
    """A present scalar as text: ``None`` if missing, ``""``, ``"null"`` or not a scalar."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str) and value.strip() not in ABSENT:
        return value
    return None


def epoch_seconds(value: object, field: str) -> float:
    """Unix seconds from a 10-digit (seconds) or 13-digit (milliseconds) integer or digit string."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = str(value)
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        digits = value
    else:
        raise InvalidEvent(field, _EPOCH_EXPECTED, None if value is None else str(value))
    if len(digits) == 10:
        return float(int(digits))
    if len(digits) == 13:
        return int(digits) / 1000
    raise InvalidEvent(field, _EPOCH_EXPECTED, digits)


def iso_seconds(value: object, field: str) -> float:
    """Unix seconds from an ISO 8601 time, extended or basic (``20181226T220114.058+0800``), naive = UTC."""
    match = _ISO.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise InvalidEvent(field, "an ISO 8601 time", None if value is None else str(value))
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=timezone.utc
        )
    except ValueError:
        raise InvalidEvent(field, "an ISO 8601 time", str(value)) from None
    offset = timedelta(0)
    if zone and zone not in "Zz":
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        if zone[0] == "-":
            offset = -offset
    seconds = (moment - offset).timestamp()
    if fraction:
        seconds += int(fraction.ljust(9, "0")) / 1e9
    return seconds


def level(value: object) -> str | None:
    """``CRITICAL``/``WARN``/``INFO`` from a level spelling (any case, ``WARNING`` too); else ``None``."""
    if not isinstance(value, str):
        return None
    return _LEVELS.get(value.strip().upper())


def resource_id(value: object) -> str | None:
    """The disk or instance id in ``value``: a bare id or an ARN's / subject's last segment."""
    if not isinstance(value, str):
        return None
    candidate = value.strip().rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return candidate if _RESOURCE_ID.fullmatch(candidate) else None


class ResourceIds:
    """An ordered, deduplicated collection of resource ids."""

    def __init__(self) -> None:
        self._ids: dict[str, None] = {}

    def add(self, value: object) -> None:
        """Add the id found in ``value`` (a string, or a list of strings), if any."""
        for item in value if isinstance(value, list) else [value]:
            found = resource_id(item)
            if found is not None:
                self._ids.setdefault(found)

    def add_values(self, mapping: dict[str, Any]) -> None:
        """Add the ids found among the values of ``mapping``, whatever their keys (dimensions, resources)."""
        for value in mapping.values():
            self.add(value)

    def add_keyed(self, node: object, max_depth: int = 3) -> None:
        """Add ids held under id-like keys (resourceId, diskId, instanceId, ecsInstanceId; any case).

        Walks nested objects breadth first, to ``max_depth`` levels, so top-level ids come first.
        """
        level_nodes = [node]
        for _ in range(max_depth):
            nested: list[object] = []
            for current in level_nodes:
                if not isinstance(current, dict):
                    continue
                for key, value in current.items():
                    if key.lower() in _ID_KEYS:
                        self.add(value)
                    elif isinstance(value, dict):
                        nested.append(value)
            level_nodes = nested

    def result(self) -> tuple[str, ...]:
        """The ids, in order of first appearance."""
        return tuple(self._ids)


def summary(data: dict[str, Any], keys: Iterable[str]) -> dict[str, str]:
    """The present scalar fields of ``data`` among ``keys``, each shortened to :data:`SUMMARY_LIMIT`."""
    result: dict[str, str] = {}
    for key in keys:
        value = text(data.get(key))
        if value is not None:
            result[key] = shorten(value, SUMMARY_LIMIT)
    return result


def is_finished(status: object) -> bool:
    """Whether an event status (``Executed``, ``Canceled``, ...) says the trouble is over."""
    return isinstance(status, str) and status.strip().lower() in FINISHED_STATUSES
