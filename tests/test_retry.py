"""The one retry layer: what it retries, how long it waits, and that it stays in the budget."""

from __future__ import annotations

import pytest

from ebs_failover.cloud import Budget, retrying
from ebs_failover.errors import EbsError, OutOfTime


class Script:
    """A call that fails with the given errors, then answers ``"done"``."""

    def __init__(self, *errors: EbsError) -> None:
        self.errors = list(errors)
        self.attempts = 0

    def __call__(self) -> str:
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_throttling_waits_as_long_as_ebs_asks() -> None:
    slept: list[float] = []
    script = Script(EbsError("Throttling.User", 400, "slow down", "r1", retry_after=2.5))
    assert retrying(Budget(30), script, script, sleep=slept.append) == "done"
    assert script.attempts == 2
    assert len(slept) == 1
    assert slept[0] >= 2.5


def test_backoff_grows_with_jitter_when_ebs_says_nothing() -> None:
    slept: list[float] = []
    errors = [EbsError("ServiceUnavailable", 503, "", None) for _ in range(4)]
    script = Script(*errors)
    assert retrying(Budget(60), script, script, sleep=slept.append) == "done"
    assert script.attempts == 5
    assert len(slept) == 4
    assert all(0.2 <= s <= 5.5 for s in slept)
    assert slept[-1] > slept[0]


def test_non_transient_errors_are_not_retried() -> None:
    script = Script(EbsError("Forbidden", 403, "", None))
    with pytest.raises(EbsError, match="Forbidden"):
        retrying(Budget(30), script, script, sleep=lambda _: None)
    assert script.attempts == 1


def test_no_budget_makes_no_attempt_and_counts_none() -> None:
    """A function timeout at or below the margin: no call, and the tally says so (it said 1)."""
    script = Script(*[EbsError("InternalError", 500, "", None) for _ in range(100)])
    with pytest.raises(OutOfTime, match="no time left") as raised:
        retrying(Budget(0.0), script, script, sleep=lambda _: None)
    assert raised.value.code is None  # our own condition: never dressed as an EBS code
    assert script.attempts == 0


def test_a_budget_spent_by_the_backoff_reports_what_ebs_said_last() -> None:
    """The wait before a retry overslept the rest of the budget: the error is EBS's, not "no time left"."""
    now = [0.0]
    budget = Budget(60, clock=lambda: now[0])
    calls: list[str] = []

    def call() -> str:
        # What EbsClient._call does: no call at all once no millisecond is left.
        if budget.remaining_ms() <= 0:
            raise OutOfTime("no time left in the invocation")
        calls.append("called")
        raise EbsError("ServiceUnavailable", 503, "", None)

    def sleep(seconds: float) -> None:
        now[0] = budget.deadline  # a loaded machine: the sleep ends at the deadline, not before it

    tally = Script()
    with pytest.raises(EbsError, match="ServiceUnavailable"):
        retrying(budget, tally, call, sleep=sleep)
    assert calls == ["called"]
    assert tally.attempts == 1
