"""Fault injection and transient-status progression, seen through the SDK."""

from __future__ import annotations

import time
from typing import Any

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from darabonba.exceptions import UnretryableException

from .conftest import PRIMARY, Ebs

#: What each operation does, not how long EBS takes (the timing is test_real_ebs_time_and_zones.py's).
pytestmark = pytest.mark.usefixtures("failovers_settle_at_once")

FAILOVER = "FailoverDiskReplicaPair"


def _raises(kind: type[Exception], call: Any) -> Any:
    with pytest.raises(kind) as caught:
        call()
    return caught.value


@pytest.mark.parametrize(("status", "code", "kind"), [
    (500, "InternalError", ServerException),
    (503, "ServiceUnavailable", ServerException),
    (504, "RequestTimeout", ServerException),
    (403, "Forbidden.Action", ClientException),
    (403, "OperationDenied", ClientException),
])  # fmt: skip
def test_injected_errors_reach_the_sdk_as_its_exceptions(
    ebs: Ebs, status: int, code: str, kind: type[Exception]
) -> None:
    pair_id = ebs.create_pair()
    ebs.fake.faults.error(FAILOVER, status, code, times=2)
    for _ in range(2):
        error = _raises(kind, lambda: ebs.failover(pair_id))
        assert (error.status_code, error.code) == (status, code)
    ebs.failover(pair_id)  # the third call is not struck
    assert ebs.status(pair_id) == "failovered"
    assert [c.status for c in ebs.fake.calls_for(FAILOVER)] == [status, status, 200]


def test_throttling_with_retry_after(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    ebs.fake.faults.error(
        FAILOVER, 400, "Throttling.User", "Request was denied due to user flow control.", retry_after=2
    )
    error = _raises(ThrottlingException, lambda: ebs.failover(pair_id))
    assert (error.code, error.retry_after) == ("Throttling.User", 2)


def test_faults_strike_only_their_action(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    ebs.fake.faults.error(FAILOVER, 500, "InternalError")
    assert ebs.status(pair_id) == "normal"  # a describe is not struck
    assert len(ebs.fake.faults) == 1


def test_a_wildcard_fault_strikes_any_action(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    ebs.fake.faults.error("*", 503, "ServiceUnavailable")
    _raises(ServerException, lambda: ebs.status(pair_id))
    assert ebs.status(pair_id) == "normal"


@pytest.mark.parametrize("kind", ["stall", "drop"])
def test_transport_faults_before_the_operation(ebs: Ebs, kind: str) -> None:
    pair_id = ebs.create_pair()
    if kind == "stall":
        ebs.fake.faults.stall(FAILOVER, seconds=5)  # the clients here time out after 2 s
    else:
        ebs.fake.faults.drop(FAILOVER)
    error = _raises(UnretryableException, lambda: ebs.failover(pair_id, token="t-1"))
    assert error.code is None
    assert "RetryError" in str(error.message)
    assert ebs.status(pair_id) == "normal"  # nothing happened
    assert ebs.fake.calls_for(FAILOVER)[-1].fault == kind


def test_a_lost_answer_after_the_failover_is_safe_to_retry_with_the_token(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    ebs.fake.faults.drop(FAILOVER, when="after")
    _raises(UnretryableException, lambda: ebs.failover(pair_id, token="alarm-7"))
    assert ebs.status(pair_id) == "failovered"  # it happened, the answer was lost
    retry = ebs.failover(pair_id, token="alarm-7")
    assert retry.status_code == 200
    assert len(ebs.fake.state_changes()) == 1
    assert ebs.fake.calls_for(FAILOVER)[-1].replayed


# -- transitions -------------------------------------------------------------------


def test_failovering_shows_for_n_describes(ebs: Ebs) -> None:
    ebs.fake.transitions.set("failovering", "describes", times=2)
    pair_id = ebs.create_pair()
    ebs.failover(pair_id)
    assert [ebs.status(pair_id) for _ in range(3)] == ["failovering", "failovering", "failovered"]


def test_manual_progression(ebs: Ebs) -> None:
    ebs.fake.transitions.set_all("manual")
    pair_id = ebs.create_pair(start=False)
    assert ebs.describe(pair_id, PRIMARY, "production")["Status"] == "creating"
    assert ebs.fake.backend().advance(pair_id) == 1
    assert ebs.describe(pair_id, PRIMARY, "production")["Status"] == "created"
    assert ebs.fake.backend().advance(pair_id) == 0


def test_a_failover_in_progress_accepts_another_without_a_second_change(ebs: Ebs) -> None:
    ebs.fake.transitions.set("failovering", "manual")
    pair_id = ebs.create_pair()
    ebs.failover(pair_id, token="a")
    ebs.failover(pair_id, token="b")
    assert ebs.status(pair_id) == "failovering"
    ebs.fake.backend().advance()
    assert ebs.status(pair_id) == "failovered"
    assert len(ebs.fake.state_changes()) == 1


def test_a_failing_transition_ends_in_the_failed_status(ebs: Ebs) -> None:
    ebs.fake.transitions.set("failovering", fail=True)
    pair_id = ebs.create_pair()
    ebs.failover(pair_id)
    assert ebs.status(pair_id) == "failover_failed"
    ebs.fake.transitions.set("failovering")  # a retry from failover_failed may succeed
    ebs.failover(pair_id)
    assert ebs.status(pair_id) == "failovered"


def test_transition_rules_are_validated() -> None:
    from ebs_failover.testing import Transitions

    rules = Transitions()
    with pytest.raises(ValueError, match="not a transient status"):
        rules.set("normal")
    with pytest.raises(ValueError, match="progression"):
        rules.set("failovering", "later")  # type: ignore[arg-type]


def test_latency_delays_every_answer_under_both_mountings(ebs: Ebs) -> None:
    """``FakeEbs(latency=…)``: each call waits as a network round trip would (sleep never returns early)."""
    pair_id = ebs.create_pair()
    ebs.fake.latency = 0.05
    started = time.monotonic()
    ebs.failover(pair_id)
    ebs.status(pair_id)
    assert time.monotonic() - started >= 2 * 0.05
    assert ebs.status(pair_id) == "failovered"
