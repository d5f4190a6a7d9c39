"""Replay every sample in events/ through the real handler, live, against a fresh fake EBS."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ebs_failover import log
from ebs_failover.cli.run import event_files
from ebs_failover.handler import handler
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


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_sample_gives_its_recorded_outcome_once(fake: FakeEbs, path: Path) -> None:
    expected = EXPECTED[path.name]["outcome"]
    result = handler(path.read_bytes(), FcContext(request_id="first"))
    assert result["data"]["outcome"] == expected, result["data"]["reason"]
    failovers = len(fake.state_changes())
    if expected == "failed_over":
        assert failovers == len(result["data"]["targets"]) >= 1
        again = handler(path.read_bytes(), FcContext(request_id="redelivery"))
        assert again["data"]["outcome"] == "already_failed_over"
        assert len(fake.state_changes()) == failovers  # the redelivery changed nothing
    else:
        assert failovers == 0
    if expected in ("rejected", "ignored", "refused"):
        assert fake.calls == []
