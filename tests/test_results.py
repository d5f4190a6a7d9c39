"""The result event: the most serious outcome wins, a CloudEvent with a fresh id and a UTC time."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from ebs_failover.outcomes import OUTCOMES, aggregate
from ebs_failover.results import TYPE_PREFIX, build


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        (["failed_over", "failed"], "failed"),
        (["already_failed_over", "refused", "failed_over"], "refused"),
        (["already_failed_over", "failed_over"], "failed_over"),
        (["dry_run"], "dry_run"),
        (list(reversed(OUTCOMES)), "failed"),
    ],
)
def test_the_most_serious_outcome_wins(outcomes: list[str], expected: str) -> None:
    assert aggregate(outcomes) == expected


def _event(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "outcome": "failed_over",
        "source": "acs:fc:cn-shanghai:1:functions/f",
        "request_id": "req-1",
        "trigger": None,
        "targets": [{"pair_id": "pair-cn-a"}, {"pair_id": "pair-cn-b"}],
        "region": "cn-shanghai",
        "dry_run": False,
        "reason": "r",
        "duration_ms": 12.345,
        **overrides,
    }
    return build(**fields)  # type: ignore[arg-type]


def test_a_result_is_a_cloud_event_with_a_random_id_and_a_utc_time() -> None:
    first, second = _event(), _event()
    assert first["specversion"] == "1.0"
    assert first["type"] == TYPE_PREFIX + "failed_over"
    assert first["subject"] == "pair-cn-a,pair-cn-b"
    assert uuid.UUID(str(first["id"])).version == 4
    assert first["id"] != second["id"]
    time = str(first["time"])
    assert time.endswith("Z")
    assert datetime.fromisoformat(time.removesuffix("Z") + "+00:00").utcoffset() is not None
    assert first["data"]["duration_ms"] == 12.3  # type: ignore[index]


def test_an_unknown_outcome_is_a_bug_not_a_result() -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        _event(outcome="maybe")


def test_a_batch_result_names_each_target_once_with_one_id_key_and_its_kind() -> None:
    """Two events of a batch about one pair, and a group: the subject repeats nothing, and every target
    carries target_id and target_kind (pair_id / group_id stay as v1 aliases)."""
    targets = [
        {"pair_id": "pair-cn-a", "outcome": "failed_over", "event_index": 0},
        {"pair_id": "pair-cn-a", "outcome": "already_failed_over", "event_index": 1},
        {"group_id": "pg-b", "outcome": "refused", "event_index": 1},
    ]
    event = build(
        outcome="failed_over", source="acs:fc:r:1:functions/f", request_id="r", trigger=None,
        targets=targets, region="cn-shanghai", dry_run=False, reason="batch", duration_ms=1.0,
    )  # fmt: skip
    assert event["subject"] == "pair-cn-a,pg-b"
    assert [(t["target_id"], t["target_kind"]) for t in event["data"]["targets"]] == [
        ("pair-cn-a", "pair"),
        ("pair-cn-a", "pair"),
        ("pg-b", "group"),
    ]
    assert (event["type"], event["dataschema"]) == (
        "ebs-failover.v1.failed_over",
        "urn:ebs-failover:result:v1",
    )
