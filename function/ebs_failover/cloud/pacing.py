"""Pacing: keep the calls of one invocation below a rate per EBS API.

Alibaba Cloud throttles OpenAPI calls per API, per region and per account, and the
console and Terraform draw on the same quota: a function that fails fifty pairs
over at once must not take all of it. :class:`Pacer` is a token bucket per action:
a first burst of ``burst`` calls goes at once (the Failovers of a small alarm are
not delayed at all), then ``rate`` calls per second. A caller that must wait
reserves the next token before sleeping, so waiting callers go in the order they
asked. EBS's own throttling answer (``Throttling.User``) is still retried by
:mod:`ebs_failover.cloud.retry`, after the wait it asks for: pacing keeps us under the
quota, retrying copes when someone else used it.

Twenty lines of our own: a rate-limiting library would add its import to every
cold start for what a lock and two floats do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Pacer"]


class Pacer:
    """A token bucket per EBS action, shared by the threads of one invocation."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate, self.burst = rate, max(burst, 1)
        self._clock, self._sleep = clock, sleep
        self._buckets: dict[str, tuple[float, float]] = {}  # action -> (tokens, when counted)
        self._lock = threading.Lock()

    def delay(self, action: str) -> float:
        """Take the next token for ``action``; return how long to wait before using it."""
        with self._lock:
            now = self._clock()
            tokens, counted = self._buckets.get(action, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - counted) * self.rate) - 1.0
            self._buckets[action] = (tokens, now)
        return 0.0 if tokens >= 0 else -tokens / self.rate

    def wait(self, action: str, deadline: float) -> bool:
        """Wait for a token for ``action``; False, without waiting, when it would come after ``deadline``
        (the token is given back)."""
        pause = self.delay(action)
        if self._clock() + pause >= deadline:
            with self._lock:
                tokens, counted = self._buckets[action]
                self._buckets[action] = (tokens + 1.0, counted)
            return False
        if pause > 0:
            self._sleep(pause)
        return True
