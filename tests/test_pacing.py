"""The token bucket that keeps one invocation's calls below a rate per EBS API."""

from __future__ import annotations

from ebs_failover.cloud import Pacer


class Clock:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_a_first_burst_goes_at_once_then_the_rate_paces_the_rest() -> None:
    clock = Clock()
    pacer = Pacer(rate=4.0, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(6):
        assert pacer.wait("FailoverDiskReplicaPair", deadline=1_000.0)
    assert clock.slept == [0.25, 0.25, 0.25]  # three at once, then one every 1/4 s
    assert clock.now == 100.75


def test_each_action_has_its_own_bucket() -> None:
    clock = Clock()
    pacer = Pacer(rate=1.0, burst=1, clock=clock, sleep=clock.sleep)
    assert pacer.wait("FailoverDiskReplicaPair", 1_000.0)
    assert pacer.wait("DescribeDiskReplicaPairs", 1_000.0)
    assert clock.slept == []


def test_waiting_callers_reserve_their_turns_in_order() -> None:
    """Two callers that find the bucket empty get the next two turns, not the same one."""
    clock = Clock()
    pacer = Pacer(rate=2.0, burst=1, clock=clock)
    assert pacer.delay("A") == 0.0
    assert pacer.delay("A") == 0.5
    assert pacer.delay("A") == 1.0


def test_a_turn_after_the_deadline_is_not_waited_for_and_is_given_back() -> None:
    clock = Clock()
    pacer = Pacer(rate=1.0, burst=1, clock=clock, sleep=clock.sleep)
    assert pacer.wait("A", deadline=1_000.0)
    assert not pacer.wait("A", deadline=100.5)  # the next turn is at 101
    assert clock.slept == []
    assert pacer.wait("A", deadline=1_000.0)  # the turn given back is the next one: 1 s, not 2
    assert clock.slept == [1.0]
