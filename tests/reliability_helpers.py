"""Shared harness of the reliability suite (``tests/test_reliability_*.py``).

One :class:`Live` per test (never per example): the environment of ``events/config.json`` in live
mode, one :class:`FakeEbs` mounted through ``responses`` (or on a socket), the log configured to a
``StringIO`` that :meth:`Live.invoke` truncates before every invocation. :meth:`Live.invoke` runs the
real handler once and returns what it did: the result or the exception, the log lines, the EBS calls
and the state changes of that invocation alone, and the wall time.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from ebs_failover import log, results
from ebs_failover.cli.run import event_files
from ebs_failover.handler import invoke
from ebs_failover.outcomes import OUTCOMES, aggregate
from ebs_failover.results import TYPE_PREFIX
from ebs_failover.testing import PROXY_VARIABLES, FakeEbs, FakeEbsServer, FcContext, FcFunction, MockEbs
from ebs_failover.testing.ebs.models import Operation
from ebs_failover.testing.ebs.service import RecordedCall

EVENTS = Path(__file__).resolve().parent.parent / "events"
SETUP: dict[str, Any] = json.loads((EVENTS / "config.json").read_text())
EXPECTED: dict[str, dict[str, Any]] = json.loads((EVENTS / "expected.json").read_text())
FILES: list[Path] = event_files(EVENTS)
SAMPLES: dict[str, bytes] = {path.name: path.read_bytes() for path in FILES}

STANDBY = SETUP["env"]["FAILOVER_REGION"]
DB_PAIR = "pair-cn-demo0db01"
APP_PAIR = "pair-cn-demo0app01"
DB_DISK = "d-bp1demo0primary01"
SAMPLE_CALLBACK_TOKEN = SETUP["env"]["CALLBACK_TOKEN"]

#: Outcomes after which the function must not have called EBS at all.
NO_CALL_OUTCOMES = frozenset({"rejected", "ignored", "dry_run"})


_request_ids = itertools.count(1)


def context(timeout: int = 60, request_id: str | None = None, **extra: Any) -> FcContext:
    """An FC context (``testing``/``testing`` credentials unless ``credentials=`` says otherwise)."""
    rid = request_id or f"rel-{next(_request_ids)}"
    return FcContext(request_id=rid, function=FcFunction(timeout=timeout), **extra)


@dataclass
class Invocation:
    """One handler call and everything it did."""

    result: dict[str, Any] | None
    error: BaseException | None
    text: str
    calls: list[RecordedCall]
    changes: list[Operation]
    elapsed: float
    #: What FC returned to the invoker: the result, or an HTTP-trigger request's HTTP answer.
    answer: dict[str, Any] | None = None

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    @property
    def outcome(self) -> str:
        assert self.result is not None, f"the handler raised {self.error!r}"
        return str(self.result["data"]["outcome"])

    @property
    def target(self) -> dict[str, Any]:
        assert self.result is not None, f"the handler raised {self.error!r}"
        targets: list[dict[str, Any]] = self.result["data"]["targets"]
        assert len(targets) == 1, targets
        return targets[0]

    def calls_of(self, action: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.action == action]

    def result_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("message") == "result"]


@dataclass
class Live:
    """The function configured like ``events/config.json``, live, against one fake EBS.

    ``env`` adds or overrides variables (``None`` removes one); ``mount`` is ``"responses"``
    (in-process) or ``"server"`` (a :class:`FakeEbsServer` on 127.0.0.1, reached through
    ``EBS_ENDPOINT``/``EBS_PROTOCOL``).
    """

    env: Mapping[str, str | None] = field(default_factory=dict)
    mount: str = "responses"
    repeat_failover: str = "accept"
    #: More credentials the fake accepts, ``(access_key_id, secret, sts_token)``, kept across reseeds.
    credentials: Sequence[tuple[str, str, str | None]] = ()
    fake: FakeEbs = field(init=False)
    stream: io.StringIO = field(init=False, default_factory=io.StringIO)
    _stack: contextlib.ExitStack = field(init=False, default_factory=contextlib.ExitStack)

    def __enter__(self) -> Live:
        stack = self._stack
        self.fake = FakeEbs(seed=11, repeat_failover=self.repeat_failover)  # type: ignore[arg-type]
        self._seed()
        # Mount first: the environment patched below is then undone before MockEbs restores its own.
        server: FakeEbsServer | None = None
        if self.mount == "server":
            server = stack.enter_context(FakeEbsServer(self.fake))
        else:
            stack.enter_context(MockEbs(self.fake))
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        if server is not None:
            for name in PROXY_VARIABLES:
                patch.delenv(name, raising=False)
            patch.setenv("EBS_ENDPOINT", server.endpoint)
            patch.setenv("EBS_PROTOCOL", "http")
        for name, value in SETUP["env"].items():
            patch.setenv(name, value)
        patch.setenv("FAILOVER_MODE", "live")
        patch.setenv("LOG_EVENT", "true")
        patch.delenv("NOTIFY_TARGETS", raising=False)
        for name, maybe in self.env.items():
            if maybe is None:
                patch.delenv(name, raising=False)
            else:
                patch.setenv(name, maybe)
        log.configure(stream=self.stream)
        stack.callback(log.configure, stream=io.StringIO())
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()

    def reseed(self) -> None:
        """Every pair back to ``normal``, no token, fault or call remembered."""
        self.fake.reset()
        self._seed()

    def _seed(self) -> None:
        self.fake.load_seed(SETUP["seed"])
        for key_id, secret, token in self.credentials:
            self.fake.register_credential(key_id, secret, security_token=token)

    def invoke(self, event: Any, ctx: FcContext | None = None) -> Invocation:
        """One handler call; exceptions are caught and returned, never raised."""
        self.stream.seek(0)
        self.stream.truncate()
        calls_before = len(self.fake.calls)
        changes_before = len(self.fake.operations)
        result: dict[str, Any] | None = None
        answer: dict[str, Any] | None = None
        error: BaseException | None = None
        started = time.perf_counter()
        try:
            invoked = invoke(event, ctx or context())
            result, answer = invoked.result, invoked.answer
        except Exception as raised:
            error = raised
        elapsed = time.perf_counter() - started
        changes = [
            op
            for op in self.fake.operations[changes_before:]
            if op.action in ("FailoverDiskReplicaPair", "FailoverDiskReplicaGroup")
        ]
        return Invocation(
            result, error, self.stream.getvalue(), self.fake.calls[calls_before:], changes, elapsed, answer
        )


def check_invariants(live: Live, call: Invocation) -> None:
    """The properties every invocation without injected faults must have (the fuzz oracle)."""
    assert call.error is None, f"the handler raised {call.error!r}"
    result = call.result
    assert isinstance(result, dict)
    json.dumps(result, allow_nan=False)  # a plain JSON value, publishable as is
    assert result["specversion"] == "1.0"
    assert all(result[key] for key in ("id", "source", "time"))
    data = result["data"]
    outcome = data["outcome"]
    assert outcome in OUTCOMES
    assert result["type"] == TYPE_PREFIX + outcome
    if call.answer is not result:  # an HTTP-trigger request: an HTTP answer that reveals nothing
        answer = call.answer
        assert answer is not None
        code = (data.get("error") or {}).get("code")
        status = {"Unauthorized": 401, "Forbidden": 403}.get(str(code), 400 if outcome == "rejected" else 200)
        assert answer["statusCode"] == status, (answer, data)
        assert result["source"] not in answer["body"]  # no account, no function
        if status in (401, 403):
            assert set(json.loads(answer["body"])) == {"error"}
    assert isinstance(data["reason"], str)
    assert data["reason"]
    # The log: JSON lines, exactly one canonical ``result`` line, with this outcome.
    lines = call.lines
    finals = [line for line in lines if line.get("message") == "result"]
    assert len(finals) == 1, [line.get("message") for line in lines]
    assert finals[0]["outcome"] == outcome
    assert lines[-1] is finals[0]
    if not data["targets"]:  # decided before any look at EBS
        assert call.calls == [], (outcome, [c.action for c in call.calls])
    drill = ((data.get("trigger") or {}).get("summary") or {}).get("action") == "drill"
    if drill:  # a drill, in either mode: never a failover, never a stop of replication
        assert not {c.action for c in call.calls} & FAILOVER_CALLS, call.calls
        assert not call.changes
    if outcome in NO_CALL_OUTCOMES:  # at most a look (a dry-run's, or one that found the wrong disk)
        looks = {"DescribeDiskReplicaPairs", "DescribeDiskReplicaGroups"}
        if drill:  # a redelivery of a drill EBS ran and cleared before: its start replays, then looks
            looks |= DRILL_CALLS
        assert {c.action for c in call.calls} <= looks, (outcome, call.calls)
    if outcome == "rejected":
        assert data["error"]["code"] in ("InvalidEvent", "Unauthorized")
    # State: never more than one failover of a pair, ever (the fake is reseeded after one).
    per_pair = Counter(op.resource_id for op in call.changes)
    assert all(n == 1 for n in per_pair.values()), per_pair
    failovers = [*live.fake.state_changes(), *live.fake.state_changes("FailoverDiskReplicaGroup")]
    total = Counter(op.resource_id for op in failovers)
    assert all(n == 1 for n in total.values()), total
    failed_over = {results.target_id(t) for t in data["targets"] if t["outcome"] == "failed_over"}
    assert failed_over == set(per_pair)  # a pair is reported failed over exactly when it was
    assert all(t["verified"] for t in data["targets"] if t["outcome"] == "failed_over")
    if call.changes:
        live.reseed()  # first: a failing case must replay on the same state (hypothesis reruns it)
        # The overall outcome is the most serious target's (a failover beside a refusal is "refused",
        # and the channels' filters see each target's outcome, issue 28): a failover is one of them.
        assert failed_over, outcome
        assert outcome == aggregate(t["outcome"] for t in data["targets"]), outcome


#: The calls only a failover makes (and a stop of replication, which nothing here ever makes).
FAILOVER_CALLS = frozenset(
    {"FailoverDiskReplicaPair", "FailoverDiskReplicaGroup", "StopDiskReplicaPair", "StopDiskReplicaGroup"}
)
#: A drill's own calls.
DRILL_CALLS = frozenset(
    {
        "StartPairDrill",
        "StartReplicaGroupDrill",
        "DescribePairDrills",
        "DescribeReplicaGroupDrills",
        "ClearPairDrill",
        "ClearReplicaGroupDrill",
    }
)


def iter_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path (dict keys / list indices) inside a JSON value, parents before children."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from iter_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from iter_paths(child, (*prefix, index))


def with_value(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of ``value`` with the node at ``path`` replaced by ``new``."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy_dict = dict(value)
        copy_dict[head] = with_value(value[head], rest, new)
        return copy_dict
    copy_list = list(value)
    copy_list[head] = with_value(value[head], rest, new)
    return copy_list


def without(value: Any, path: tuple[Any, ...]) -> Any:
    """A copy of ``value`` with the node at ``path`` removed."""
    head, rest = path[0], path[1:]
    if rest:
        return with_value(value, (head,), without(value[head], rest))
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != head}
    return [v for i, v in enumerate(value) if i != head]


def json_samples() -> dict[str, Any]:
    """The samples that are JSON objects, parsed (``invalid-not-json.json`` is not)."""
    parsed: dict[str, Any] = {}
    for name, raw in SAMPLES.items():
        if name.endswith(".json"):
            with contextlib.suppress(ValueError):
                value = json.loads(raw)
                if isinstance(value, dict):
                    parsed[name] = value
    return parsed


def form_samples() -> dict[str, str]:
    """The form-urlencoded samples (``.txt``) as text."""
    return {name: raw.decode() for name, raw in SAMPLES.items() if name.endswith(".txt")}
