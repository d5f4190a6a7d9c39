"""The drills' test-facing controls, shared by every account (``FakeEbs.drills``): injected failures,
and views of every account's drills. Each account's drills are :class:`~.drills.DrillsMixin`'s."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from .records import DEFAULT_DRILL_MESSAGES, Drill, DrillFailure, DrillOperation, FailureKind

__all__ = ["DrillHolder", "Drills"]


class DrillHolder(Protocol):
    """What the controls read of one account (an ``EbsBackend``)."""

    @property
    def lock(self) -> AbstractContextManager[Any]: ...

    @property
    def drill_records(self) -> Mapping[str, Drill]: ...

    @property
    def drill_operations(self) -> Sequence[DrillOperation]: ...

    def advance_drills(self, drill_id: str | None = None) -> int: ...


class Drills:
    """The drills' test controls, shared by every account (``FakeEbs.drills``).

    ``fail_next("execute_failed", message=…)`` makes the next drill started end
    ``execute_failed`` with that ``StatusMessage``; ``fail_next("clear_failed")``
    makes the next clear end ``clear_failed``. ``keep_cleared`` keeps cleared
    drills listed. The views (:meth:`all`, :meth:`get`, :meth:`operations`,
    :meth:`started`, :meth:`cleared`) and :meth:`advance` span every account.
    """

    def __init__(self, backends: Callable[[], Iterable[DrillHolder]] = tuple) -> None:
        self._backends = backends
        self._failures: list[tuple[DrillFailure, list[int]]] = []
        self._lock = threading.Lock()
        #: List cleared drills (their disk ``deleted``) instead of forgetting them.
        self.keep_cleared = False

    # -- injection -----------------------------------------------------------

    def fail_next(
        self,
        kind: FailureKind,
        message: str | None = None,
        *,
        disk_status: str = "InternalError",
        times: int = 1,
        target: str | None = None,
    ) -> DrillFailure:
        """The next ``times`` drills started (``execute_failed``) or cleared (``clear_failed``) fail.

        ``message`` becomes the drill's ``StatusMessage``; ``disk_status`` the
        ``DrillDiskStatus`` of its disks (the SDK: it "can also display error code
        details"); ``target`` narrows it to one pair's or group's drills.
        """
        if kind not in DEFAULT_DRILL_MESSAGES:
            raise ValueError(f"kind must be execute_failed or clear_failed, not {kind!r}")
        if times < 1:
            raise ValueError("times must be >= 1")
        failure = DrillFailure(kind, message or DEFAULT_DRILL_MESSAGES[kind], disk_status, target)
        with self._lock:
            self._failures.append((failure, [times]))
        return failure

    def take(self, kind: FailureKind, target_id: str) -> DrillFailure | None:
        """The injected failure for this start or clear, if any (it is used up)."""
        with self._lock:
            for failure, left in self._failures:
                if failure.kind == kind and left[0] > 0 and failure.target in (None, target_id):
                    left[0] -= 1
                    return failure
            return None

    def pending_failures(self) -> int:
        with self._lock:
            return sum(left[0] for _, left in self._failures)

    def reset(self) -> None:
        """No injected failure; cleared drills are forgotten."""
        with self._lock:
            self._failures.clear()
        self.keep_cleared = False

    # -- views ---------------------------------------------------------------

    def all(self) -> list[Drill]:
        """Every drill of every account, cleared ones included, in start order."""
        found: list[Drill] = []
        for backend in self._backends():
            with backend.lock:
                found.extend(sorted(backend.drill_records.values(), key=lambda d: d.sequence))
        return found

    def get(self, drill_id: str) -> Drill:
        """One drill's current state (read-only use, please: change it through the API)."""
        for drill in self.all():
            if drill.drill_id == drill_id:
                return drill
        raise KeyError(drill_id)

    def operations(self, action: str | None = None) -> list[DrillOperation]:
        """The accepted Start…Drill and Clear…Drill calls (of ``action``), all accounts, in order."""
        ops = [op for backend in self._backends() for op in list(backend.drill_operations)]
        return sorted((op for op in ops if action is None or op.action == action), key=lambda op: op.at)

    def started(self) -> list[DrillOperation]:
        """The accepted StartPairDrill and StartReplicaGroupDrill calls."""
        return [op for op in self.operations() if op.action.startswith("Start")]

    def cleared(self) -> list[DrillOperation]:
        """The accepted ClearPairDrill and ClearReplicaGroupDrill calls that began a clearing."""
        return [op for op in self.operations() if op.action.startswith("Clear")]

    def advance(self, drill_id: str | None = None) -> int:
        """Complete the pending execution or clearing of one drill, or of all; return how many."""
        return sum(backend.advance_drills(drill_id) for backend in self._backends())
