"""The fake's flow control and latency: per-second quotas, Throttling.User, calls in flight (issue 15)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from alibabacloud_ebs20210730 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException, ThrottlingException

from ebs_failover.testing import DEFAULT_ACCOUNT_ID, FakeEbs, FakeEbsServer

from .conftest import PRIMARY, STANDBY, Ebs

#: What each operation does, not how long EBS takes (the timing is test_real_ebs_time_and_zones.py's).
pytestmark = pytest.mark.usefixtures("failovers_settle_at_once")

FAILOVER = "FailoverDiskReplicaPair"
DESCRIBE = "DescribeDiskReplicaPairs"


class Clock:
    """The fake's time, moved by the test: near now (signatures must be fresh), at a known fraction."""

    def __init__(self) -> None:
        self.now = float(int(time.time())) + 0.25

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(ebs: Ebs) -> Clock:
    """``ebs`` on a clock of the test's: each quota window (a calendar second) opens when the test says."""
    clock = Clock()
    ebs.fake.clock = clock
    return clock


def _describe(ebs: Ebs, region: str = STANDBY, **config: Any) -> Any:
    return ebs.client(region, **config).describe_disk_replica_pairs(
        m.DescribeDiskReplicaPairsRequest(region_id=region, site="backup")
    )


def _throttled(call: Callable[[], Any]) -> ClientException:
    with pytest.raises(ClientException) as caught:
        call()
    assert (caught.value.status_code, caught.value.code) == (400, "Throttling.User")
    return caught.value


# -- the quota ----------------------------------------------------------------------------------


def test_calls_beyond_the_quota_are_400_throttling_user_until_the_next_second(ebs: Ebs, clock: Clock) -> None:
    ebs.fake.set_quota(2)
    _describe(ebs)
    _describe(ebs)
    error = _throttled(lambda: _describe(ebs))
    assert error.data["Message"] == "Request was denied due to user flow control."
    clock.now += 0.7  # still the same calendar second
    _throttled(lambda: _describe(ebs))
    clock.now += 0.1  # the next second: a new window
    assert _describe(ebs).status_code == 200
    assert [c.status for c in ebs.fake.calls_for(DESCRIBE)] == [200, 200, 400, 400, 200]
    assert [c.code for c in ebs.fake.throttled] == ["Throttling.User", "Throttling.User"]


def test_the_window_is_the_calendar_second_not_a_sliding_one(ebs: Ebs, clock: Clock) -> None:
    """Two calls late in one second, then two early in the next: a sliding window would refuse those."""
    ebs.fake.set_quota(2)
    clock.now = float(int(clock.now)) + 0.9
    _describe(ebs)
    _describe(ebs)
    clock.now += 0.15
    _describe(ebs)
    _describe(ebs)
    assert ebs.fake.throttled == []
    _throttled(lambda: _describe(ebs))


def test_the_quota_counts_per_account_action_and_region(ebs: Ebs, clock: Clock) -> None:
    pair_id = ebs.create_pair()  # two calls, before the limit
    ebs.fake.register_credential("other", "other-secret", account_id="2222222222222222")
    ebs.fake.set_quota(1)
    _describe(ebs)
    _describe(ebs, PRIMARY)  # another region
    ebs.failover(pair_id)  # another action
    _describe(ebs, key="other", secret="other-secret")  # another account
    assert ebs.fake.throttled == []
    _throttled(lambda: _describe(ebs))
    assert [(c.action, c.region_id, c.account_id) for c in ebs.fake.throttled] == [
        (DESCRIBE, STANDBY, DEFAULT_ACCOUNT_ID)
    ]


def test_a_limit_for_one_action_overrides_the_one_for_all(ebs: Ebs, clock: Clock) -> None:
    pair_id = ebs.create_pair()
    ebs.fake.set_quota(5)
    ebs.fake.set_quota(0, FAILOVER)  # 0: every failover is throttled
    _describe(ebs)
    _throttled(lambda: ebs.failover(pair_id))
    ebs.fake.set_quota(None, FAILOVER)  # back to the limit for all: 5 a second
    ebs.failover(pair_id)
    assert ebs.status(pair_id) == "failovered"


def test_a_throttled_call_has_no_effect_and_does_not_use_its_client_token_up(ebs: Ebs, clock: Clock) -> None:
    pair_id = ebs.create_pair()
    ebs.fake.set_quota(0, FAILOVER)
    _throttled(lambda: ebs.failover(pair_id, token="incident-9"))
    assert ebs.status(pair_id) == "normal"
    assert ebs.fake.state_changes() == []
    ebs.fake.set_quota(None, FAILOVER)
    ebs.failover(pair_id, token="incident-9")  # the same token runs: the throttled call did not take it
    assert ebs.status(pair_id) == "failovered"
    assert len(ebs.fake.state_changes()) == 1
    assert [(c.throttled, c.replayed) for c in ebs.fake.calls_for(FAILOVER)] == [
        (True, False),
        (False, False),
    ]


def test_a_throttled_call_strikes_no_fault(ebs: Ebs, clock: Clock) -> None:
    """The gateway refuses before the service: a fault for the next call waits for one that gets through."""
    ebs.fake.faults.error(DESCRIBE, 503, "ServiceUnavailable")
    ebs.fake.set_quota(0)
    _throttled(lambda: _describe(ebs))
    assert len(ebs.fake.faults) == 1
    ebs.fake.set_quota(None)
    with pytest.raises(Exception, match="ServiceUnavailable"):
        _describe(ebs)
    assert len(ebs.fake.faults) == 0


def test_no_retry_after_by_default_and_milliseconds_to_the_next_second_when_asked(
    ebs: Ebs, clock: Clock
) -> None:
    ebs.fake.set_quota(0)
    plain = _throttled(lambda: _describe(ebs))
    assert not isinstance(plain, ThrottlingException)
    ebs.fake.quotas.send_retry_after = True
    with pytest.raises(ThrottlingException) as caught:
        _describe(ebs)
    assert (caught.value.code, caught.value.retry_after) == ("Throttling.User", 750)  # the clock is at .25


def test_the_constructors_quota_survives_reset_and_set_quota_does_not() -> None:
    fake = FakeEbs(quota=3, throttle_retry_after=True)
    assert fake.quotas.limit(DESCRIBE) == 3
    fake.set_quota(1, FAILOVER)
    fake.reset()
    assert (fake.quotas.limit(FAILOVER), fake.quotas.limit(DESCRIBE)) == (3, 3)
    assert fake.quotas.send_retry_after is True
    assert FakeEbs().quotas.limit(DESCRIBE) is None


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_a_quota_is_a_whole_number_of_calls(bad: Any) -> None:
    with pytest.raises(ValueError, match="calls_per_second"):
        FakeEbs().set_quota(bad)
    with pytest.raises(ValueError, match="calls_per_second"):
        FakeEbs(quota=bad)


def test_the_control_api_sets_the_quota() -> None:
    with FakeEbsServer() as server:
        answer = requests.post(
            f"{server.url}/_fake/quota",
            json={"calls_per_second": 0, "action": FAILOVER, "retry_after": True},
            timeout=5,
        )
        assert answer.json() == {"ok": True}
        assert server.fake.quotas.limit(FAILOVER) == 0
        assert server.fake.quotas.limit(DESCRIBE) is None
        assert server.fake.quotas.send_retry_after is True
        stats = requests.get(f"{server.url}/_fake/stats", timeout=5).json()
        assert stats == {"in_flight": 0, "max_in_flight": 0, "throttled": 0}


# -- latency and calls in flight ----------------------------------------------------------------


def _concurrently(ebs: Ebs, count: int) -> list[int]:
    clients = [ebs.client(STANDBY) for _ in range(count)]
    start = threading.Barrier(count)

    def call(n: int) -> int:
        start.wait()
        return int(
            clients[n]
            .describe_disk_replica_pairs(m.DescribeDiskReplicaPairsRequest(region_id=STANDBY, site="backup"))
            .status_code
        )

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(call, range(count)))


def test_latency_holds_concurrent_calls_in_flight_together(ebs: Ebs) -> None:
    ebs.fake.latency = 0.3
    assert _concurrently(ebs, 5) == [200] * 5
    assert ebs.fake.max_in_flight >= 2  # they waited side by side, not one after another
    assert ebs.fake.in_flight == 0


def test_calls_one_after_another_are_never_in_flight_together(ebs: Ebs) -> None:
    ebs.fake.latency = 0.01
    for _ in range(3):
        _describe(ebs)
    assert ebs.fake.max_in_flight == 1
    ebs.fake.reset()
    assert ebs.fake.max_in_flight == 0


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture
def served_throttled() -> Iterator[str]:
    """``fake-ebs serve --quota 0 --latency 0.3``: every call held, then throttled."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    process = subprocess.Popen(
        [sys.executable, "-m", "ebs_failover.cli", "fake-ebs", "serve", "--port", "0", "--quota", "0",
         "--latency", "0.3"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        found = re.search(r"http://(127\.0\.0\.1:\d+)", process.stdout.readline())
        assert found
        yield found.group(1)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_takes_latency_and_quota(served_throttled: str) -> None:
    ebs = Ebs(FakeEbs(), served_throttled)  # only its clients: the fake runs in the child process
    with ThreadPoolExecutor(3) as pool:
        refusals = list(pool.map(lambda _: _throttled(lambda: _describe(ebs)).code, range(3)))
    assert refusals == ["Throttling.User"] * 3
    stats = requests.get(f"http://{served_throttled}/_fake/stats", timeout=5).json()
    assert stats["throttled"] == 3
    assert stats["max_in_flight"] >= 2


def test_serve_refuses_a_negative_quota() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ebs_failover.cli", "fake-ebs", "serve", "--quota", "-1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert "--quota" in done.stderr
