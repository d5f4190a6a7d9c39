"""Replay every sample in events/ through the real handler, live, against a fresh fake EBS."""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from ebs_failover import log, results
from ebs_failover.cli.run import event_files
from ebs_failover.handler import invoke
from ebs_failover.testing import FakeEbs, FcContext, MockEbs

EVENTS = Path(__file__).resolve().parent.parent / "events"
SETUP: dict[str, Any] = json.loads((EVENTS / "config.json").read_text())
EXPECTED: dict[str, dict[str, Any]] = json.loads((EVENTS / "expected.json").read_text())
FILES = event_files(EVENTS)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEbs]:
    for name, value in SETUP["env"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FAILOVER_MODE", "live")
    log.configure(stream=io.StringIO())
    fake = FakeEbs()
    fake.load_seed(SETUP["seed"])
    with MockEbs(fake):
        yield fake


def test_there_are_enough_samples_of_every_outcome() -> None:
    outcomes = [EXPECTED[p.name]["outcome"] for p in FILES]
    assert len(FILES) >= 15
    for outcome in ("failed_over", "ignored", "rejected", "refused"):
        assert outcome in outcomes
    assert {p.name for p in FILES} == set(EXPECTED)


def _per_target(result: dict[str, Any]) -> dict[str, str]:
    return {results.target_id(target): target["outcome"] for target in result["data"]["targets"]}


def _failovers(fake: FakeEbs) -> int:
    """State changes made by Failover calls, pairs' and groups'."""
    return len(fake.state_changes()) + len(fake.state_changes("FailoverDiskReplicaGroup"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_sample_gives_its_recorded_outcome_once(fake: FakeEbs, path: Path) -> None:
    expected = EXPECTED[path.name]["outcome"]
    result = invoke(path.read_bytes(), FcContext(request_id="first")).result
    assert result["data"]["outcome"] == expected, result["data"]["reason"]
    assert _per_target(result) == EXPECTED[path.name].get("targets", {})
    failed_over = [t for t in result["data"]["targets"] if t["outcome"] == "failed_over"]
    failovers = _failovers(fake)
    assert failovers == len(failed_over)
    assert all(t["verified"] is True and t["status_after"] == "failovered" for t in failed_over)
    if expected == "failed_over":
        again = invoke(path.read_bytes(), FcContext(request_id="redelivery")).result
        assert again["data"]["outcome"] == "already_failed_over"
        assert _failovers(fake) == failovers  # the redelivery changed nothing
    if not result["data"]["targets"]:
        assert fake.calls == []  # decided without a look at EBS


@functools.cache
def _result_schema() -> Any:
    return fastjsonschema.compile(json.loads(results.SCHEMA_PATH.read_text()))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_samples_result_follows_the_published_schema(fake: FakeEbs, path: Path) -> None:
    """The result event is an interface: ebs-failover.v1.<outcome>, its dataschema, each target with one id
    key and its kind, a subject naming each target once."""
    result = invoke(path.read_bytes(), FcContext(request_id="schema")).result
    _result_schema()(result)  # raises, naming the field, when it does not
    assert result["type"] == f"ebs-failover.v1.{result['data']['outcome']}"
    ids = [target["target_id"] for target in result["data"]["targets"]]
    if ids:
        assert result["subject"].split(",") == list(dict.fromkeys(ids))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dry_run_of_each_sample_reaches_the_live_outcome_and_changes_nothing(
    fake: FakeEbs, monkeypatch: pytest.MonkeyPatch, path: Path
) -> None:
    monkeypatch.setenv("FAILOVER_MODE", "dry-run")
    result = invoke(path.read_bytes(), FcContext(request_id="rehearsal")).result
    live = EXPECTED[path.name].get("targets", {})
    assert _per_target(result) == {pair: "dry_run" if o == "failed_over" else o for pair, o in live.items()}
    assert result["data"]["dry_run"] is True
    assert _failovers(fake) == 0
    # Only looks; a drill (which runs in both modes, changing nothing in production) its own calls too.
    allowed = {"DescribeDiskReplicaPairs", "DescribeDiskReplicaGroups"}
    if result["data"]["outcome"].startswith("drill_"):
        allowed |= {
            f"{verb}{noun}" for verb in ("Start", "Clear") for noun in ("PairDrill", "ReplicaGroupDrill")
        }
        allowed |= {"DescribePairDrills", "DescribeReplicaGroupDrills"}
    assert {call.action for call in fake.calls} <= allowed
