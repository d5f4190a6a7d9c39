"""Outcomes: the one place that knows them, their order of severity and what each grouping means.

An invocation's outcome is the most serious of its targets' (:func:`aggregate`), a drill's is
``drill_passed`` only when every target's drill passed (:func:`drill_outcome`). The groupings say what an
outcome asks of the rest of the function:

=====================  =========================================================================
grouping               used by
=====================  =========================================================================
:data:`FAILURES`       the command line: exit 1 (a failure for whoever ran it by hand)
:data:`NEEDS_A_PERSON` the handler: a result a person must hear of; raised for FC's retry when no
                       channel took it
:data:`NEWS`           the same, per target: a failover made, or found made
:func:`log_level`      the ``result`` log line's level
=====================  =========================================================================

Pure, and light: the command line reads it without loading any stage.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

__all__ = [
    "FAILURES",
    "NEEDS_A_PERSON",
    "NEWS",
    "OUTCOMES",
    "Outcome",
    "aggregate",
    "drill_outcome",
    "is_outcome",
    "log_level",
]

#: Every outcome, the most serious first (the invocation's outcome is the most serious of its targets').
Outcome = Literal[
    "failed",
    "drill_failed",
    "refused",
    "failed_over",
    "already_failed_over",
    "dry_run",
    "drill_passed",
    "ignored",
    "rejected",
]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)

#: Failures for whoever ran the function by hand (the command line exits 1 on them).
FAILURES: frozenset[str] = frozenset({"failed", "rejected", "drill_failed"})
#: An invocation outcome a person must hear of: the state could not be changed when it should have been.
NEEDS_A_PERSON: frozenset[str] = frozenset({"failed", "refused", "drill_failed"})
#: Target outcomes whose news must reach someone: a failover made now, or found made (FC's retry of a
#: delivery whose news reached nobody finds the pair failed over: without a store, that news may be new).
NEWS: frozenset[str] = frozenset({"failed_over", "already_failed_over"})

_LOG_LEVELS: dict[str, str] = {
    "failed": "error",
    "drill_failed": "error",
    "refused": "warning",
    "rejected": "warning",
}


def is_outcome(value: object) -> bool:
    return value in OUTCOMES


def aggregate(outcomes: Iterable[str]) -> Outcome:
    """The most serious of several outcomes."""
    return min((_known(outcome) for outcome in outcomes), key=OUTCOMES.index)


def drill_outcome(outcomes: Iterable[str]) -> Outcome:
    """A drill's outcome: ``drill_passed`` when every target's drill passed, else ``drill_failed`` (a
    target's drill failed or could not be followed, or the target was refused or failed before one)."""
    return "drill_passed" if all(outcome == "drill_passed" for outcome in outcomes) else "drill_failed"


def log_level(outcome: str) -> str:
    """The ``result`` log line's level for an invocation that ended so (and raised nothing)."""
    return _LOG_LEVELS.get(outcome, "info")


def _known(outcome: str) -> Outcome:
    for known in OUTCOMES:
        if known == outcome:
            return known
    raise ValueError(f"unknown outcome {outcome!r}")
