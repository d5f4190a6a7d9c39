"""Verification: the only place a target becomes ``verified``, and the schedule every watch looks by.

An accepted Failover is asynchronous: EBS turns the target ``failovering``, then
``failovered`` (or ``failover_failed``). A :class:`Watch` judges each look at one
accepted target, from the times it is given (no clock of its own, so a test feeds
it looks at chosen instants) and says, when it stays open, when it wants the next:

- ``failovered``: ``failed_over``, verified, ``failover_seconds`` from the request;
- ``failover_failed``: ``failed``;
- ``failovering``: looked at again, backing off, until FAILOVER_VERIFY_SECONDS (or
  the budget) ends the watch: ``failed_over``, not verified, saying so;
- not moved (still ``normal``…): looked at again until :data:`REPLAY_GRACE` has
  passed since the request; then EBS took to have replayed an earlier answer for
  the ClientToken: ``failed``. When the budget ends the watch first, not enough
  was seen to call it a replay: ``failed_over``, not verified, saying so;
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

__all__ = ["REPLAY_GRACE", "VERIFY_WAITS", "Look", "Watch", "found_done", "looks"]

#: A verification looks again after these many seconds, the last one repeated.
VERIFY_WAITS = (0.5, 1.0, 2.0, 4.0)
#: How long an accepted failover may leave the target as it was before EBS is taken to have replayed an
#: earlier answer for the ClientToken (an accepted failover turns it ``failovering`` at once).
REPLAY_GRACE = 3.0
#: After the grace, the look that decides comes this soon (not a whole wait later).
_AFTER_GRACE = 0.05


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
        # A target that has not moved is watched for the grace at least: only then is it a replayed answer.
        self.window_end = min(requested + max(verify, REPLAY_GRACE + 0.5), deadline)
        self.settled_by = min(requested + verify, deadline)
        self.next_look = accepted
        self.looked = False
        self.open = True
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
        seen, elapsed = look.status, look.at - self.requested
        if seen == "failovered":
            result.outcome, result.verified = "failed_over", True
            result.status_after, result.failover_seconds = seen, round(elapsed, 1)
            return self._close()
        if seen == "failover_failed":
            result.outcome, result.status_after = "failed", seen
            result.hint = (
                "EBS accepted the failover and it ended in failover_failed: the secondary is not writable"
            )
            return self._close()
        if seen != "failovering" and elapsed >= REPLAY_GRACE:
            result.outcome, result.status_after, result.hint = "failed", seen, self._replayed(seen)
            return self._close()
        pause = next(self._waits, VERIFY_WAITS[-1])
        if seen != "failovering":  # look again right when the grace has passed, not a wait later
            pause = min(pause, max(REPLAY_GRACE - elapsed, 0.0) + _AFTER_GRACE)
        end = self.settled_by if seen == "failovering" else self.window_end
        if look.at + pause < end:
            self.next_look = look.at + pause
            return None
        result.status_after, result.outcome, result.verified = seen, "failed_over", False
        if seen == "failovering":
            result.hint = (
                f"EBS accepted the failover; the {self.work.noun} was still failovering when the watch ended "
                f"(FAILOVER_VERIFY_SECONDS {self.work.guards.verify_seconds:g} s, or the time budget)"
            )
        else:  # the budget ended the watch before the grace: not enough seen to call it a replay
            result.hint = (
                f"EBS accepted the failover; the {self.work.noun} still showed {seen} when the time ran out "
                "(if it never moves, EBS answered with an earlier result for this ClientToken)"
            )
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
