"""The verification, on a fake clock: each look is fed at a chosen instant; no fake server, no sleep."""

from __future__ import annotations

import time

import pytest

from ebs_failover.act import Guards, TargetResult, verify
from ebs_failover.act.records import Clock, Work
from ebs_failover.act.verify import Look, Watch, found_done, looks
from ebs_failover.cloud import Budget
from ebs_failover.policy import Target

#: These tests are of the schedule itself: the real one, not the suite's shortened one.
pytestmark = pytest.mark.usefixtures("real_look_schedule")


def _watch(verify_seconds: float = 10.0, deadline: float = 100.0) -> Watch:
    guards = Guards(
        region="cn-shanghai", live=True, verify_seconds=verify_seconds, max_data_loss=None, by_operator=False
    )
    target = Target("pair-cn-unit01", "token-1", None)
    started = time.perf_counter() - 1.0  # a second ago: the close must count duration_ms from it
    work = Work(target, guards, TargetResult(target.target_id, target.client_token, "failed"), started)
    return Watch(work, requested=0.0, accepted=0.2, deadline=deadline)


def _result(watch: Watch) -> TargetResult:
    return watch.work.result


def test_the_first_look_is_due_when_the_failover_is_accepted() -> None:
    watch = _watch()
    assert (watch.open, watch.looked, watch.next_look) == (True, False, 0.2)


def test_failovered_is_verified_with_the_seconds_since_the_request() -> None:
    watch = _watch()
    watch.observe(Look("failovering", 0.2))
    assert watch.next_look == 0.2 + verify.VERIFY_WAITS[0]  # still open: it wants another look
    watch.observe(Look("failovered", 1.74))
    result = _result(watch)
    assert not watch.open
    assert (result.outcome, result.verified, result.status_after, result.failover_seconds) == (
        "failed_over",
        True,
        "failovered",
        1.7,
    )
    assert result.duration_ms >= 1000  # the close finished the target


def test_failovering_backs_off_then_ends_unverified_at_the_window() -> None:
    """Backing off, the last look exactly at the window's end (FAILOVER_VERIFY_SECONDS after the request)."""
    watch = _watch(verify_seconds=5.0)
    at, times = 0.2, []
    while watch.open:
        times.append(round(at, 2))
        watch.observe(Look("failovering", at))
        at = watch.next_look
    assert times == [0.2, 0.7, 1.7, 3.7, 5.0]
    result = _result(watch)
    assert (result.outcome, result.verified, result.status_after) == ("failed_over", False, "failovering")
    assert "still failovering when the watch ended (FAILOVER_VERIFY_SECONDS 5 s" in (result.hint or "")


def test_failover_failed_is_a_failure() -> None:
    watch = _watch()
    watch.observe(Look("failover_failed", 2.0))
    result = _result(watch)
    assert (watch.open, result.outcome, result.verified) == (False, "failed", None)
    assert "failover_failed" in (result.hint or "")


def test_a_slow_ebs_is_not_yet_never_failed() -> None:
    """Issue 26: EBS accepted, the pair still ``normal`` 4 s later, ``failovered`` at 6 s: verified. (The
    watch once called it a replayed answer, ``failed``, after 3 s.)"""
    watch = _watch(verify_seconds=30.0)
    at = 0.2
    while watch.open and at < 6.0:
        watch.observe(Look("normal", at))
        at = watch.next_look
    assert watch.open
    watch.observe(Look("failovered", 6.0))
    result = _result(watch)
    assert (result.outcome, result.verified, result.failover_seconds) == ("failed_over", True, 6.0)


def test_a_target_unmoved_through_the_whole_window_is_a_replay() -> None:
    watch = _watch()  # a 10 s window, well within the budget
    at, times = 0.2, []
    while watch.open:
        times.append(round(at, 2))
        watch.observe(Look("normal", at))
        at = watch.next_look
    assert times == [0.2, 0.7, 1.7, 3.7, 7.7, 10.0]
    result = _result(watch)
    assert (result.outcome, result.status_after) == ("failed", "normal")
    assert "answered with an earlier result" in (result.hint or "")
    assert watch.work.retry_wanted is False


def test_unmoved_when_the_budget_cuts_the_window_short_is_not_a_failover_and_fc_looks_again() -> None:
    watch = _watch(deadline=1.0)  # the last look by 0.5 s, long before the 10 s window
    watch.observe(Look("normal", 0.6))
    result = _result(watch)
    assert (watch.open, result.outcome, result.verified) == (False, "failed", False)
    assert "not known yet" in (result.hint or "")
    assert "FC's async retry looks again" in (result.hint or "")
    assert watch.work.retry_wanted is True


def test_verification_off_is_one_look_and_no_verdict() -> None:
    watch = _watch(verify_seconds=0.0)
    watch.observe(Look("normal", 0.2))
    result = _result(watch)
    assert (watch.open, result.outcome, result.verified) == (False, "failed_over", False)
    assert "FAILOVER_VERIFY_SECONDS=0" in (result.hint or "")
    assert watch.work.retry_wanted is False


def test_a_failed_look_ends_the_watch_saying_only_what_was_seen() -> None:
    watch = _watch()
    watch.observe(Look(None, 0.7, "ServiceUnavailable"))
    result = _result(watch)
    assert (watch.open, result.outcome, result.verified) == (False, "failed_over", False)
    assert result.hint == "EBS accepted the failover; the look that verifies it failed (ServiceUnavailable)"


def test_a_target_not_visible_to_the_look_is_accepted_unverified() -> None:
    watch = _watch()
    watch.observe(Look(None, 0.7))
    assert "not visible to the look that verifies it" in (_result(watch).hint or "")


def test_found_done_verifies_only_failovered() -> None:
    done, going = TargetResult("pair-a", "t", "failed"), TargetResult("pair-b", "t", "failed")
    found_done(done, "failovered", "seen so by the preflight")
    found_done(going, "failovering")
    assert (done.outcome, done.verified, done.hint) == (
        "already_failed_over",
        True,
        "seen so by the preflight",
    )
    assert (going.outcome, going.verified, going.hint) == ("already_failed_over", False, None)


def test_looks_follow_the_waits_and_stop_when_the_next_would_pass_the_budget() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    budget = Budget(10.0, clock=lambda: now[0])
    count = sum(1 for _ in looks((1.0, 2.0, 3.0), budget, Clock(sleep=sleep), reserve=1.0))
    # Looks at 0, 1, 3, 6; the next wait (3 s, the last repeated) would leave 1 s: not more than the reserve.
    assert slept == [1.0, 2.0, 3.0]
    assert count == 4
