"""A result too large for its channel, summarised: what every channel sends when the whole result would not
fit (:func:`fit` for the JSON channels; :mod:`ebs_failover.notify._text` for the robots).

A summary counts every outcome (the targets', and on a batch the events'), names every target that needs a
person (its outcome in :data:`ebs_failover.outcomes.NEEDS_A_PERSON`: failed, refused, drill_failed), and
gives the result's id: the handler logs the whole result on its ``result`` line (``result.id``), where the
rest is. Should even the names not fit, it names as many as fit, most serious first, and says how many more
there are.

Pure: no I/O. The limits themselves are each channel's (its module's ``MAX_BYTES``).
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ebs_failover import redact
from ebs_failover.outcomes import NEEDS_A_PERSON, OUTCOMES
from ebs_failover.results import ResultView, TargetView

__all__ = ["Digest", "digest", "fit", "json_size", "outcomes_of", "summary", "where_the_rest_is"]

#: What a summary keeps of a free text (a reason, a hint, an error's value), in characters.
_TEXT_LIMIT = 300
#: A ``subject`` longer than this (the comma-joined ids of every target) is left out of a summary.
_SUBJECT_LIMIT = 1024
#: The trigger's keys a summary keeps: which alarm or event it was (its resource ids are in the log).
_TRIGGER_KEYS = ("kind", "identity", "state", "level", "rule", "event_type", "resource_count")


@dataclass(frozen=True, slots=True)
class Digest:
    """What a summary says of a result: its counts and the targets that need a person."""

    #: How many targets the result lists.
    total: int
    #: ``(outcome, how many targets)``, the most serious first.
    counts: tuple[tuple[str, int], ...]
    #: The targets whose outcome needs a person, most serious first (the result's order within one).
    needing: tuple[TargetView, ...]
    #: On a batch: ``(outcome, how many events)``, the most serious first; empty otherwise.
    batch_counts: tuple[tuple[str, int], ...] = ()


def outcomes_of(event: Mapping[str, Any]) -> frozenset[str]:
    """Every outcome ``event`` reports: the invocation's, each target's and, on a batch, each event's."""
    result = ResultView(event)
    found = {result.outcome} | {target.outcome for target in result.targets}
    found |= {outcome for outcome, _ in _batch_counts(result.data.get("batch"))}
    return frozenset(outcome for outcome in found if outcome)


def digest(event: Mapping[str, Any]) -> Digest:
    """The counts and the targets needing a person of ``event`` (a result, read through its views)."""
    result = ResultView(event)
    targets = result.targets
    needing = sorted(
        (target for target in targets if target.outcome in NEEDS_A_PERSON),
        key=lambda target: _rank(target.outcome),  # sorted() is stable: the result's order within one
    )
    return Digest(
        total=len(targets),
        counts=_counted(target.outcome or "unknown" for target in targets),
        needing=tuple(needing),
        batch_counts=_batch_counts(result.data.get("batch")),
    )


def where_the_rest_is(event: Mapping[str, Any]) -> str:
    """Where a person finds the whole result: the ``result`` log line with the result's id."""
    shown = redact.one_line(str(ResultView(event).id or "?"))
    return f"the function's log: the line whose message is `result` and whose result.id is {shown}"


def fit(event: dict[str, Any], fits: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """``event`` itself when ``fits`` says so, else its :func:`summary` naming as many targets needing a
    person as fit (all of them, unless even their names are too many for the channel)."""
    if fits(event):
        return event
    needing = len(digest(event).needing)
    whole = summary(event, named=needing)
    if fits(whole):
        return whole
    low, high = 0, needing - 1  # the most names that fit (a summary naming none always fits a channel)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(summary(event, named=middle)):
            low = middle
        else:
            high = middle - 1
    return summary(event, named=low)


def summary(event: Mapping[str, Any], *, named: int | None = None) -> dict[str, Any]:
    """The CloudEvent ``event`` with its ``data`` summarised (``named``: how many of the targets needing a
    person it names; None: all). Its attributes stay (the same ``id``, ``type``, ``time``); a ``subject``
    too long to be useful is left out."""
    found = digest(event)
    listed = found.needing if named is None else found.needing[: max(named, 0)]
    data = ResultView(event).data
    told: dict[str, Any] = {
        "targets": found.total,
        "outcomes": dict(found.counts),
        "needs_a_person": [_named(target) for target in listed],
        "needs_a_person_count": len(found.needing),
    }
    if len(listed) < len(found.needing):
        told["not_named"] = len(found.needing) - len(listed)
    if found.batch_counts:
        told["batch_events"] = sum(count for _, count in found.batch_counts)
        told["batch_outcomes"] = dict(found.batch_counts)
    told["full_result"] = where_the_rest_is(event)
    summarised: dict[str, Any] = {
        "outcome": data.get("outcome"),
        "reason": _short(data.get("reason")),
        "dry_run": data.get("dry_run"),
        "region": data.get("region"),
        "request_id": data.get("request_id"),
        "trigger": _trigger(data.get("trigger")),
        "duration_ms": data.get("duration_ms"),
        "summary": told,
    }
    if isinstance(data.get("error"), Mapping):
        summarised["error"] = {str(k): _short(v) for k, v in list(data["error"].items())[:8]}
    attributes = {key: copy.deepcopy(value) for key, value in event.items() if key != "data"}
    if len(str(attributes.get("subject") or "")) > _SUBJECT_LIMIT:
        del attributes["subject"]
    return {**attributes, "data": summarised}


def json_size(value: Any, *, ascii_only: bool = False) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON (``ascii_only``: every non-ASCII character escaped)."""
    text = json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":"), default=str)
    return len(text.encode("utf-8"))


def _named(target: TargetView) -> dict[str, Any]:
    """A target needing a person, as a summary names it: its id, outcome, error code and hint."""
    key = "group_id" if target.raw.get("group_id") and not target.raw.get("pair_id") else "pair_id"
    named: dict[str, Any] = {key: target.target_id, "outcome": target.outcome}
    if target.error_code:
        named["error_code"] = _short(target.error_code)
    if target.hint:
        named["hint"] = _short(target.hint)
    return named


def _trigger(trigger: Any) -> Any:
    if not isinstance(trigger, Mapping):
        return trigger
    return {key: _short(trigger[key]) for key in _TRIGGER_KEYS if key in trigger}


def _short(value: Any) -> Any:
    """A free text shortened (numbers, booleans and None as they are)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact.shorten(str(value), _TEXT_LIMIT)


def _batch_counts(batch: Any) -> tuple[tuple[str, int], ...]:
    entries = batch if isinstance(batch, list) else []
    return _counted(str(entry.get("outcome") or "unknown") for entry in entries if isinstance(entry, Mapping))


def _counted(outcomes: Iterable[str]) -> tuple[tuple[str, int], ...]:
    """``(outcome, count)`` pairs, the most serious first (an unknown outcome last)."""
    return tuple(sorted(Counter(outcomes).items(), key=lambda item: (_rank(item[0]), item[0])))


def _rank(outcome: str | None) -> int:
    """An outcome's place in the order of severity (an unknown one after every known one)."""
    return next((place for place, known in enumerate(OUTCOMES) if known == outcome), len(OUTCOMES))
