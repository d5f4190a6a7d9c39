"""One delivery's use of the ledger for its incident: what earlier deliveries did, and the steps it claims.

A :class:`Journal` opens with one List of the incident's records (their keys say which steps were taken)
and reads a body only when it needs one. The steps, each an append-only record with an attempt number:

- ``decision/<n>`` (for the incident as a whole): this delivery acts on the incident's targets (the claim
  that keeps concurrent duplicates from each calling Failover and from splitting the news), and
  ``decision/<n>/done`` when it is done. A decision not done within the lease (the function's timeout:
  its delivery died) is taken over with ``n + 1``.
- ``failover``: EBS accepted the Failover (when it was requested, its RequestId, the data loss then);
  ``verified``: the target was seen ``failovered`` (when). A later delivery reports the target from them.
- ``telling/<state>/<channel>/<n>``, then ``told/…`` or ``tell_failed/…``: one piece of news (a digest of
  the targets' states) told to one channel. A telling claimed and neither told nor failed within the lease
  is taken over; a failed one is tried again at once by the next delivery.

The ledger is memory, not a gate: any :class:`~ebs_failover.errors.LedgerError` makes the journal
unavailable for the rest of the delivery (:attr:`Journal.unavailable` says why), and every question then
gets the answer the function gives without a ledger (act, tell).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ebs_failover import log
from ebs_failover.errors import LedgerError

from .records import Kind, Record
from .store import Ledger

__all__ = ["Earlier", "Journal", "index_of"]


def index_of(target: str) -> str:
    """The pseudo-incident under which the Failovers of ``target`` are indexed."""
    return f"target:{target}"


@dataclass(frozen=True, slots=True)
class Earlier:
    """What the ledger knows of one target of the incident: its Failover (``failover`` record) and its
    verification."""

    failover: Record | None = None
    verified: Record | None = None


class Journal:
    """The incident's records as one delivery sees and writes them (see the module's docstring)."""

    def __init__(
        self, ledger: Ledger, incident: str, by: str, *, now: Callable[[], float], lease: float
    ) -> None:
        self.ledger, self.incident, self.by = ledger, incident, by
        self.now, self.lease = now, lease
        #: Why the ledger could not be used in this delivery (None: it could).
        self.unavailable: str | None = None
        #: (target, kind, name) of every record the incident had when opened, and those this delivery added.
        self._steps: set[tuple[str, str, str]] = set()
        self._read: dict[str, Record | None] = {}
        #: The decision attempt this delivery claimed.
        self._claimed: int | None = None
        #: Channels another delivery was telling this news to when this one would have (not yet told).
        self.others_telling: list[str] = []

    @classmethod
    def open(
        cls, ledger: Ledger, incident: str, by: str, *, now: Callable[[], float], lease: float
    ) -> Journal:
        """The journal of ``incident`` for the delivery ``by``: one List of its records."""
        journal = cls(ledger, incident, by, now=now, lease=lease)
        journal.refresh()
        return journal

    def refresh(self) -> None:
        """List the incident's records again (what other deliveries have done since)."""
        if self.unavailable is not None:
            return
        try:
            for key in self.ledger.keys(self.incident):
                parts = Record.parts(key, self.ledger.prefix)
                if parts is not None:
                    self._steps.add(parts[1:])
        except LedgerError as error:
            self._give_up(error)

    # -- targets -----------------------------------------------------------------------------------------

    def earlier(self, target: str) -> Earlier:
        """What earlier deliveries recorded of ``target``: from the last decision's ``done`` summary when it
        names the target (one read for every target), else from the target's own records."""
        if self.unavailable is not None:
            return Earlier()
        summary = self._summary().get(target)
        if isinstance(summary, dict) and isinstance(summary.get("failover"), dict):
            return self._from_summary(target, summary)
        failover = self._record(target, "failover") if (target, "failover", "") in self._steps else None
        verified = self._record(target, "verified") if (target, "verified", "") in self._steps else None
        return Earlier(failover, verified)

    def earlier_drill_failure(self, target: str) -> Record | None:
        """The first failure of ``target``'s drill in this incident, as an earlier delivery recorded it."""
        if self.unavailable is not None or (target, "drill_failure", "") not in self._steps:
            return None
        return self._record(target, "drill_failure")

    def busy(self) -> Record | None:
        """The decision of another delivery acting on this incident now (claimed, not done, in its lease)."""
        attempt = self._last_attempt("", "decision")
        if (
            self.unavailable is not None
            or attempt is None
            or ("", "decision", f"{attempt}/done") in self._steps
        ):
            return None
        decision = self._record("", "decision", str(attempt))
        if decision is None or decision.by == self.by or self.now() - decision.at >= self.lease:
            return None
        return decision

    def claim(self, data: Mapping[str, Any]) -> Record | None:
        """Claim acting on the incident now (one claim for all its targets, so that its news is told in one
        piece): None when this delivery may act (it won, or the ledger is unavailable); else the decision
        of the delivery that holds it."""
        attempt = (self._last_attempt("", "decision") or 0) + 1
        held = self._claim("", "decision", str(attempt), data)
        if held is None:
            self._claimed = attempt
        return None if held is not None and held.by == self.by else held

    def release(self, outcome: str, targets: Mapping[str, Any]) -> None:
        """This delivery is done acting (its decision's ``done``): a later delivery (FC's retry) acts at
        once, without waiting out the lease, and reads what every target's Failover was from this one
        record (``targets``: target -> {"failover": data, "at", "by", "verified", "failover_seconds"})."""
        if self._claimed is not None:
            data = {"outcome": outcome, "targets": dict(targets)}
            self.record("", "decision", data, name=f"{self._claimed}/done")

    def _summary(self) -> Mapping[str, Any]:
        """The targets of the latest decision's ``done`` record (one read, once)."""
        done = [
            int(name.split("/")[0])
            for target, kind, name in self._steps
            if target == "" and kind == "decision" and name.endswith("/done") and name.split("/")[0].isdigit()
        ]
        if not done:
            return {}
        record = self._record("", "decision", f"{max(done)}/done")
        targets = record.data.get("targets") if record is not None else None
        return targets if isinstance(targets, Mapping) else {}

    def _from_summary(self, target: str, summary: Mapping[str, Any]) -> Earlier:
        at, by = float(summary.get("at") or 0.0), str(summary.get("by") or "")
        failover = Record(self.incident, target, "failover", at, summary["failover"], by=by)
        verified = None
        if summary.get("verified"):
            seconds = {"failover_seconds": summary.get("failover_seconds")}
            verified = Record(self.incident, target, "verified", at, seconds, by=by)
        return Earlier(failover, verified)

    def record(
        self, target: str, kind: Kind, data: Mapping[str, Any], *, name: str = "", at: float | None = None
    ) -> None:
        """Record a step of ``target`` (``failover``, ``verified``…), once: a record already there stays."""
        when = self.now() if at is None else at
        self._append(Record(self.incident, target, kind, when, data, name=name, by=self.by))

    # -- the index by target ---------------------------------------------------------------------------

    def index_failover(self, target: str, data: Mapping[str, Any]) -> None:
        """Index a Failover of ``target`` under the pseudo-incident ``target:<id>``, so that any later
        incident can tell who failed the target over (:meth:`last_failover`)."""
        at = self.now()
        entry = {**data, "incident": self.incident}
        self._append(
            Record(index_of(target), target, "failover", at, entry, name=f"{int(at * 1000)}", by=self.by)
        )

    def last_failover(self, target: str) -> Record | None:
        """The latest Failover of ``target`` this function made, in any incident (None: none recorded, or
        the ledger unavailable): one List and one read."""
        if self.unavailable is not None:
            return None
        try:
            keys = self.ledger.keys(index_of(target))
            if not keys:
                return None
            stamped = [(parts[3], key) for key in keys if (parts := Record.parts(key, self.ledger.prefix))]
            latest = max(stamped, key=lambda pair: int(pair[0]) if pair[0].isdigit() else -1, default=None)
            return self.ledger.read(latest[1]) if latest is not None else None
        except LedgerError as error:
            self._give_up(error)
            return None

    # -- news --------------------------------------------------------------------------------------------

    def claim_telling(self, state: str, channel: str) -> bool:
        """Whether this delivery is to tell ``state`` to ``channel``: never told, and no telling of it in
        its lease (a failed one is tried again at once). True when the ledger is unavailable."""
        if self.unavailable is not None:
            return True
        name = f"{state}/{channel}"
        if (("", "told", name)) in self._steps:
            return False
        attempt = self._last_attempt("", "telling", prefix=name)
        if attempt is not None:
            failed = ("", "tell_failed", f"{name}/{attempt}") in self._steps
            claimed = self._record("", "telling", f"{name}/{attempt}")
            if claimed is not None and claimed.by == self.by:
                return True  # our own claim (a retry of this very delivery): tell it
            if not failed and claimed is not None and self.now() - claimed.at < self.lease:
                self.others_telling.append(channel)  # another delivery is telling it now
                return False
        held = self._claim(
            "", "telling", f"{name}/{(attempt or 0) + 1}", {"state": state, "channel": channel}
        )
        return held is None

    def told(self, state: str, channel: str, entry: Mapping[str, Any]) -> None:
        """Record how telling ``state`` to ``channel`` went (``entry``: the channel's entry in the result)."""
        name = f"{state}/{channel}"
        if entry.get("ok"):
            self.record("", "told", {"state": state, "channel": channel}, name=name)
            return
        attempt = self._last_attempt("", "telling", prefix=name) or 1
        detail = {"state": state, "channel": channel, "code": entry.get("code")}
        self.record("", "tell_failed", detail, name=f"{name}/{attempt}")

    # -- the store ----------------------------------------------------------------------------------------

    def _claim(self, target: str, kind: Kind, name: str, data: Mapping[str, Any]) -> Record | None:
        if self.unavailable is not None:
            return None
        record = Record(self.incident, target, kind, self.now(), data, name=name, by=self.by)
        try:
            claim = self.ledger.append(record)
        except LedgerError as error:
            self._give_up(error)
            return None
        self._steps.add((target, kind, name))
        if claim.won:
            self._read[record.key(self.ledger.prefix)] = record
            return None
        return claim.held or record

    def _append(self, record: Record) -> None:
        if self.unavailable is not None:
            log.LOGGER.warning("ledger_not_recorded", record=record.to_json().decode())
            return
        try:
            self.ledger.append(record)
        except LedgerError as error:
            self._give_up(error)
            log.LOGGER.warning("ledger_not_recorded", record=record.to_json().decode())
            return
        self._steps.add((record.target, record.kind, record.name))

    def _record(self, target: str, kind: str, name: str = "") -> Record | None:
        key = Record(self.incident, target, kind, 0.0, name=name).key(self.ledger.prefix)  # type: ignore[arg-type]
        if key not in self._read:
            try:
                self._read[key] = self.ledger.read(key)
            except LedgerError as error:
                self._give_up(error)
                return None
        return self._read[key]

    def _last_attempt(self, target: str, kind: str, *, prefix: str = "") -> int | None:
        head = f"{prefix}/" if prefix else ""
        attempts = [
            int(name[len(head) :])
            for step_target, step_kind, name in self._steps
            if step_target == target
            and step_kind == kind
            and name.startswith(head)
            and name[len(head) :].isdigit()
        ]
        return max(attempts, default=None)

    def _give_up(self, error: LedgerError) -> None:
        if self.unavailable is None:
            self.unavailable = str(error)
            log.LOGGER.warning("ledger_unavailable", error=str(error))
