"""Fault injection: make the next N calls of an action fail.

Three kinds of fault, each for ``times`` calls of one action (or of every
action, with ``action="*"``):

* ``error``: an error answer with any HTTP status and code (a 503, a
  ``Throttling`` with ``x-acs-retry-after``, a ``Forbidden``…), sent instead of
  running the operation;
* ``stall``: no answer until the client's read timeout fires;
* ``drop``: the connection is closed with no answer;
* ``trickle``: the operation takes effect and its answer comes, slowly: over
  ``seconds``, a byte at a time on a socket (each wait shorter than a read
  timeout, so only a deadline on the whole call ends it), after ``seconds``
  in process.

``match`` narrows a fault to the calls whose parameters hold those values
(``{"PairIds": "pair-…"}``: one pair's Describes).

A stall or a drop may strike ``before`` the operation (nothing happened) or
``after`` it (the operation took effect but the answer was lost): the case that
ClientToken idempotence exists for.

A :class:`Quota` is the gateway's flow control: at most N calls per second per
(account, action, region), Alibaba's throttling unit. The window is the
calendar second of the service's clock (``int(clock())``), as Alibaba's quotas
count per calendar minute ("throttled at minute T … can continue as of minute
T+1"): a call beyond the limit is refused until the next second begins, and a
refused call does not count. The answer is 400 ``Throttling.User`` (HTTP 400 is
what users report for it; EBS's own status is unverified), with
``x-acs-retry-after`` only when :attr:`Quota.send_retry_after` is set (whether
EBS sends it is unverified): the milliseconds until the next second, the unit
darabonba's retry reads.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Fault", "FaultPlan", "Quota"]

FaultKind = Literal["error", "stall", "drop", "trickle"]
When = Literal["before", "after"]


@dataclass
class Fault:
    """One injected fault and how many calls it still strikes."""

    action: str
    kind: FaultKind
    times: int = 1
    status: int = 500
    code: str = "InternalError"
    message: str = "The request processing has failed due to some unknown error, exception or failure."
    retry_after: int | None = None
    when: When = "before"
    #: How long a stall holds the answer back on a real socket, or a trickle spreads it (seconds).
    seconds: float = 30.0
    #: Strike only the calls whose parameters hold these values.
    match: dict[str, str] = field(default_factory=dict)
    struck: int = field(default=0, init=False)


class FaultPlan:
    """The faults in force; the first matching one strikes, in the order added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def error(
        self,
        action: str,
        status: int,
        code: str,
        message: str | None = None,
        *,
        times: int = 1,
        retry_after: int | None = None,
        match: dict[str, str] | None = None,
    ) -> Fault:
        """The next ``times`` calls of ``action`` answer ``status`` / ``code``."""
        fault = Fault(action, "error", times, status, code, retry_after=retry_after, match=match or {})
        if message is not None:
            fault.message = message
        return self._add(fault)

    def stall(
        self,
        action: str,
        *,
        times: int = 1,
        when: When = "before",
        seconds: float = 30.0,
        match: dict[str, str] | None = None,
    ) -> Fault:
        """The next ``times`` calls of ``action`` get no answer before the read timeout."""
        return self._add(Fault(action, "stall", times, when=when, seconds=seconds, match=match or {}))

    def drop(
        self, action: str, *, times: int = 1, when: When = "before", match: dict[str, str] | None = None
    ) -> Fault:
        """The next ``times`` calls of ``action`` see the connection closed."""
        return self._add(Fault(action, "drop", times, when=when, match=match or {}))

    def trickle(
        self, action: str, *, seconds: float, times: int = 1, match: dict[str, str] | None = None
    ) -> Fault:
        """The next ``times`` calls of ``action`` take effect and answer over ``seconds``."""
        return self._add(Fault(action, "trickle", times, when="after", seconds=seconds, match=match or {}))

    def _add(self, fault: Fault) -> Fault:
        if fault.times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, action: str, params: Mapping[str, str] | None = None) -> Fault | None:
        """The fault that strikes this call of ``action`` with ``params``, if any (it counts as struck)."""
        params = params or {}
        with self._lock:
            for fault in self._faults:
                matches = all(params.get(key) == value for key, value in fault.match.items())
                if fault.action in (action, "*") and fault.struck < fault.times and matches:
                    fault.struck += 1
                    return fault
            return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for f in self._faults if f.struck < f.times)


class Quota:
    """Calls per second per (account, action, region); beyond it, the gateway throttles.

    ``set(n)`` limits every action, ``set(n, action)`` one action (it overrides
    the all-actions limit), ``set(None, …)`` lifts a limit; 0 throttles every call.
    """

    def __init__(self) -> None:
        self._limits: dict[str | None, int] = {}
        #: (account, action, region) -> (the calendar second, calls admitted in it).
        self._windows: dict[tuple[str, str, str], tuple[int, int]] = {}
        #: Send ``x-acs-retry-after`` (ms to the next window) with a throttled answer.
        self.send_retry_after = False
        self._lock = threading.Lock()

    def set(self, calls_per_second: int | None, action: str | None = None) -> None:
        """Limit ``action`` (None: every action) to ``calls_per_second``; None lifts the limit."""
        if calls_per_second is not None and (
            isinstance(calls_per_second, bool)
            or not isinstance(calls_per_second, int)
            or calls_per_second < 0
        ):
            raise ValueError(f"calls_per_second must be an integer >= 0 or None, not {calls_per_second!r}")
        with self._lock:
            if calls_per_second is None:
                self._limits.pop(action, None)
            else:
                self._limits[action] = calls_per_second

    def limit(self, action: str) -> int | None:
        """The calls per second ``action`` may make, None when unlimited."""
        with self._lock:
            return self._limits.get(action, self._limits.get(None))

    def admit(self, account_id: str, action: str, region: str, now: float) -> bool:
        """Whether this call fits its window; an admitted call counts, a throttled one does not."""
        key, second = (account_id, action, region), math.floor(now)
        with self._lock:
            limit = self._limits.get(action, self._limits.get(None))
            window, count = self._windows.get(key, (second, 0))
            if window != second:
                window, count = second, 0
            if limit is not None and count >= limit:
                return False
            self._windows[key] = (window, count + 1)
            return True

    @staticmethod
    def retry_after_ms(now: float) -> int:
        """Milliseconds until the next window opens (at least 1)."""
        return max(1, math.ceil((math.floor(now) + 1 - now) * 1000))

    def clear(self) -> None:
        """No limit, no count, no Retry-After header."""
        with self._lock:
            self._limits.clear()
            self._windows.clear()
            self.send_retry_after = False
