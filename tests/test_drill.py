"""Issue 18: drills that prove each target can fail over, without failing it over.

The real handler and SDK against the fake EBS (in process and on a 127.0.0.1 socket): a pair's and a
group's drill end to end, a drill kept, a failed drill and a failed clean-up, the refusals, a failover
arriving mid-drill, the weekly timer, redeliveries.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest

from ebs_failover.handler import handler, invoke
from ebs_failover.testing import FakeEbs, FcContext, FcCredentials, FcFunction, MockEbs
from ebs_failover.token import client_token, drill_token

from .conftest import PRIMARY, STANDBY, Ebs, live_settings, mounted, seed_pair

KEY, SECRET = "STS.fc-role", "Drill-Secret-Value-3c2b1a"
PAIR, DISK = "pair-cn-drill0db", "d-bp1drill0db"
GROUP = "pg-drill0orders"
MEMBERS = ("pair-cn-drill0a", "pair-cn-drill0b")
MEMBER_DISKS = ("d-bp1drill0a", "d-bp1drill0b")
NEVER = ("FailoverDiskReplicaPair", "FailoverDiskReplicaGroup", "StopDiskReplicaPair", "StopDiskReplicaGroup")
Mount = Callable[[FakeEbs], AbstractContextManager[Any]]


def _fake(pair_status: str = "normal") -> FakeEbs:
    fake = FakeEbs(seed=18)
    fake.register_credential(KEY, SECRET)
    group = {
        "ReplicaGroupId": GROUP,
        "RegionId": PRIMARY,
        "SourceZoneId": f"{PRIMARY}-h",
        "DestinationRegionId": STANDBY,
        "DestinationZoneId": f"{STANDBY}-e",
        "GroupName": "orders",
        "PairIds": list(MEMBERS),
        "Status": "normal",
        "LastRecoverPoint": 1_700_000_000,
    }
    pairs = [seed_pair(PAIR, DISK, pair_status)]
    pairs += [seed_pair(p, d, "created") for p, d in zip(MEMBERS, MEMBER_DISKS, strict=True)]
    fake.load_seed({"pairs": pairs, "groups": [group]})
    return fake


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    live_settings(monkeypatch, {DISK: PAIR, "i-bp1drill0orders": GROUP})
    return monkeypatch


@pytest.fixture(params=["responses", "server"])
def mount(request: pytest.FixtureRequest, settings: pytest.MonkeyPatch) -> Mount:
    return lambda fake: mounted(fake, request.param, settings)


def _context(request_id: str = "drill-req-1", timeout: int = 60) -> FcContext:
    return FcContext(
        request_id=request_id,
        function=FcFunction(timeout=timeout),
        credentials=FcCredentials(KEY, SECRET, ""),
        region=STANDBY,
    )


def _drill(**fields: Any) -> bytes:
    return json.dumps({"action": "drill", **fields}).encode()


def _targets(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(t.get("pair_id") or t.get("group_id")): t for t in result["data"]["targets"]}


def _actions(fake: FakeEbs) -> list[str]:
    return [call.action for call in fake.calls]


# -- end to end ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["dry-run", "live"])
def test_a_pair_drill_is_started_executed_verified_and_cleared_in_either_mode(
    mount: Mount, settings: pytest.MonkeyPatch, mode: str
) -> None:
    settings.setenv("FAILOVER_MODE", mode)
    fake = _fake()
    with mount(fake):
        result = handler(_drill(replicaPairId=PAIR, idempotencyKey="DR-1"), _context())
    data = result["data"]
    assert result["type"] == "ebs-failover.v1.drill_passed"
    assert data["outcome"] == "drill_passed"
    target = _targets(result)[PAIR]
    assert target["outcome"] == "drill_passed"
    assert target["client_token"] == drill_token("manual:DR-1", PAIR)
    assert target["client_token"] != client_token("manual:DR-1", PAIR)  # never a failover's token
    report = target["drill"]
    [started] = fake.drills.started()
    assert report["drill_id"] == started.drill_id
    assert report["status"] == "executed"
    assert report["recover_point"] == 1_700_000_000
    assert report["recover_point_age_seconds"] > 0
    assert report["seconds_to_executed"] >= 0
    assert [d["status"] for d in report["disks"]] == ["created"]  # as the look before the clean-up saw it
    assert report["cleared"] is True
    assert len(fake.drills.cleared()) == 1
    # A drill is never a failover and never stops replication; the pair is as it was.
    assert not [a for a in _actions(fake) if a in NEVER]
    assert fake.state_changes() == []
    assert fake.pair(PAIR).status == "normal"
    calls = _actions(fake)
    assert calls.index("StartPairDrill") < calls.index("ClearPairDrill")


def test_a_group_drill_clones_every_pair_and_clears_them(mount: Mount) -> None:
    fake = _fake()
    with mount(fake):
        result = handler(_drill(replicaGroupId=GROUP, idempotencyKey="DR-2"), _context())
    assert result["data"]["outcome"] == "drill_passed"
    report = _targets(result)[GROUP]["drill"]
    assert sorted(d["pair_id"] for d in report["disks"]) == sorted(MEMBERS)
    assert {d["status"] for d in report["disks"]} == {"created"}
    assert report["cleared"] is True
    assert "StartReplicaGroupDrill" in _actions(fake)
    assert "ClearReplicaGroupDrill" in _actions(fake)
    assert not [a for a in _actions(fake) if a in NEVER]
    assert fake.group(GROUP).status == "normal"


def test_keep_leaves_the_disks_and_says_how_to_clear_them(mount: Mount) -> None:
    fake = _fake()
    with mount(fake):
        result = handler(_drill(replicaPairId=PAIR, keep=True, idempotencyKey="DR-3"), _context())
    target = _targets(result)[PAIR]
    assert target["outcome"] == "drill_passed"
    assert target["drill"]["cleared"] is False
    assert target["drill"]["kept"] is True
    drill_id = target["drill"]["drill_id"]
    assert f"ClearPairDrill --RegionId {STANDBY} --PairId {PAIR} --DrillId {drill_id}" in target["hint"]
    assert "ClearPairDrill" not in _actions(fake)
    assert fake.drills.cleared() == []


def test_every_configured_target_without_a_name_and_the_cap(settings: pytest.MonkeyPatch) -> None:
    fake = _fake()
    with MockEbs(fake):
        result = handler(_drill(idempotencyKey="DR-4"), _context())
    assert set(_targets(result)) == {PAIR, GROUP}
    assert result["data"]["outcome"] == "drill_passed"
    settings.setenv("FAILOVER_MAX_TARGETS", "1")
    fake = _fake()
    with MockEbs(fake):
        capped = handler(_drill(idempotencyKey="DR-5"), _context())
    assert capped["data"]["outcome"] == "drill_failed"  # nothing proved: it pages
    assert "2 targets, over FAILOVER_MAX_TARGETS 1" in capped["data"]["reason"]
    assert fake.calls == []


# -- failures -------------------------------------------------------------------------------------


def test_a_drill_that_ends_execute_failed_is_drill_failed_at_error_level(
    mount: Mount, logs: io.StringIO
) -> None:
    fake = _fake()
    fake.drills.fail_next("execute_failed", message="InternalError: no capacity in the zone")
    with mount(fake):
        result = handler(_drill(replicaPairId=PAIR, idempotencyKey="DR-6"), _context())
    assert result["data"]["outcome"] == "drill_failed"
    assert result["type"] == "ebs-failover.v1.drill_failed"
    target = _targets(result)[PAIR]
    assert target["outcome"] == "drill_failed"
    assert "execute_failed" in target["hint"]
    assert "no capacity in the zone" in target["hint"]
    assert target["drill"]["cleared"] is True  # what a failed drill left is cleared too
    [line] = [json.loads(x) for x in logs.getvalue().splitlines() if '"message":"result"' in x]
    assert line["level"] == "ERROR"


def test_a_failed_clean_up_is_drill_failed_and_names_the_disk(mount: Mount) -> None:
    fake = _fake()
    fake.drills.fail_next("clear_failed")
    with mount(fake):
        result = handler(_drill(replicaPairId=PAIR, idempotencyKey="DR-7"), _context())
    target = _targets(result)[PAIR]
    assert result["data"]["outcome"] == target["outcome"] == "drill_failed"
    assert target["drill"]["cleared"] is False
    [disk] = target["drill"]["disks"]
    assert "clear_failed" in target["hint"]
    assert disk["disk_id"] in target["hint"]
    assert "ClearPairDrill" in target["hint"]


def _sdk(mock: MockEbs) -> Any:
    """The SDK as someone else uses it beside the function (the console, a script): through ``responses``,
    on the SDK's own regional endpoint."""
    return Ebs(mock.fake, None).client(STANDBY, key=KEY, secret=SECRET)


@pytest.mark.parametrize("status", ["failovered", "failovering"])
def test_a_drill_is_refused_on_a_target_failed_over_or_failing_over(
    settings: pytest.MonkeyPatch, status: str
) -> None:
    from alibabacloud_ebs20210730.models import FailoverDiskReplicaPairRequest

    fake = _fake(pair_status="failovered" if status == "failovered" else "normal")
    with MockEbs(fake) as mock:
        if status == "failovering":  # a failover in flight, that nothing completes
            fake.transitions.set("failovering", "manual")
            _sdk(mock).failover_disk_replica_pair(
                FailoverDiskReplicaPairRequest(region_id=STANDBY, replica_pair_id=PAIR, client_token="f-1")
            )
            assert fake.pair(PAIR).status == "failovering"
        result = handler(_drill(replicaPairId=PAIR, idempotencyKey="DR-8"), _context())
    target = _targets(result)[PAIR]
    assert target["outcome"] == "refused"
    assert status in target["hint"]
    assert result["data"]["outcome"] == "drill_failed"  # the target cannot be proved: a person must know
    assert "StartPairDrill" not in _actions(fake)


def test_a_member_pair_alone_is_not_drilled(settings: pytest.MonkeyPatch) -> None:
    live_settings(settings, {MEMBER_DISKS[0]: MEMBERS[0]})
    fake = _fake()
    with MockEbs(fake):
        result = handler(_drill(replicaPairId=MEMBERS[0], idempotencyKey="DR-9"), _context())
    target = _targets(result)[MEMBERS[0]]
    assert target["outcome"] == "refused"
    assert GROUP in target["hint"]
    assert "StartPairDrill" not in _actions(fake)


def test_an_unconfigured_target_is_never_drilled(settings: pytest.MonkeyPatch) -> None:
    fake = _fake()
    with MockEbs(fake):
        result = handler(_drill(replicaPairId="pair-cn-someoneelse", idempotencyKey="DR-10"), _context())
    assert result["data"]["outcome"] == "drill_failed"
    assert "is not a pair configured in FAILOVER_TARGETS" in result["data"]["reason"]
    assert fake.calls == []


# -- never in the way of a failover ---------------------------------------------------------------


def test_a_failover_arriving_mid_drill_proceeds_and_the_drill_clears_its_disks_after(
    settings: pytest.MonkeyPatch,
) -> None:
    """A drill is running (EBS still executing it) when the primary fails: the failover is made and
    verified at once (it never waits for, or looks at, a drill), and the drill's own run, when EBS ends
    the execution, verifies and clears its disks as usual."""
    fake = _fake()
    fake.transitions.set("executing", "manual")  # the drill executes until the test says so
    drilled: dict[str, Any] = {}
    failover = json.dumps(
        {"action": "failover", "replicaPairId": PAIR, "reason": "primary down", "idempotencyKey": "INC-1"}
    ).encode()
    with MockEbs(fake):
        worker = threading.Thread(
            target=lambda: drilled.update(
                result=handler(_drill(replicaPairId=PAIR, idempotencyKey="DR-M"), _context("drill-1"))
            )
        )
        worker.start()
        deadline = time.monotonic() + 10
        while not fake.drills.started() and time.monotonic() < deadline:
            time.sleep(0.05)
        [drill] = fake.drills.started()
        result = handler(failover, _context("incident-1"))
        assert result["data"]["outcome"] == "failed_over"
        assert _targets(result)[PAIR]["verified"] is True
        assert fake.pair(PAIR).status == "failovered"
        assert fake.drills.get(drill.drill_id).status == "executing"  # untouched by the failover
        fake.drills.advance(drill.drill_id)
        worker.join(30)
    assert not worker.is_alive()
    report = _targets(drilled["result"])[PAIR]["drill"]
    assert report["drill_id"] == drill.drill_id
    assert report["cleared"] is True
    assert [d["status"] for d in report["disks"]] == ["created"]


# -- the weekly timer, redeliveries ---------------------------------------------------------------


def _timer(payload: str = '{"action": "drill"}', when: str = "2026-12-07T19:00:00Z") -> bytes:
    return json.dumps({"triggerTime": when, "triggerName": "weekly-drill", "payload": payload}).encode()


def test_the_weekly_timer_drills_every_configured_target(settings: pytest.MonkeyPatch) -> None:
    fake = _fake()
    with MockEbs(fake):
        result = handler(_timer(), _context())
    data = result["data"]
    assert data["outcome"] == "drill_passed"
    assert data["trigger"]["kind"] == "timer"
    assert data["trigger"]["identity"] == "timer:weekly-drill@2026-12-07T19:00:00Z"
    assert set(_targets(result)) == {PAIR, GROUP}
    assert not [a for a in _actions(fake) if a in NEVER]


@pytest.mark.parametrize(
    "payload",
    [
        '{"action": "failover", "replicaPairId": "pair-cn-drill0db", "reason": "scheduled"}',
        "not json",
        '{"action": "drill", "idempotencyKey": "x"}',
    ],
)
def test_a_timer_never_fails_over_and_its_payload_is_checked(
    settings: pytest.MonkeyPatch, payload: str
) -> None:
    fake = _fake()
    with MockEbs(fake):
        result = handler(_timer(payload), _context())
    data = result["data"]
    assert data["outcome"] == "rejected"
    assert data["error"]["field"].startswith("payload")
    assert fake.calls == []


def test_a_redelivery_of_a_drill_ebs_forgot_is_no_second_drill_and_still_tells(
    settings: pytest.MonkeyPatch,
) -> None:
    """FC's retry (or a duplicate) of one timer firing: the same ClientToken names the same drill, which
    EBS no longer lists once cleared. No second drill; and since this delivery cannot know what the
    earlier one saw (its report may have reached nobody: that is why FC retries), it is drill_failed,
    for a person to look, never a silent ``ignored``."""
    fake = _fake()
    with MockEbs(fake):
        first = handler(_timer(), _context("delivery-1"))
        again = handler(_timer(), _context("delivery-2"))
    assert first["data"]["outcome"] == "drill_passed"
    assert again["data"]["outcome"] == "drill_failed"
    hint = _targets(again)[PAIR]["hint"]
    assert "did not list it" in hint
    assert "earlier delivery" in hint
    assert "ClearPairDrill" in hint
    assert len(fake.drills.started()) == 2  # one per target: the retry started nothing new


def test_a_redelivery_that_finds_its_drill_cleared_and_listed_says_what_it_saw(
    settings: pytest.MonkeyPatch,
) -> None:
    fake = _fake()
    fake.drills.keep_cleared = True  # an EBS that lists a cleared drill, its disks deleted
    with MockEbs(fake):
        handler(_drill(replicaPairId=PAIR, idempotencyKey="DR-13"), _context("delivery-1"))
        again = handler(_drill(replicaPairId=PAIR, idempotencyKey="DR-13"), _context("delivery-2"))
    target = _targets(again)[PAIR]
    assert target["outcome"] == "drill_passed"
    assert target["drill"]["cleared"] is True
    assert "an earlier delivery" in target["hint"]
    assert len(fake.drills.started()) == 1
    assert len(fake.drills.cleared()) == 1  # not cleared a second time


def test_a_redelivery_that_finds_the_clean_up_failed_reports_it_at_once(settings: pytest.MonkeyPatch) -> None:
    """It once looked for executed until the time ran out (clear_failed is where the drill stays)."""
    fake = _fake()
    fake.drills.fail_next("clear_failed")
    with MockEbs(fake):
        first = handler(_drill(replicaPairId=PAIR, idempotencyKey="DR-14"), _context("delivery-1"))
        calls = len(fake.calls)
        again = handler(_drill(replicaPairId=PAIR, idempotencyKey="DR-14"), _context("delivery-2"))
    assert _targets(first)[PAIR]["outcome"] == "drill_failed"
    target = _targets(again)[PAIR]
    assert target["outcome"] == "drill_failed"
    assert "clear_failed" in target["hint"]
    assert target["drill"]["disks"][0]["disk_id"] in target["hint"]
    assert len(fake.calls) - calls <= 4  # preflight, the start's replay, one look: no spinning


def test_a_redelivery_during_the_clean_up_follows_it_to_its_end(settings: pytest.MonkeyPatch) -> None:
    from ebs_failover.errors import TransientFailure

    fake = _fake()
    fake.drills.keep_cleared = True
    fake.transitions.set("clearing", "manual")
    with MockEbs(fake):
        with pytest.raises(TransientFailure, match="DrillClearing"):
            invoke(_drill(replicaPairId=PAIR, idempotencyKey="DR-15"), _context("delivery-1", timeout=4))
        [drill] = fake.drills.started()
        assert fake.drills.get(drill.drill_id).status == "clearing"
        fake.drills.advance(drill.drill_id)
        again = handler(_drill(replicaPairId=PAIR, idempotencyKey="DR-15"), _context("delivery-2"))
    target = _targets(again)[PAIR]
    assert target["outcome"] == "drill_passed"
    assert target["drill"]["cleared"] is True
    assert len(fake.drills.cleared()) == 1


def test_a_look_that_keeps_failing_mid_drill_asks_fc_to_retry_and_says_how_to_clear(
    settings: pytest.MonkeyPatch,
) -> None:
    from ebs_failover.errors import TransientFailure

    fake = _fake()
    fake.faults.error("DescribePairDrills", 503, "ServiceUnavailable", times=1000)
    with MockEbs(fake), pytest.raises(TransientFailure):
        invoke(_drill(replicaPairId=PAIR, idempotencyKey="DR-17"), _context(timeout=5))
    [drill] = fake.drills.started()
    assert fake.drills.get(drill.drill_id).status == "executing"  # left for the retry to follow


def test_a_drill_that_cannot_run_is_drill_failed(settings: pytest.MonkeyPatch) -> None:
    """Over the cap, or nothing configured: it proves nothing, so it pages (and the command exits 1)."""
    settings.setenv("FAILOVER_MAX_TARGETS", "1")
    fake = _fake()
    with MockEbs(fake):
        result = handler(_timer(), _context())
    assert result["data"]["outcome"] == "drill_failed"
    assert "over FAILOVER_MAX_TARGETS 1" in result["data"]["reason"]
    assert fake.calls == []


@pytest.mark.parametrize(
    "element",
    [
        {
            "triggerTime": "2026-12-07T19:00:00Z",
            "triggerName": "weekly-drill",
            "payload": '{"action": "drill"}',
        },
        {"action": "failover", "replicaPairId": PAIR, "reason": "smuggled", "idempotencyKey": "B-1"},
    ],
)
def test_a_batch_never_carries_a_timer_or_a_manual_request(
    settings: pytest.MonkeyPatch, element: dict[str, Any]
) -> None:
    """An event-streaming batch holds EventBridge events: a timer's drill (or a manual failover) dressed
    as a CloudEvent once reached the failover stage, and failed the pair over with the drill's token."""
    fake = _fake()
    batch = json.dumps([{"specversion": "1.0", **element}]).encode()
    with MockEbs(fake):
        result = handler(batch, _context())
    assert result["data"]["outcome"] == "rejected"
    assert not [a for a in _actions(fake) if a in NEVER]
    assert fake.pair(PAIR).status == "normal"


def test_drill_failed_that_reaches_nobody_raises_for_fcs_retry(settings: pytest.MonkeyPatch) -> None:
    settings.setenv("NOTIFY_TARGETS", "mns:nowhere")
    settings.setenv("MNS_ENDPOINT", "http://127.0.0.1:9")
    fake = _fake()
    fake.drills.fail_next("execute_failed")
    with MockEbs(fake), pytest.raises(Exception, match="mns:nowhere"):
        invoke(_drill(replicaPairId=PAIR, idempotencyKey="DR-11"), _context())


def test_a_drill_still_executing_when_time_runs_out_is_followed_by_fcs_retry(
    settings: pytest.MonkeyPatch,
) -> None:
    """A real drill takes minutes: the first delivery starts it and runs out of time (drill_failed, told,
    then raised for FC's retry); the retry gets the same DrillId back and follows it to the end."""
    from ebs_failover.errors import TransientFailure

    settings.setenv("FAILOVER_TIME_MARGIN", "1")
    fake = _fake()
    fake.transitions.set("executing", "manual")  # nothing completes it but advance()
    with MockEbs(fake):
        with pytest.raises(TransientFailure, match="DrillExecuting"):
            invoke(_drill(replicaPairId=PAIR, idempotencyKey="DR-12"), _context(timeout=4))
        [started] = fake.drills.started()
        assert fake.drills.get(started.drill_id).status == "executing"
        fake.drills.advance(started.drill_id)
        retried = handler(_drill(replicaPairId=PAIR, idempotencyKey="DR-12"), _context(timeout=60))
    assert retried["data"]["outcome"] == "drill_passed"
    assert _targets(retried)[PAIR]["drill"]["drill_id"] == started.drill_id
    assert len(fake.drills.started()) == 1  # the retry started no second drill


# -- what an independent review of the act/ move found (each failed on the code before its fix) --------------


def test_a_drill_still_runs_once_its_module_was_imported_by_name(settings: pytest.MonkeyPatch) -> None:
    """``act.drill`` (the function, imported on first use) once shared its name with the module
    ``act/drill.py``: once anything imported the module by name, every drill ended TypeError."""
    import importlib

    importlib.import_module("ebs_failover.act.drills")
    fake = _fake()
    with MockEbs(fake):
        result = handler(_drill(replicaPairId=PAIR, idempotencyKey="DR-shadow"), _context())
    assert _targets(result)[PAIR]["outcome"] == "drill_passed", _targets(result)[PAIR]


def test_a_drill_whose_preflight_ebs_refuses_is_explained_as_the_failovers_preflight(
    settings: pytest.MonkeyPatch,
) -> None:
    """The preflight is the failover's, so is what its failure means: a wrong region is ``failed`` with
    the FAILOVER_REGION hint, not a generic refusal."""
    fake = _fake()
    fake.faults.error(
        "DescribeDiskReplicaPairs", 403, "OperationDenied.OperateNotAllowedForPrimary", times=10
    )
    with MockEbs(fake):
        result = handler(_drill(replicaPairId=PAIR, idempotencyKey="DR-region"), _context())
    target = _targets(result)[PAIR]
    assert (target["outcome"], target["error_code"]) == (
        "failed",
        "OperationDenied.OperateNotAllowedForPrimary",
    )
    assert "FAILOVER_REGION must be the standby region" in target["hint"]
