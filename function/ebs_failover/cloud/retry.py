"""The one retry layer: transient failures are retried with backoff and jitter within the budget.

The SDK's own retries stay off (its default): a transient failure (5xx,
``RequestTimeout``, throttling, network faults) is retried here with exponential
backoff and jitter, and at least the wait EBS asks for, always with the same
arguments (so the same ClientToken), until the invocation's :class:`~._call.Budget`
would be spent by the wait. tenacity is imported only when a first attempt has
failed transiently: a healthy call never pays for it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ebs_failover.errors import CloudCallError, OutOfTime

from ._call import Budget

__all__ = ["Attempts", "Tally", "retrying"]

T = TypeVar("T")


class Tally(Protocol):
    """What counts the attempts of a call (a target's result)."""

    attempts: int


@dataclass
class Attempts:
    """A tally of its own, for a call made on behalf of several targets (a batched Describe): its count is
    then added to each."""

    attempts: int = 0


def retrying(
    budget: Budget,
    tally: Tally,
    call: Callable[..., T],
    *args: Any,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call(*args)``, retrying a transient :class:`CloudCallError` with backoff and jitter in ``budget``.

    Every attempt made adds one to ``tally.attempts`` (none when the budget leaves no time for one).
    """
    if budget.remaining_ms() <= 0:
        raise OutOfTime("no time left in the invocation")
    tally.attempts += 1
    try:
        return call(*args)
    except CloudCallError as error:
        if not error.transient or isinstance(error, OutOfTime):  # no time is not cured by waiting
            raise
        return _retry_after(error, budget, tally, functools.partial(call, *args), sleep)


def _retry_after(
    failed: CloudCallError,
    budget: Budget,
    tally: Tally,
    call: Callable[[], T],
    sleep: Callable[[float], None],
) -> T:
    """Retry ``call`` after its first attempt failed transiently (``failed``), with tenacity."""
    # Only a transient failure pays for tenacity, its import and its machinery.
    from tenacity import (
        RetryCallState,
        Retrying,
        retry_if_exception,
        wait_exponential,
        wait_random,
    )

    def transient(error: BaseException) -> bool:
        return isinstance(error, CloudCallError) and error.transient and not isinstance(error, OutOfTime)

    backoff = wait_exponential(multiplier=0.2, max=5) + wait_random(0, 0.5)

    def wait(state: RetryCallState) -> float:
        """The backoff, or longer when EBS said how long to wait (throttling)."""
        error = state.outcome.exception() if state.outcome is not None else None
        asked = error.retry_after if isinstance(error, CloudCallError) and error.retry_after else 0.0
        return max(backoff(state), asked)

    def out_of_time(state: RetryCallState) -> bool:
        """Stop when the wait before the next attempt would use the rest of the budget (its clock)."""
        return state.upcoming_sleep >= budget.remaining()

    pending: CloudCallError | None = failed
    last = failed  # what EBS said last, reported if the budget runs out before the next attempt
    for attempt in Retrying(
        retry=retry_if_exception(transient),
        wait=wait,
        stop=out_of_time,
        reraise=True,
        sleep=sleep,
    ):
        with attempt:
            if pending is not None:  # tenacity's first attempt is the one that already failed
                first, pending = pending, None
                raise first
            if budget.remaining_ms() <= 0:  # the wait overslept the rest of the budget: no attempt fits
                raise last
            tally.attempts += 1
            try:
                return call()
            except CloudCallError as error:
                last = error
                raise
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
