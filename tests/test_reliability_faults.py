"""The fault matrix: every FailoverDiskReplicaPair error, 503, throttling, a read timeout and a
connection reset, at DescribeDiskReplicaPairs and at FailoverDiskReplicaPair, on the first attempt
only (``times=1``) and on every attempt (``times=1000``).

The expected outcome of each cell is derived from :data:`FAULTS` (below) and the rules the README
states: a transient fault is retried with the same ClientToken within the time budget (so a first-
attempt fault still fails over, and a fault on every attempt raises :class:`TransientFailure` for
FC's async retry); any other error is not retried (exactly one call of the failing action) and gives
``failed`` or ``refused`` with EBS's error code; ``OperationDenied.InvalidStatus`` re-describes the
pair and reports what it is now. Every cell: at most one state change, one ``result`` log line, and
the handler done within the function's timeout (2 s, ``FAILOVER_TIME_MARGIN=1``: a 1 s budget) plus slack.
Each cell prints ``MATRIX <action> <fault> times=<n> -> <observed>`` (``pytest -s``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ebs_failover.errors import TransientFailure
from tests.reliability_helpers import DB_PAIR, Invocation, Live, context

DESCRIBE, FAILOVER = "DescribeDiskReplicaPairs", "FailoverDiskReplicaPair"
TIMEOUT, MARGIN = 2, 1
#: Scheduling, the SDK and the fake on a slow CI machine: what a cell may take beyond the timeout.
SLACK = 1.0
MANUAL = (
    b'{"action": "failover", "replicaPairId": "pair-cn-demo0db01", "reason": "fault matrix",'
    b' "idempotencyKey": "matrix-1"}'
)


@dataclass(frozen=True)
class Fault:
    name: str
    kind: str  # error | stall | drop
    status: int = 0
    code: str = ""
    retry_after: int | None = None
    #: Expected when not transient: the outcome, from the README's table and ebs_codes.RULES.
    outcome: str | None = None

    @property
    def transient(self) -> bool:
        return self.outcome is None

    def inject(self, live: Live, action: str, times: int, when: str = "before") -> None:
        if self.kind == "error":
            live.fake.faults.error(action, self.status, self.code, times=times, retry_after=self.retry_after)
        elif self.kind == "stall":
            live.fake.faults.stall(action, times=times, when=when)  # type: ignore[arg-type]
        else:
            live.fake.faults.drop(action, times=times, when=when)  # type: ignore[arg-type]


FAULTS = [
    # FailoverDiskReplicaPair's documented error table.
    Fault("403 OperationDenied", "error", 403, "OperationDenied", outcome="refused"),
    Fault(
        "403 OperationDenied.InvalidStatus", "error", 403, "OperationDenied.InvalidStatus", outcome="refused"
    ),
    Fault(
        "403 OperationDenied.OperateNotAllowedForPrimary",
        "error",
        403,
        "OperationDenied.OperateNotAllowedForPrimary",
        outcome="failed",
    ),
    Fault(
        "403 OperationDenied.OperateNotAllowedForStandby",
        "error",
        403,
        "OperationDenied.OperateNotAllowedForStandby",
        outcome="failed",
    ),
    Fault("403 Forbidden", "error", 403, "Forbidden", outcome="failed"),
    Fault("403 Forbidden.Action", "error", 403, "Forbidden.Action", outcome="failed"),
    Fault("404 NoSuchResource", "error", 404, "NoSuchResource", outcome="failed"),
    Fault("500 InternalError", "error", 500, "InternalError"),
    Fault("504 RequestTimeout", "error", 504, "RequestTimeout"),
    # Beyond the table: the gateway's and the network's.
    Fault("503 ServiceUnavailable", "error", 503, "ServiceUnavailable"),
    Fault("400 Throttling.User", "error", 400, "Throttling.User"),
    Fault("400 Throttling.User retry-after 1", "error", 400, "Throttling.User", retry_after=1),
    Fault("read timeout (stall)", "stall"),
    Fault("connection reset (drop)", "drop"),
]
#: The error code a transient cell reports (the fake's stall / drop reach the SDK with no answer).
NETWORK_CODE = "NetworkError"


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """Import the SDK and tenacity (about 0.25 s, once per process) before any cell's budget starts."""
    with Live() as live:
        assert live.invoke(MANUAL, context()).outcome == "failed_over"


def _env() -> dict[str, str | None]:
    return {"FAILOVER_TIME_MARGIN": str(MARGIN)}


def _invoke(live: Live) -> Invocation:
    return live.invoke(MANUAL, context(timeout=TIMEOUT))


def _observed(call: Invocation) -> str:
    if call.error is not None:
        return type(call.error).__name__
    target = call.target
    code = target.get("error_code")
    return f"{call.outcome}" + (f" ({code})" if code else "")


def _common(call: Invocation) -> None:
    assert call.elapsed <= TIMEOUT + SLACK, call.elapsed
    assert len(call.result_lines()) == 1
    assert len(call.changes) <= 1


@pytest.mark.parametrize("times", [1, 1000], ids=["first-attempt", "every-attempt"])
@pytest.mark.parametrize("action", [DESCRIBE, FAILOVER])
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_fault_matrix(fault: Fault, action: str, times: int) -> None:
    with Live(env=_env()) as live:
        fault.inject(live, action, times)
        call = _invoke(live)
        print(f"\nMATRIX {action} | {fault.name} | times={times} -> {_observed(call)}")
        _common(call)
        describes, failovers = call.calls_of(DESCRIBE), call.calls_of(FAILOVER)
        faulted = call.calls_of(action)
        tokens = {c.client_token for c in failovers}
        assert len(tokens) <= 1  # every attempt with the one ClientToken

        if fault.transient and times == 1:
            assert call.error is None
            assert call.outcome == "failed_over"
            # The fault, then the retry that succeeded (and, for Describe, the looks after the Failover:
            # failovering, then failovered, or only the first when the 1 s budget leaves no time).
            looks = [c for c in describes if c.at > failovers[-1].at]
            assert 1 <= len(looks) <= 2
            assert len(faulted) == 2 + len(looks) * (action == DESCRIBE)
            assert len(call.changes) == 1
            assert call.target["attempts"] == len(describes) + len(failovers)
        elif fault.transient:
            assert isinstance(call.error, TransientFailure), call.error
            expected_code = fault.code or NETWORK_CODE
            assert call.error.code == expected_code
            assert len(faulted) >= 2  # retried, with backoff, until the budget ran out
            assert call.changes == []
            line = call.result_lines()[0]
            assert line["outcome"] == "failed"
            assert line["result"]["data"]["targets"][0]["error_code"] == expected_code
            if action == DESCRIBE:
                assert failovers == []
            # FC's async retry delivers the same event again: the same token, one state change.
            live.fake.faults.clear()
            again = _invoke(live)
            assert again.outcome == "failed_over"
            assert {c.client_token for c in again.calls_of(FAILOVER)} == tokens or action == DESCRIBE
            assert len(live.fake.state_changes()) == 1
        else:
            assert call.error is None
            assert call.changes == []
            assert call.outcome == fault.outcome
            assert call.target["error_code"] == fault.code
            assert call.target.get("hint")
            if action == FAILOVER:
                assert len(failovers) == 1  # never retried
            else:
                assert failovers == []
            if fault.code == "OperationDenied.InvalidStatus":
                # Re-described once to report what the pair is now (or nothing, if that fails too).
                assert len(describes) == 2
                if times == 1 or action == FAILOVER:
                    assert call.target["status_after"] == "normal"
            elif fault.code == "NoSuchResource" and action == DESCRIBE:
                # Not there is absent, not an error: the production site is asked once, to say why.
                assert [c.params["Site"] for c in faulted] == ["backup", "production"]
            else:
                assert len(faulted) == 1  # never retried


@pytest.mark.parametrize("times", [1, 1000], ids=["first-answer", "every-answer"])
@pytest.mark.parametrize("kind", ["stall", "drop"])
def test_lost_answer_at_failover_is_replayed_by_the_same_token(kind: str, times: int) -> None:
    """The failover took effect but its answer was lost: the retry's same token replays it."""
    fault = next(f for f in FAULTS if f.kind == kind)
    with Live(env=_env()) as live:
        fault.inject(live, FAILOVER, times, when="after")
        call = _invoke(live)
        print(
            f"\nMATRIX {FAILOVER} | {fault.name}, after it took effect | times={times} -> {_observed(call)}"
        )
        _common(call)
        failovers = call.calls_of(FAILOVER)
        assert len({c.client_token for c in failovers}) == 1
        assert len(call.changes) == 1  # the first call changed the state; no retry did again
        assert [c.replayed for c in failovers[1:]] == [True] * (len(failovers) - 1)
        if times == 1:
            assert call.outcome == "failed_over"
            assert len(failovers) == 2
        else:
            assert isinstance(call.error, TransientFailure)
            live.fake.faults.clear()
            again = _invoke(live)  # FC's retry: the pair is failed over already
            assert again.outcome == "already_failed_over"
            assert again.calls_of(FAILOVER) == []
        assert len(live.fake.state_changes()) == 1


@pytest.mark.parametrize("action", [DESCRIBE, FAILOVER])
def test_a_real_stall_on_a_socket_ends_within_the_budget(action: str) -> None:
    """On a socket the stall lasts until the SDK's read timeout: the budget must bound it."""
    with Live(env=_env(), mount="server") as live:
        live.fake.faults.stall(action, times=1000, seconds=10)
        call = _invoke(live)
        print(f"\nMATRIX {action} | stall on a socket | times=1000 -> {_observed(call)}")
        _common(call)
        assert isinstance(call.error, TransientFailure)
        assert call.changes == []


def test_matrix_covers_the_documented_table() -> None:
    documented = {
        "OperationDenied",
        "OperationDenied.InvalidStatus",
        "OperationDenied.OperateNotAllowedForPrimary",
        "OperationDenied.OperateNotAllowedForStandby",
        "Forbidden",
        "Forbidden.Action",
        "NoSuchResource",
        "InternalError",
        "RequestTimeout",
    }
    assert documented <= {f.code for f in FAULTS}
    assert DB_PAIR.encode() in MANUAL
