"""The result event: one CloudEvents 1.0 event per invocation.

``type`` ends in the outcome (``com.aliyun.ebs-failover.failed_over`` …),
``subject`` is the pair id (several, comma-separated, when one alarm maps to
several pairs), and ``data`` carries everything an operator needs: the
outcome, the trigger, each pair's ClientToken, EBS RequestId, status before
and after, data-loss window, error code and hint, and durations.
"""

from __future__ import annotations

import operator
import random
from collections.abc import Sequence
from typing import Any

from ._clock import iso_utc, tenths

__all__ = ["OUTCOMES", "TYPE_PREFIX", "aggregate", "build"]

#: Every outcome, the most serious first (the invocation's outcome is the most serious of its targets').
OUTCOMES = ("failed", "refused", "failed_over", "already_failed_over", "dry_run", "ignored", "rejected")
TYPE_PREFIX = "com.aliyun.ebs-failover."
_PAIR_ID = operator.itemgetter("pair_id")


def aggregate(outcomes: Sequence[str]) -> str:
    """The most serious of several targets' outcomes."""
    # Not min(): before Python 3.13 it parses its arguments with CPython's slowest parser, every call.
    return OUTCOMES[sorted(map(OUTCOMES.index, outcomes))[0]]


#: The bits a random (version 4, RFC 4122 variant) UUID fixes.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def _uuid4() -> str:
    """A random UUID as text, at a quarter of ``str(uuid.uuid4())``'s cost.

    An event id must be unique, not unpredictable: ``random`` (reseeded in a forked child) instead of
    a system call to ``os.urandom``, no ``UUID`` object built and thrown away, and the hex digits from
    ``bytes.hex`` rather than a format spec (CPython's format-spec machinery is a lot of code).
    """
    text = (random.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET).to_bytes(16, "big").hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def build(
    *,
    outcome: str,
    source: str,
    request_id: str | None,
    trigger: dict[str, Any] | None,
    targets: Sequence[dict[str, Any]],
    region: str | None,
    dry_run: bool,
    reason: str,
    duration_ms: float,
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The CloudEvent for one invocation."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    data: dict[str, Any] = {
        "outcome": outcome,
        "reason": reason,
        "dry_run": dry_run,
        "region": region,
        "request_id": request_id,
        "trigger": trigger,
        "targets": list(targets),
        "duration_ms": tenths(duration_ms),
    }
    if error is not None:
        data["error"] = error
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": _uuid4(),
        "source": source,
        "type": TYPE_PREFIX + outcome,
        "time": iso_utc(),
        "datacontenttype": "application/json",
        "data": data,
    }
    if targets:
        event["subject"] = ",".join(map(str, map(_PAIR_ID, targets)))
    return event
