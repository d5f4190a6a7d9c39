"""Verification: the only place a target becomes ``verified``, and the schedule every watch looks by.

An accepted Failover is asynchronous: EBS turns the target ``failovering``, then
``failovered`` (or ``failover_failed``). A :class:`Watch` judges each look at one
accepted target, from the times it is given (no clock of its own, so a test feeds
it looks at chosen instants) and says, when it stays open, when it wants the next:

- ``failovered``: ``failed_over``, verified, ``failover_seconds`` from the request;
- ``failover_failed``: ``failed``;
- ``failovering``, or not moved yet (still ``normal``…): "not yet", looked at again,
  backing off, the last look at the window's end (FAILOVER_VERIFY_SECONDS after the
  request, or as late as the budget allows): a slow EBS is never a failed one;
- at the window's end, ``failovering``: ``failed_over``, not verified, saying so;
  unmoved through the whole window: EBS answered with an earlier result for the
  ClientToken (a reused identity): ``failed``; unmoved when the budget cut the
  window short: ``failed``, not verified, saying it is not known yet, and FC's async
  retry is asked for (the same ClientToken is safe) — no claim either way; FAILOVER_VERIFY_SECONDS=0: one
  look, what it saw, no verdict;
- not seen (a look that failed, or the target absent): ``failed_over``, not
  verified — EBS accepted the call, and nothing since says more.

:func:`found_done` records a target found ``failovering``/``failovered`` without a
Failover of this delivery. :func:`looks` is the schedule a drill follows its
execution and clean-up by.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ebs_failover.cloud import Budget

from .records import Clock, TargetResult, Work

__all__ = ["VERIFY_WAITS", "Look", "Watch", "found_done", "looks"]

#: A verification looks again after these many seconds, the last one repeated.
VERIFY_WAITS = (0.5, 1.0, 2.0, 4.0)
#: Seconds kept at the end of the budget for the last look itself (a batched Describe).
_LOOK_TIME = 0.5


@dataclass(frozen=True, slots=True)
class Look:
    """One look at a watched target: its status (None: not seen) and why not (the look's error), at
    ``at`` (monotonic seconds)."""

    status: str | None
    at: float
    error: str | None = None


class Watch:
    """The verification of one accepted failover: what each look saw, until the target settles or the
    watch's window closes. The result says what was seen, never more."""

    def __init__(self, work: Work, *, requested: float, accepted: float, deadline: float) -> None:
        """``requested``: when the attempt EBS accepted was sent; ``accepted``: when its answer came;
        ``deadline``: the end of the invocation's budget (all monotonic seconds)."""
        self.work, self.requested = work, requested
        verify = work.guards.verify_seconds
        wanted = requested + verify
        last_look = deadline - _LOOK_TIME
        #: The last look is at the window's end (FAILOVER_VERIFY_SECONDS after the request), or as late as
        #: the budget allows.
        self.window_end = max(min(wanted, last_look), accepted)
        #: The budget cut the window short: a target not seen moving yet proves nothing.
        self.cut_short = verify > 0 and wanted > last_look
        self.next_look = accepted
        self.looked = False
        self.open = True
        self._moved = False
        self._waits = iter(VERIFY_WAITS)

    def observe(self, look: Look) -> None:
        """Judge one look; the watch closes (and the result is final) or names its next look."""
        self.looked = True
        result = self.work.result
        if look.status is None:  # accepted, and not seen since: say exactly that
            why = (
                f"the look that verifies it failed ({look.error})"
                if look.error
                else f"the {self.work.noun} was not visible to the look that verifies it"
            )
            result.outcome, result.verified = "failed_over", False
            result.hint = f"EBS accepted the failover; {why}"
            return self._close()
        seen = look.status
        if seen == "failovered":
            result.outcome, result.verified = "failed_over", True
            result.status_after, result.failover_seconds = seen, round(look.at - self.requested, 1)
            return self._close()
        if seen == "failover_failed":
            result.outcome, result.status_after = "failed", seen
            result.hint = (
                "EBS accepted the failover and it ended in failover_failed: the secondary is not writable"
            )
            return self._close()
        self._moved = self._moved or seen == "failovering"
        if look.at < self.window_end:  # not yet: a slow EBS is not a failed one
            self.next_look = min(look.at + next(self._waits, VERIFY_WAITS[-1]), self.window_end)
            return None
        return self._conclude(seen)

    def _conclude(self, seen: str) -> None:
        """The window is over and the target is not ``failovered``: say what was seen, and no more."""
        result, noun = self.work.result, self.work.noun
        result.status_after, result.outcome, result.verified = seen, "failed_over", False
        verify = self.work.guards.verify_seconds
        if seen == "failovering":
            result.hint = (
                f"EBS accepted the failover; the {noun} was still failovering when the watch ended "
                f"(FAILOVER_VERIFY_SECONDS {verify:g} s, or the time budget)"
            )
        elif self._moved:
            result.hint = f"EBS accepted the failover; the {noun} was seen failovering, then {seen}"
        elif verify <= 0:  # verification off: one look, no verdict
            result.hint = (
                f"EBS accepted the failover; the one look FAILOVER_VERIFY_SECONDS=0 allows saw {seen}"
            )
        elif self.cut_short:  # not moving yet, and no time to wait longer: FC's retry looks again
            result.outcome = "failed"  # not known to be a failover: maybe EBS replayed an earlier answer
            result.hint = (
                f"EBS accepted the call, but the {noun} still showed {seen} when the time ran out, before "
                f"FAILOVER_VERIFY_SECONDS {verify:g} s: not known yet whether it is failing over or EBS "
                "replayed an earlier answer; FC's async retry looks again (same ClientToken)"
            )
            self.work.retry_wanted = True
        else:  # unmoved through the whole window: EBS answered with an earlier result
            result.outcome, result.hint = "failed", self._replayed(seen)
        return self._close()

    def _close(self) -> None:
        self.open = False
        self.work.finish()

    def _replayed(self, seen: str) -> str:
        return (
            f"EBS accepted the call but the {self.work.noun} stayed {seen}: it answered with an earlier "
            "result for this ClientToken, so this trigger identity was used before (a reused idempotencyKey, "
            "or an old event replayed after a fail-back); to fail over again, use a new identity"
        )


def found_done(result: TargetResult, status: str, hint: str | None = None) -> None:
    """The target was found ``failovering``/``failovered`` with no Failover of this delivery accepted (the
    preflight saw it so, or a look after EBS refused the call): ``already_failed_over``, verified when
    ``failovered``."""
    result.outcome, result.status_after = "already_failed_over", status
    result.verified = status == "failovered"
    if result.data_loss_seconds is not None:  # the age now, not at the failover: at most that much
        result.data_loss_upper_bound = True
    if hint is not None:
        result.hint = hint


def looks(waits: tuple[float, ...], budget: Budget, clock: Clock, *, reserve: float = 0.0) -> Iterator[None]:
    """Yield once per look: the first at once, each next after the next of ``waits`` (the last repeated),
    for as long as that wait leaves more than ``reserve`` seconds of ``budget``. A caller that loops over it
    and finds the loop ended without its own ``return`` knows the time ran out."""
    pending = iter(waits)
    while True:
        yield
        pause = next(pending, waits[-1])
        if budget.remaining() <= pause + reserve:
            return
        clock.sleep(pause)
