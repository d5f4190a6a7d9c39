"""The incident stage: what the ledger (``LEDGER``) adds around acting and telling, for a live failover.

Before the act stage, :func:`open_journal` opens the incident's journal (one List) and :func:`recall`
claims the incident (one ``decision`` record for all its targets, so that its news is told in one piece):

- when another delivery holds it (acting now, within its lease), every target is a **duplicate**: no
  call, and the result is not told (it has no news of its own);
- otherwise every target is acted on: a target whose Failover the ledger holds is looked at but never
  failed over again. Found failed over, it is reported as that failover (``failed_over``, with the
  original RequestId and the data loss at the failover), so the news does not change with the retry that
  carries it; found anything else, the identity was reused after a fail-back: ``refused``, naming when.

After it, :func:`remember` records each Failover EBS accepted and each verification, and a target this
delivery found failed over whose Failover the ledger holds is reported as that failover. Before telling,
:func:`to_tell` keeps the channels that have not been told this news (a digest of the targets' states)
and :func:`told` records how each telling went.

With no ledger, in dry-run, or once the ledger is unavailable, every function here leaves things as they
are: the ledger is memory, never a gate.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import log

if TYPE_CHECKING:
    from .invocation import Invocation, Prepared
    from .ledger.journal import Earlier, Journal
    from .ledger.records import Record
    from .notify import Channel
    from .policy import Target

__all__ = ["Recalled", "open_journal", "recall", "remember", "to_tell", "told"]

#: Seconds added to the function's timeout before a claim no record follows is taken over (its delivery
#: died or gave up).
_LEASE_MARGIN = 30.0
#: Seconds between two looks at an incident another delivery holds.
_LOOK_AGAIN = 1.0


def open_journal(
    invocation: Invocation, prepared: Prepared, identity: str, *, any_mode: bool = False
) -> Journal | None:
    """The journal of this incident, or None (no ``LEDGER``, or a dry-run failover: no ledger request;
    ``any_mode``: a drill, which runs in both modes)."""
    settings = prepared.settings
    if settings.ledger is None or not (settings.live or any_mode):
        return None
    from .cloud.credentials import Credentials
    from .ledger import open_ledger
    from .ledger.journal import Journal

    held = prepared.credentials

    def credentials() -> Credentials | None:
        return held

    try:
        ledger = open_ledger(settings.ledger, prepared.region or "", credentials)
    except Exception as error:  # the SDK missing or a bad endpoint: the ledger is memory, never a gate
        log.LOGGER.warning("ledger_unavailable", error=f"{type(error).__name__}: {error}")
        return None
    lease = invocation.timeout() + _LEASE_MARGIN
    # Every delivery needs a name of its own: with no FC request id (not on FC), a random one.
    by = invocation.request_id or f"local-{uuid.uuid4()}"
    return Journal.open(ledger, identity, by, now=time.time, lease=lease)


class Recalled:
    """The targets sorted by what the journal holds: duplicates, or to act on (with what it knows)."""

    def __init__(self) -> None:
        #: Still held by another delivery after waiting: FC's retry is to look again (it may have died).
        self.retry_wanted = False
        self.duplicates: list[dict[str, Any]] = []
        self.to_act: list[Any] = []
        self.earlier: dict[str, Earlier] = {}


def recall(journal: Journal, work: Sequence[tuple[Target, Any]], *, wait: float = 0.0) -> Recalled:
    """Sort ``work`` (target, guards) by the journal (see the module's docstring). While another delivery
    holds the incident, look again for up to ``wait`` seconds: it may finish (then this one reports what
    it did) or its lease may run out (then this one takes over); still held, the targets are duplicates
    and FC's retry is asked for (:attr:`Recalled.retry_wanted`), since the holder may have died."""
    recalled = Recalled()
    waited_until = time.monotonic() + wait
    while True:
        busy = _held_by_another(journal, work, recalled)
        if busy is None:
            break
        if time.monotonic() + _LOOK_AGAIN >= waited_until:
            # Still another delivery's: its result is the news; FC's retry looks again (it may have died).
            recalled.duplicates.extend(_duplicate(target, busy.by, busy.at) for target, _ in work)
            recalled.retry_wanted = True
            return recalled
        time.sleep(_LOOK_AGAIN)
        journal.refresh()
    for target, guards in work:
        earlier = recalled.earlier[target.target_id]
        if earlier.failover is None:
            recalled.to_act.append((target, guards))
            continue
        # Looked at, never failed over again: found failed over, it is this incident's failover (the retry
        # reports it); found anything else, it was failed back since: the identity is reused.
        reused = _reused(earlier.failover.at, earlier.failover.by)
        recalled.to_act.append((target, dataclasses.replace(guards, stale=reused)))
    return recalled


def _held_by_another(
    journal: Journal, work: Sequence[tuple[Target, Any]], recalled: Recalled
) -> Record | None:
    """The decision of another delivery holding the incident, or None when this one may go on: nobody
    holds it and this delivery's claim won, or every target's Failover is recorded (a retry only looks,
    and its news is the one told already, so it needs no claim)."""
    busy = journal.busy()
    if busy is not None:
        return busy
    for target, _ in work:
        recalled.earlier[target.target_id] = journal.earlier(target.target_id)
    if all(earlier.failover is not None for earlier in recalled.earlier.values()):
        return None
    return journal.claim({"targets": [target.target_id for target, _ in work]})


def _reused(at: float, by: str) -> str:
    return (
        f"this incident's identity failed it over at {_when(at)} (FC request {by}) and it is not failed over "
        "now: it was failed back since, and a reused identity never fails it over again; to fail over "
        "again, use a new identity (a new alarm, or a new idempotencyKey)"
    )


def remember(journal: Journal, recalled: Recalled, acted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Record what this delivery's act stage did; a target found failed over whose Failover the ledger holds
    is that failover. Returns the targets as the result lists them."""
    merged: list[dict[str, Any]] = []
    summaries: dict[str, dict[str, Any]] = {}
    for acted_entry in acted:
        entry = acted_entry
        target_id = str(entry.get("pair_id") or entry.get("group_id"))
        earlier = recalled.earlier.get(target_id)
        if entry["outcome"] == "failed_over":
            journal.record(target_id, "failover", _failover_data(entry))
            journal.index_failover(target_id, _failover_data(entry))
            if entry.get("verified"):
                journal.record(target_id, "verified", {"failover_seconds": entry.get("failover_seconds")})
        elif (
            entry["outcome"] == "already_failed_over" and earlier is not None and earlier.failover is not None
        ):
            entry = _as_earlier_failover(entry, earlier, earlier.failover.by)
            if entry.get("verified") and earlier.verified is None:
                journal.record(target_id, "verified", {"failover_seconds": None})
        elif entry["outcome"] == "already_failed_over":
            entry = {**entry, "hint": _who(journal, target_id)}
        if entry["outcome"] == "failed_over":
            first = earlier.failover if earlier is not None else None
            summaries[target_id] = _summary(
                entry, first.at if first else time.time(), first.by if first else journal.by
            )
        merged.append(entry)
    # Done only after its records: a delivery that sees the decision done sees what it did.
    if acted:
        journal.release(",".join(sorted({str(entry["outcome"]) for entry in merged})), summaries)
    return [*merged, *recalled.duplicates]


def _summary(entry: dict[str, Any], at: float, by: str) -> dict[str, Any]:
    """A target's Failover as the decision's ``done`` record keeps it: what a retry reports from."""
    return {
        "failover": _failover_data(entry),
        "at": at,
        "by": by,
        "verified": bool(entry.get("verified")),
        "failover_seconds": entry.get("failover_seconds"),
    }


def remember_drills(journal: Journal, drilled: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A drill's first failure stays the news: recorded once per target (its drill id, hint, code); a
    later delivery of the incident reports it, whatever it saw itself (a drill cleared since, or passed on
    a retry). Returns the targets as the result lists them."""
    told: list[dict[str, Any]] = []
    for drilled_entry in drilled:
        entry, target_id = drilled_entry, _id(drilled_entry)
        first = journal.earlier_drill_failure(target_id)
        if first is not None:
            hint = f"{first.data.get('hint')} (first seen at {_when(first.at)}, FC request {first.by})"
            entry = {**entry, "outcome": "drill_failed", "hint": hint}
        elif entry.get("outcome") == "drill_failed":
            drill = entry.get("drill") or {}
            data = {
                "drill_id": drill.get("drill_id"),
                "hint": entry.get("hint"),
                "code": entry.get("error_code"),
            }
            journal.record(target_id, "drill_failure", data)
        told.append(entry)
    return told


def _id(entry: dict[str, Any]) -> str:
    return str(entry.get("pair_id") or entry.get("group_id"))


def only_duplicates(targets: Sequence[dict[str, Any]]) -> bool:
    """Whether every target is another delivery's now: the result has no news of its own to tell."""
    return bool(targets) and all(target.get("duplicate") for target in targets)


def to_tell(journal: Journal | None, result: dict[str, Any], channels: Sequence[Channel]) -> list[Channel]:
    """The channels to tell this result: those the ledger does not show told this news (all of them with
    no ledger); none for a result that is only duplicates."""
    targets = result.get("data", {}).get("targets") or []
    if journal is None:
        return list(channels)
    if only_duplicates(targets):
        return []
    from .notify._summary import outcomes_of

    state, outcomes = news_state(targets), outcomes_of(result)
    # Only the channels whose filter wants this news are claimed: a claim for one that would not be told
    # is a request for nothing.
    wanted = [channel for channel in channels if channel.wants_any(outcomes)]
    return [channel for channel in wanted if journal.claim_telling(state, channel.label)]


def told(journal: Journal | None, result: dict[str, Any], deliveries: Sequence[dict[str, Any]]) -> None:
    """Record each telling's fate, so that the next delivery tells only what was not told."""
    if journal is None:
        return
    state = news_state(result.get("data", {}).get("targets") or [])
    for entry in deliveries:
        journal.told(state, str(entry.get("channel")), entry)


def news_state(targets: Sequence[dict[str, Any]]) -> str:
    """The news a result carries, as a short digest of each target's state (id, outcome, verified): the
    same news on any delivery gives the same digest."""
    states = sorted(
        f"{target.get('pair_id') or target.get('group_id')}:{target.get('outcome')}:{target.get('verified')}"
        for target in targets
        if not target.get("duplicate")
    )
    return hashlib.sha256("\n".join(states).encode()).hexdigest()[:16]


def _who(journal: Journal, target_id: str) -> str:
    """Who failed ``target_id`` over, as the ledger knows it: this function in another incident, or not
    this function."""
    last = journal.last_failover(target_id)
    if journal.unavailable is not None:
        return "found failed over; the incident ledger could not say by whom (it was unavailable)"
    if last is None:
        return (
            "found failed over, not by this function as far as the incident ledger knows: it holds no "
            "failover of it (one made before LEDGER was set would not be there)"
        )
    return (
        f"found failed over: this function failed it over at {_when(last.at)}, in incident "
        f"{last.data.get('incident')} (FC request {last.by})"
    )


def _failover_data(entry: dict[str, Any]) -> dict[str, Any]:
    keys = ("client_token", "request_id", "data_loss_seconds", "last_recover_point", "status_before")
    return {key: entry[key] for key in keys if entry.get(key) is not None}


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_earlier_failover(entry: dict[str, Any], earlier: Earlier, by: str) -> dict[str, Any]:
    """``entry`` as the failover an earlier delivery of this incident made (its RequestId, data loss)."""
    assert earlier.failover is not None
    data, at = earlier.failover.data, earlier.failover.at
    merged = {**entry, "outcome": "failed_over"}
    seconds = earlier.verified.data.get("failover_seconds") if earlier.verified is not None else None
    if seconds is not None:
        merged["failover_seconds"] = seconds
    for key in ("request_id", "data_loss_seconds", "last_recover_point", "status_before"):
        if data.get(key) is not None:
            merged[key] = data[key]
    merged.pop("data_loss_upper_bound", None)  # the loss at the failover, as recorded then
    merged["failed_over_at"] = _when(at)
    merged["hint"] = (
        f"failed over by this function at {_when(at)}, in an earlier delivery of this incident "
        f"(FC request {by}); from the incident ledger"
    )
    return merged


def _duplicate(target: Target, by: str, at: float) -> dict[str, Any]:
    return {
        "group_id" if target.is_group else "pair_id": target.target_id,
        "client_token": target.client_token,
        "outcome": "ignored",
        "duplicate": True,
        "hint": (
            f"a duplicate: another delivery of this incident (FC request {by}) has been acting on it since "
            f"{_when(at)}; its result tells the outcome"
        ),
    }
