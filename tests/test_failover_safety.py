"""Failover safety: when the handler acts, refuses or reports a failover unverified; the one irreversible
action, tried the way incidents go (issue 14). One test per reproduced defect.

Every test runs the real handler and SDK against the fake EBS; each failed on the code before the fix.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from ebs_failover.errors import TransientFailure
from ebs_failover.handler import handler
from ebs_failover.testing import FakeEbs, FakeEbsServer

from .conftest import PRIMARY, STANDBY, live_settings, mounted, seed_pair
from .helpers import (
    APP_DISK,
    APP_INSTANCE,
    APP_PAIR,
    DB_DISK,
    DB_PAIR,
    DESCRIBE,
    FAILOVER,
    alarm,
    demo_fake,
    disk_event,
    fc_context,
)

TARGETS = {DB_DISK: DB_PAIR, APP_INSTANCE: [APP_PAIR]}


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    live_settings(monkeypatch, TARGETS)
    monkeypatch.setenv("FAILOVER_VERIFY_SECONDS", "5")
    return monkeypatch


Mount = Callable[[FakeEbs], AbstractContextManager[Any]]


@pytest.fixture(params=["responses", "server"])
def mount(request: pytest.FixtureRequest, settings: pytest.MonkeyPatch) -> Mount:
    """How the fake is reached: in process (``responses``), or on a 127.0.0.1 socket."""
    return lambda fake: mounted(fake, request.param, settings)


@pytest.fixture
def fake(mount: Mount) -> Iterator[FakeEbs]:
    fake = demo_fake()
    with mount(fake):
        yield fake


def manual(pair: str = DB_PAIR, key: str = "INC-7") -> bytes:
    body = {"action": "failover", "replicaPairId": pair, "reason": "primary down", "idempotencyKey": key}
    return json.dumps(body).encode()


def _targets(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {target["pair_id"]: target for target in result["data"]["targets"]}


def _fail_back(fake: FakeEbs, pair: str, *, reverse: bool, finish: bool = True) -> None:
    """The operator's fail-back: Reprotect from the standby region (then, to replicate again, Start)."""
    backend = fake.backend()
    if not finish:
        fake.transitions.set("reprotecting", "manual")
    backend.reprotect_pair(region=STANDBY, pair_id=pair, reverse_replicate=reverse)


# -- 1. a failover EBS accepted but that failed ------------------------------------------------


def test_an_accepted_failover_that_ends_in_failover_failed_is_failed_on_every_delivery(fake: FakeEbs) -> None:
    fake.transitions.set("failovering", "describes", times=1, fail=True)
    first = handler(manual(), fc_context())
    again = handler(manual(), fc_context(request_id="redelivery"))
    for result in (first, again):
        target = _targets(result)[DB_PAIR]
        assert (result["data"]["outcome"], target["status_after"]) == ("failed", "failover_failed")
        assert "not writable" in target["hint"]
        assert target.get("verified") is not True
    assert fake.pair(DB_PAIR).status == "failover_failed"


def test_a_failover_still_in_progress_when_the_window_ends_is_reported_unverified(
    fake: FakeEbs, settings: pytest.MonkeyPatch
) -> None:
    settings.setenv("FAILOVER_VERIFY_SECONDS", "1")
    fake.transitions.set("failovering", "manual")  # EBS is slow to finish today
    target = _targets(handler(manual(), fc_context()))[DB_PAIR]
    assert (target["outcome"], target["verified"], target["status_after"]) == (
        "failed_over",
        False,
        "failovering",
    )
    assert "FAILOVER_VERIFY_SECONDS" in target["hint"]
    assert "failover_seconds" not in target  # nothing seen failovered: no time to report


def test_the_watch_of_a_slow_failover_ends_with_the_budget_saying_what_it_saw(
    fake: FakeEbs, settings: pytest.MonkeyPatch
) -> None:
    """A verification window longer than the time left: the watch stops at the deadline, still reporting
    the status it saw (not a failed look at the budget's end)."""
    fake.transitions.set("failovering", "manual")
    # 3 s after the 1 s margin; window 5 s
    target = _targets(handler(manual(), fc_context(timeout=4)))[DB_PAIR]
    assert (target["outcome"], target["verified"], target["status_after"]) == (
        "failed_over",
        False,
        "failovering",
    )
    assert "time budget" in target["hint"]


# -- 2. the same identity after a fail-back ----------------------------------------------------


def test_an_identity_reused_after_a_fail_back_is_failed_not_failed_over(fake: FakeEbs) -> None:
    assert handler(manual(key="INC-7"), fc_context())["data"]["outcome"] == "failed_over"
    _fail_back(fake, DB_PAIR, reverse=False)  # undo: failovered -> stopped, the original direction
    fake.backend().start_pair(region=PRIMARY, pair_id=DB_PAIR)
    assert fake.pair(DB_PAIR).status == "normal"
    result = handler(manual(key="INC-7"), fc_context(request_id="next-incident"))
    target = _targets(result)[DB_PAIR]
    assert result["data"]["outcome"] == "failed"
    assert target["status_after"] == "normal"
    assert "earlier result for this ClientToken" in target["hint"]
    assert fake.pair(DB_PAIR).status == "normal"


def test_with_verification_off_a_reused_identity_is_reported_as_seen_and_never_verified(
    fake: FakeEbs, settings: pytest.MonkeyPatch
) -> None:
    """FAILOVER_VERIFY_SECONDS=0 is one look and no verdict (issue 26: a verdict only from evidence): the
    result says EBS accepted, what the look saw (``normal``), and never ``verified``."""
    assert handler(manual(key="INC-8"), fc_context())["data"]["outcome"] == "failed_over"
    _fail_back(fake, DB_PAIR, reverse=False)
    fake.backend().start_pair(region=PRIMARY, pair_id=DB_PAIR)
    settings.setenv("FAILOVER_VERIFY_SECONDS", "0")  # one look only
    target = _targets(handler(manual(key="INC-8"), fc_context(request_id="again")))[DB_PAIR]
    assert (target["outcome"], target["status_after"], target["verified"]) == ("failed_over", "normal", False)
    assert "FAILOVER_VERIFY_SECONDS=0" in target["hint"]


def test_a_disk_alarm_that_names_the_instance_too_fails_over_only_that_disks_pair(fake: FakeEbs) -> None:
    """The alarm is about the disk; the instance beside it is where it is attached."""
    result = handler(alarm(f"instanceId={APP_INSTANCE},+diskId={DB_DISK}"), fc_context())
    assert {pair: t["outcome"] for pair, t in _targets(result).items()} == {
        DB_PAIR: "failed_over",
        APP_PAIR: "ignored",
    }
    assert fake.pair(APP_PAIR).status == "normal"


# -- 3. no recovery point ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "pair",
    [
        seed_pair(DB_PAIR, DB_DISK, "created"),
        {**seed_pair(DB_PAIR, DB_DISK, "stopped"), "LastRecoverPoint": 0},  # stopped before the first sync
    ],
    ids=["created", "stopped-before-first-sync"],
)
def test_a_pair_whose_secondary_holds_no_data_is_refused(mount: Mount, pair: dict[str, Any]) -> None:
    fake = demo_fake(pair)
    with mount(fake):
        result = handler(manual(), fc_context())
    target = _targets(result)[DB_PAIR]
    assert (result["data"]["outcome"], target["outcome"]) == ("refused", "refused")
    assert "no recovery point" in target["hint"]
    assert fake.calls_for(FAILOVER) == []


# -- 4. the operator's fail-back ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("reverse", "finish", "why"),
    [
        (True, False, "reprotecting"),
        (False, True, "replication is stopped"),
        (True, True, "a fail-back reversed it"),
    ],
    ids=["reprotecting", "reprotected-without-reverse", "reprotected-reversed"],
)
def test_an_alarm_during_or_after_a_fail_back_is_refused(
    mount: Mount, reverse: bool, finish: bool, why: str
) -> None:
    fake = demo_fake(seed_pair(DB_PAIR, DB_DISK, "failovered"))
    _fail_back(fake, DB_PAIR, reverse=reverse, finish=finish)
    with mount(fake):
        result = handler(alarm(), fc_context())  # the detached old primary's IOPS alarm fires
    target = _targets(result)[DB_PAIR]
    assert (result["data"]["outcome"], target["outcome"]) == ("refused", "refused")
    assert why in target["hint"]
    assert fake.calls_for(FAILOVER) == []


@pytest.mark.parametrize(("by_operator", "outcome"), [(False, "refused"), (True, "failed_over")])
def test_data_loss_over_the_limit_is_refused_unless_an_operator_asks(
    mount: Mount, settings: pytest.MonkeyPatch, by_operator: bool, outcome: str
) -> None:
    settings.setenv("FAILOVER_MAX_DATA_LOSS", "600")
    fake = demo_fake({**seed_pair(DB_PAIR, DB_DISK), "LastRecoverPoint": int(time.time()) - 3600})
    with mount(fake):
        result = handler(manual() if by_operator else alarm(), fc_context())
    target = _targets(result)[DB_PAIR]
    assert target["outcome"] == outcome
    assert 3590 <= target["data_loss_seconds"] <= 3700
    if not by_operator:
        assert "FAILOVER_MAX_DATA_LOSS 600 s" in target["hint"]


def test_an_operator_may_fail_over_a_stopped_pair_that_holds_a_recovery_point(mount: Mount) -> None:
    fake = demo_fake(seed_pair(DB_PAIR, DB_DISK, "stopped"))
    with mount(fake):
        assert handler(alarm(), fc_context())["data"]["outcome"] == "refused"
        assert handler(manual(), fc_context())["data"]["outcome"] == "failed_over"
    assert fake.pair(DB_PAIR).status == "failovered"


# -- 5. the right signal -----------------------------------------------------------------------


def test_a_disk_event_on_another_disk_of_a_configured_instance_fails_nothing_over(fake: FakeEbs) -> None:
    result = handler(disk_event("d-bp1scratch000001", APP_INSTANCE), fc_context())
    target = _targets(result)[APP_PAIR]
    assert (result["data"]["outcome"], target["outcome"]) == ("ignored", "ignored")
    assert "d-bp1scratch000001" in target["hint"]
    assert fake.calls_for(FAILOVER) == []


def test_a_disk_event_on_the_instances_source_disk_fails_that_pair_over(fake: FakeEbs) -> None:
    result = handler(disk_event(APP_DISK, APP_INSTANCE), fc_context())
    assert _targets(result)[APP_PAIR]["outcome"] == "failed_over"
    assert fake.pair(APP_PAIR).status == "failovered"


def test_an_alarm_on_a_disk_that_is_the_pairs_secondary_does_nothing(
    settings: pytest.MonkeyPatch, mount: Mount
) -> None:
    standby_disk = "d-uf6demo0standby1"
    settings.setenv("FAILOVER_TARGETS", json.dumps({standby_disk: DB_PAIR}))  # mapped by its secondary
    fake = demo_fake({**seed_pair(DB_PAIR, DB_DISK), "DestinationDiskId": standby_disk})
    with mount(fake):
        result = handler(alarm(f"diskId={standby_disk}"), fc_context())
    target = _targets(result)[DB_PAIR]
    assert (result["data"]["outcome"], target["source_disk_id"]) == ("ignored", DB_DISK)
    assert fake.calls_for(FAILOVER) == []


# -- 6. time ------------------------------------------------------------------------------------


def test_an_alarm_from_hours_ago_is_refused_as_stale(fake: FakeEbs, settings: pytest.MonkeyPatch) -> None:
    settings.delenv("FAILOVER_MAX_EVENT_AGE")  # the default: an hour
    result = handler(alarm(at=time.time() - 7200), fc_context())
    assert result["data"]["outcome"] == "refused"
    assert "stale" in result["data"]["reason"]
    assert "FAILOVER_MAX_EVENT_AGE 3600 s" in result["data"]["reason"]
    # Looked at (a retry of a delivery that failed it over would say so), never failed over.
    assert fake.calls_for(FAILOVER) == []


# -- 7. dry-run rehearses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pair", "region", "code"),
    [
        ("pair-cn-doesnotexist", STANDBY, "NoSuchResource"),
        (DB_PAIR, PRIMARY, "OperationDenied.OperateNotAllowedForPrimary"),  # FAILOVER_REGION wrong
    ],
    ids=["no-such-pair", "wrong-region"],
)
def test_dry_run_finds_what_live_would_find(
    fake: FakeEbs, settings: pytest.MonkeyPatch, pair: str, region: str, code: str
) -> None:
    settings.setenv("FAILOVER_MODE", "dry-run")
    settings.setenv("FAILOVER_REGION", region)
    settings.setenv("FAILOVER_TARGETS", json.dumps({DB_DISK: pair}))
    result = handler(manual(pair), fc_context())
    target = _targets(result)[pair]
    assert (result["data"]["outcome"], target["error_code"]) == ("failed", code)
    assert fake.calls_for(FAILOVER) == []


# -- 8. one pair's trouble is its own -------------------------------------------------------------


def test_a_pair_whose_calls_keep_failing_leaves_the_others_their_time(
    fake: FakeEbs, settings: pytest.MonkeyPatch
) -> None:
    """Both pairs of one instance's alarm; every Failover of the first stalls: the second is still failed
    over, and verified (the calls run side by side, each with its own retries)."""
    settings.setenv("FAILOVER_TARGETS", json.dumps({APP_INSTANCE: [DB_PAIR, APP_PAIR]}))
    fake.faults.stall(FAILOVER, times=10_000, match={"ReplicaPairId": DB_PAIR})
    event = alarm(f"instanceId={APP_INSTANCE}")
    with pytest.raises(TransientFailure) as raised:  # the first pair: FC delivers the event again
        handler(event, fc_context(timeout=5))
    assert raised.value.target_id == DB_PAIR
    assert fake.pair(APP_PAIR).status == "failovered"
    assert fake.pair(DB_PAIR).status == "normal"  # every attempt stalled before the fake acted
    accepted = [c for c in fake.calls_for(FAILOVER) if c.status == 200]
    assert [c.params["ReplicaPairId"] for c in accepted] == [APP_PAIR]


def test_a_call_that_trickles_its_answer_ends_at_the_deadline(settings: pytest.MonkeyPatch) -> None:
    """The read timeout counts idle time only: an answer a byte at a time must not hold the function."""
    fake = demo_fake()
    fake.faults.trickle(DESCRIBE, seconds=30, times=10_000)
    with FakeEbsServer(fake) as server:
        settings.setenv("EBS_ENDPOINT", server.endpoint)
        settings.setenv("EBS_PROTOCOL", "http")
        started = time.monotonic()
        with pytest.raises(TransientFailure) as raised:
            handler(manual(), fc_context(timeout=4))  # a 3 s budget after the 1 s margin
        elapsed = time.monotonic() - started
    assert raised.value.code == "RequestTimeout"
    # The 3 s budget, and a little for the process: far from the trickle's 30 s (and the function's 4 s).
    assert elapsed < 6, f"the trickle (30 s) held the invocation {elapsed:.1f} s"


# -- 9. the smaller ones ---------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["", "null"], ids=["absent", "null"])
def test_an_alarm_without_a_level_acts_at_min_level_info(
    fake: FakeEbs, settings: pytest.MonkeyPatch, level: str
) -> None:
    settings.setenv("FAILOVER_MIN_LEVEL", "INFO")
    assert handler(alarm(level=level), fc_context())["data"]["outcome"] == "failed_over"
    settings.setenv("FAILOVER_MIN_LEVEL", "WARN")
    assert handler(alarm(level=level, trans="t-2"), fc_context())["data"]["outcome"] == "ignored"


def test_a_level_spelled_warning_or_in_lower_case_is_understood(
    fake: FakeEbs, settings: pytest.MonkeyPatch
) -> None:
    settings.setenv("FAILOVER_MIN_LEVEL", "warning")
    assert handler(alarm(level="warning"), fc_context())["data"]["outcome"] == "failed_over"
    assert handler(alarm(level="info", trans="t-2"), fc_context())["data"]["outcome"] == "ignored"


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        ('{"d-bp1demo0primary01": "pair-cn-a", "d-bp1demo0primary01": "pair-cn-b"}', "each resource id once"),
        ('{"pair-cn-a": "pair-cn-b"}', "disk (d-…) or instance (i-…) ids"),
        ('{"disk-1": "pair-cn-b"}', "disk (d-…) or instance (i-…) ids"),
        ('{"d-bp1-x": "pair-cn-b"}', "disk (d-…) or instance (i-…) ids"),
    ],
    ids=["duplicate", "pair-id", "disk-word", "dashed-id"],
)
def test_a_targets_value_no_trigger_can_match_is_a_config_error(
    fake: FakeEbs, settings: pytest.MonkeyPatch, targets: str, expected: str
) -> None:
    settings.setenv("FAILOVER_TARGETS", targets)
    result = handler(manual(), fc_context())
    assert result["data"]["outcome"] == "failed"
    assert result["data"]["error"] == {"code": "ConfigError", "variable": "FAILOVER_TARGETS"}
    assert expected in result["data"]["reason"]
    assert fake.calls == []


def test_forbidden_on_describe_names_describes_permission(fake: FakeEbs) -> None:
    fake.faults.error(DESCRIBE, 403, "Forbidden", times=5)
    target = _targets(handler(manual(), fc_context()))[DB_PAIR]
    assert "ebs:DescribeDiskReplicaPairs" in target["hint"]
    assert "FailoverDiskReplicaPair" not in target["hint"]


def test_a_timeout_within_the_margin_makes_no_call_and_says_so(
    fake: FakeEbs, settings: pytest.MonkeyPatch
) -> None:
    settings.setenv("FAILOVER_TIME_MARGIN", "10")
    result = handler(manual(), fc_context(timeout=10))
    assert result["data"]["outcome"] == "failed"
    assert result["data"]["error"] == {"code": "ConfigError", "variable": "FAILOVER_TIME_MARGIN"}
    assert result["data"]["targets"] == []  # no attempt to report: none was made
    assert fake.calls == []


# -- 7 (what to build). EventBridge's event-streaming batches --------------------------------------


def test_a_batch_of_cloud_events_is_judged_event_by_event(fake: FakeEbs) -> None:
    """EventBridge's event-streaming mode delivers an array: each event on its own identity and tokens."""
    db_event, scratch_event = (
        json.loads(disk_event(DB_DISK, APP_INSTANCE)),
        json.loads(disk_event("d-bp1scratch000001", APP_INSTANCE)),
    )
    batch = json.dumps([db_event, scratch_event]).encode()
    result = handler(batch, fc_context())
    data = result["data"]
    assert data["outcome"] == "failed_over"
    assert [(e["index"], e["identity"], e["outcome"]) for e in data["batch"]] == [
        (0, f"eb:acs.ebs:{db_event['id']}", "failed_over"),
        (1, f"eb:acs.ebs:{scratch_event['id']}", "ignored"),
    ]
    by_event = {(t["event_index"], t["pair_id"]): t for t in data["targets"]}
    assert by_event[(0, DB_PAIR)]["outcome"] == "failed_over"
    assert by_event[(1, APP_PAIR)]["outcome"] == "ignored"
    assert by_event[(0, DB_PAIR)]["client_token"] != by_event[(0, APP_PAIR)]["client_token"]
    assert len(fake.state_changes()) == 1
    again = handler(batch, fc_context(request_id="redelivery"))  # EventBridge pushes the batch again
    assert [e["outcome"] for e in again["data"]["batch"]] == ["already_failed_over", "ignored"]
    assert len(fake.state_changes()) == 1


@pytest.mark.parametrize(
    ("batch", "field", "expected"),
    [
        ([], "", "a non-empty batch"),
        ([{"specversion": "1.0"}, {"action": "failover"}], "1", "a CloudEvent"),
        ([{"specversion": "1.0"}] * 51, "", "at most 50 events in a batch"),
    ],
    ids=["empty", "not-a-cloud-event", "too-many"],
)
def test_a_batch_that_is_not_one_is_rejected_naming_the_element(
    fake: FakeEbs, batch: list[dict[str, Any]], field: str, expected: str
) -> None:
    result = handler(json.dumps(batch).encode(), fc_context())
    assert result["data"]["outcome"] == "rejected"
    assert result["data"]["error"] == {"code": "InvalidEvent", "field": field}
    assert expected in result["data"]["reason"]
    assert fake.calls == []


def test_a_batch_whose_every_event_is_rejected_is_rejected_naming_the_first_field(fake: FakeEbs) -> None:
    """Found by the random-JSON fuzzer: a batch of malformed CloudEvents had a rejected result without
    the error every rejected result carries."""
    batch = [{"specversion": "1.0", "source": "acs.ebs"}, {"specversion": "1.0"}]
    result = handler(json.dumps(batch).encode(), fc_context())
    data = result["data"]
    assert data["outcome"] == "rejected"
    assert data["error"]["code"] == "InvalidEvent"
    assert data["error"]["field"].startswith("0/")
    assert [e["error"]["field"].split("/")[0] for e in data["batch"]] == ["0", "1"]
    assert fake.calls == []
