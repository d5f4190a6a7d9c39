"""Drills in the fake: StartPairDrill / StartReplicaGroupDrill, Describe…Drills, Clear…Drill (issue 18).

Every test drives the fake through the real SDK; the ``ebs`` fixture runs each twice, in process
(``responses``) and on the socket server.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from alibabacloud_ebs20210730 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException

from ebs_failover.testing import FakeEbs, FakeEbsServer

from .conftest import PRIMARY, STANDBY, Ebs, seed_pair

#: What each operation does, not how long EBS takes (the timing is test_real_ebs_time_and_zones.py's).
pytestmark = pytest.mark.usefixtures("failovers_settle_at_once")

PAIR = "pair-cn-drill0001"
GROUP = "pg-drill0group01"
RECOVER_POINT = 1_700_000_000


def _refusal(call: Any) -> ClientException:
    with pytest.raises(ClientException) as caught:
        call()
    return caught.value


def _seed(ebs: Ebs, status: str = "normal", **pair: Any) -> str:
    ebs.fake.load_seed({"pairs": [{**seed_pair(PAIR, "d-drill", status), **pair}]})
    return PAIR


def _seed_group(ebs: Ebs, status: str = "normal", count: int = 2, **group: Any) -> list[str]:
    pairs = [f"pair-cn-member{n}" for n in range(count)]
    ebs.fake.load_seed(
        {
            "pairs": [seed_pair(p, f"d-member{n}", "created") for n, p in enumerate(pairs)],
            "groups": [
                {
                    "ReplicaGroupId": GROUP,
                    "RegionId": PRIMARY,
                    "SourceZoneId": f"{PRIMARY}-h",
                    "DestinationRegionId": STANDBY,
                    "DestinationZoneId": f"{STANDBY}-e",
                    "PairIds": pairs,
                    "Status": status,
                    "LastRecoverPoint": RECOVER_POINT,
                    **group,
                }
            ],
        }
    )
    return pairs


def _start(ebs: Ebs, pair_id: str = PAIR, *, region: str = STANDBY, token: str | None = None) -> Any:
    return (
        ebs.client(region)
        .start_pair_drill(m.StartPairDrillRequest(region_id=region, pair_id=pair_id, client_token=token))
        .body
    )


def _start_group(ebs: Ebs, group_id: str = GROUP, *, region: str = STANDBY, token: str | None = None) -> Any:
    return (
        ebs.client(region)
        .start_replica_group_drill(
            m.StartReplicaGroupDrillRequest(region_id=region, group_id=group_id, client_token=token)
        )
        .body
    )


def _drills(ebs: Ebs, pair_id: str = PAIR, *, region: str = STANDBY, **query: Any) -> dict[str, Any]:
    body = ebs.client(region).describe_pair_drills(
        m.DescribePairDrillsRequest(region_id=region, pair_id=pair_id, **query)
    )
    return dict(body.body.to_map())


def _group_drills(ebs: Ebs, group_id: str = GROUP, *, region: str = STANDBY, **query: Any) -> dict[str, Any]:
    body = ebs.client(region).describe_replica_group_drills(
        m.DescribeReplicaGroupDrillsRequest(region_id=region, group_id=group_id, **query)
    )
    return dict(body.body.to_map())


def _drill(ebs: Ebs, drill_id: str, pair_id: str = PAIR) -> dict[str, Any]:
    drills = _drills(ebs, pair_id, drill_id=drill_id)["Drills"]
    assert len(drills) == 1, drills
    return dict(drills[0])


def _clear(ebs: Ebs, drill_id: str, pair_id: str = PAIR, *, region: str = STANDBY) -> Any:
    return ebs.client(region).clear_pair_drill(
        m.ClearPairDrillRequest(region_id=region, pair_id=pair_id, drill_id=drill_id)
    )


def _clear_group(ebs: Ebs, drill_id: str, group_id: str = GROUP, *, region: str = STANDBY) -> Any:
    return ebs.client(region).clear_replica_group_drill(
        m.ClearReplicaGroupDrillRequest(region_id=region, group_id=group_id, drill_id=drill_id)
    )


def _pair_status(ebs: Ebs, pair_id: str = PAIR) -> str:
    return ebs.status(pair_id)


# -- a pair's drill, start to end ----------------------------------------------------


def test_a_pair_drill_executes_on_the_second_look_and_restores_the_recovery_point(ebs: Ebs) -> None:
    _seed(ebs)
    ebs.fake.backend().clock = lambda: 1_800_000_000.0  # the drill's StartAt (signatures keep real time)
    started = _start(ebs)
    assert started.drill_id.startswith("drill-")
    assert started.request_id
    first, second = _drill(ebs, started.drill_id), _drill(ebs, started.drill_id)
    assert (first["Status"], first["DrillDiskStatus"]) == ("executing", "creating")
    assert (second["Status"], second["DrillDiskStatus"]) == ("executed", "created")
    assert second["DrillDiskId"].startswith("d-")
    assert second["DrillDiskId"] == first["DrillDiskId"]
    assert second["RecoverPoint"] == RECOVER_POINT  # the secondary's LastRecoverPoint at the start
    assert second["StartAt"] == 1_800_000_000
    assert second["StatusMessage"] == ""


def test_a_drill_never_changes_the_pair_nor_counts_as_a_state_change(ebs: Ebs) -> None:
    _seed(ebs)
    before = ebs.describe(PAIR)
    drill_id = _start(ebs).drill_id
    _drill(ebs, drill_id)
    _drill(ebs, drill_id)
    _clear(ebs, drill_id)
    _drills(ebs)
    after = ebs.describe(PAIR)
    assert after == before  # still normal, same disks, same recovery point: the primary untouched
    assert ebs.fake.state_changes() == []
    assert ebs.fake.operations == []  # no pair or group changed status
    assert [op.action for op in ebs.fake.drills.operations()] == ["StartPairDrill", "ClearPairDrill"]
    assert [op.drill_id for op in ebs.fake.drills.started()] == [drill_id]
    assert [(op.status_before, op.status_after) for op in ebs.fake.drills.cleared()] == [
        ("executed", "clearing")
    ]


def test_clearing_deletes_the_disk_and_then_the_drill_is_gone(ebs: Ebs) -> None:
    _seed(ebs)
    drill_id = _start(ebs).drill_id
    _drill(ebs, drill_id)
    _drill(ebs, drill_id)  # executed
    assert _clear(ebs, drill_id).body.request_id
    clearing = _drill(ebs, drill_id)
    assert (clearing["Status"], clearing["DrillDiskStatus"]) == ("clearing", "deleting")
    assert _drills(ebs, drill_id=drill_id)["Drills"] == []
    assert _drills(ebs)["TotalCount"] == 0
    assert ebs.fake.drills.get(drill_id).cleared
    assert _refusal(lambda: _clear(ebs, drill_id)).code == "NoSuchResource"  # gone


def test_keep_cleared_lists_a_cleared_drill_with_its_disk_deleted(ebs: Ebs) -> None:
    _seed(ebs)
    ebs.fake.drills.keep_cleared = True
    ebs.fake.transitions.set("executing", "immediate")
    ebs.fake.transitions.set("clearing", "immediate")
    drill_id = _start(ebs).drill_id
    _clear(ebs, drill_id)
    cleared = _drill(ebs, drill_id)
    assert (cleared["Status"], cleared["DrillDiskStatus"]) == ("executed", "deleted")
    _clear(ebs, drill_id)  # cleared already: accepted, nothing changes
    assert len(ebs.fake.drills.cleared()) == 1


# -- progression ---------------------------------------------------------------------


def test_executing_lasts_as_many_looks_as_the_transition_says(ebs: Ebs) -> None:
    _seed(ebs)
    ebs.fake.transitions.set("executing", "describes", times=3)
    drill_id = _start(ebs).drill_id
    assert [_drill(ebs, drill_id)["Status"] for _ in range(5)] == [
        "executing",
        "executing",
        "executing",
        "executed",
        "executed",
    ]


def test_immediate_and_manual_progressions(ebs: Ebs) -> None:
    _seed(ebs)
    ebs.fake.transitions.set("executing", "immediate")
    first = _start(ebs).drill_id
    assert _drill(ebs, first)["Status"] == "executed"
    ebs.fake.transitions.set("executing", "manual")
    ebs.fake.transitions.set("clearing", "manual")
    second = _start(ebs).drill_id
    assert [_drill(ebs, second)["Status"] for _ in range(3)] == ["executing"] * 3
    assert ebs.fake.drills.advance(second) == 1
    assert _drill(ebs, second)["Status"] == "executed"
    _clear(ebs, second)
    assert _drill(ebs, second)["Status"] == "clearing"
    assert ebs.fake.backend().advance(second) == 1  # a drill id advances the drill
    assert _drills(ebs, drill_id=second)["Drills"] == []
    assert ebs.fake.backend().advance() == 0


def test_only_a_describe_that_lists_the_drill_moves_it_on(ebs: Ebs) -> None:
    _seed(ebs)
    drill_id = _start(ebs).drill_id
    for _ in range(3):
        ebs.describe(PAIR)  # DescribeDiskReplicaPairs does not show drills
        _drills(ebs, drill_id="drill-another")
    assert _drill(ebs, drill_id)["Status"] == "executing"
    assert _drill(ebs, drill_id)["Status"] == "executed"


# -- injected failures -----------------------------------------------------------------


def test_the_next_drill_ends_execute_failed_with_its_message(ebs: Ebs) -> None:
    _seed(ebs)
    ebs.fake.drills.fail_next("execute_failed", "the secondary disk is being resized")
    drill_id = _start(ebs).drill_id
    assert _drill(ebs, drill_id)["Status"] == "executing"
    failed = _drill(ebs, drill_id)
    assert failed["Status"] == "execute_failed"
    assert failed["StatusMessage"] == "the secondary disk is being resized"
    assert failed["DrillDiskStatus"] == "InternalError"  # "can also display error code details"
    assert ebs.fake.drills.pending_failures() == 0
    # only the next one: the following drill executes
    after = _start(ebs).drill_id
    _drill(ebs, after, PAIR)
    assert _drill(ebs, after)["Status"] == "executed"
    # a failed drill can be cleared
    _clear(ebs, drill_id)
    _drill(ebs, drill_id)
    assert _drills(ebs, drill_id=drill_id)["Drills"] == []


def test_the_next_clear_ends_clear_failed_and_can_be_cleared_again(ebs: Ebs) -> None:
    _seed(ebs)
    ebs.fake.transitions.set("executing", "immediate")
    ebs.fake.drills.fail_next("clear_failed", disk_status="DeleteDiskFailed")
    drill_id = _start(ebs).drill_id
    _clear(ebs, drill_id)
    assert _drill(ebs, drill_id)["Status"] == "clearing"
    failed = _drill(ebs, drill_id)
    assert failed["Status"] == "clear_failed"
    assert failed["DrillDiskStatus"] == "DeleteDiskFailed"
    assert failed["StatusMessage"]
    _clear(ebs, drill_id)  # the retry clears it
    assert _drill(ebs, drill_id)["Status"] == "clearing"
    assert _drills(ebs, drill_id=drill_id)["Drills"] == []
    assert len(ebs.fake.drills.cleared()) == 2


def test_a_failure_can_be_narrowed_to_one_target_and_a_transition_can_fail_every_drill(ebs: Ebs) -> None:
    _seed(ebs)
    ebs.fake.load_seed({"pairs": [seed_pair("pair-cn-other", "d-other")]})
    ebs.fake.transitions.set("executing", "immediate")
    ebs.fake.drills.fail_next("execute_failed", target="pair-cn-other")
    ok = _start(ebs).drill_id
    assert _drill(ebs, ok)["Status"] == "executed"
    other = _start(ebs, "pair-cn-other").drill_id
    assert _drill(ebs, other, "pair-cn-other")["Status"] == "execute_failed"
    ebs.fake.transitions.set("executing", "immediate", fail=True)
    third = _start(ebs).drill_id
    assert _drill(ebs, third)["Status"] == "execute_failed"


def test_fail_next_checks_its_arguments() -> None:
    fake = FakeEbs()
    with pytest.raises(ValueError, match="execute_failed or clear_failed"):
        fake.drills.fail_next("failovering")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times"):
        fake.drills.fail_next("clear_failed", times=0)
    fake.drills.fail_next("clear_failed", times=2)
    fake.drills.keep_cleared = True
    fake.reset()
    assert fake.drills.pending_failures() == 0
    assert not fake.drills.keep_cleared


def test_the_fault_plan_strikes_drill_actions(ebs: Ebs) -> None:
    _seed(ebs)
    ebs.fake.faults.error("StartPairDrill", 403, "Forbidden.Action")  # the role lacks ebs:StartPairDrill
    error = _refusal(lambda: _start(ebs))
    assert (error.status_code, error.code) == (403, "Forbidden.Action")
    assert ebs.fake.drills.all() == []  # refused before the service saw it
    ebs.fake.faults.error("DescribePairDrills", 500, "InternalError")
    drill_id = _start(ebs).drill_id
    with pytest.raises(ServerException) as caught:
        _drills(ebs)
    assert caught.value.code == "InternalError"
    assert _drill(ebs, drill_id)["Status"] == "executing"  # the failed look did not count


# -- refusals ------------------------------------------------------------------------


def test_start_only_in_the_standby_region(ebs: Ebs) -> None:
    _seed(ebs)
    error = _refusal(lambda: _start(ebs, region=PRIMARY))
    assert (error.status_code, error.code) == (403, "OperationDenied.StartDrillShouldOnDestRegion")
    assert ebs.fake.drills.all() == []


def test_an_unknown_or_elsewhere_pair_is_not_found(ebs: Ebs) -> None:
    _seed(ebs)
    for call in (
        lambda: _start(ebs, "pair-cn-nosuch"),
        lambda: _start(ebs, region="cn-beijing"),
        lambda: _drills(ebs, "pair-cn-nosuch"),
        lambda: _clear(ebs, "drill-nosuch", "pair-cn-nosuch"),
    ):
        error = _refusal(call)
        assert (error.status_code, error.code) == (404, "NoSuchResource")


def test_the_ids_are_required(ebs: Ebs) -> None:
    _seed(ebs)
    for call in (
        lambda: _start(ebs, None),  # type: ignore[arg-type]
        lambda: _drills(ebs, None),  # type: ignore[arg-type]
        lambda: _clear(ebs, None),  # type: ignore[arg-type]
        lambda: _start_group(ebs, None),  # type: ignore[arg-type]
    ):
        error = _refusal(call)
        assert (error.status_code, error.code) == (400, "MissingParameter")
    assert "DrillId" in _refusal(lambda: _clear(ebs, None)).message  # type: ignore[arg-type]
    assert ebs.fake.drills.all() == []


@pytest.mark.parametrize("status", ["created", "stopped", "failovered", "invalid", "deleted"])
def test_a_pair_not_replicating_is_refused(ebs: Ebs, status: str) -> None:
    _seed(ebs, status)
    error = _refusal(lambda: _start(ebs))
    assert (error.status_code, error.code) == (403, "OperationDenied")
    assert status in error.message
    assert ebs.fake.drills.all() == []


@pytest.mark.parametrize("transient", ["failovering", "reprotecting"])
def test_a_pair_failing_over_or_reprotecting_is_refused(ebs: Ebs, transient: str) -> None:
    _seed(ebs)
    ebs.fake.transitions.set(transient, "manual")
    if transient == "failovering":
        ebs.failover(PAIR)
    else:
        ebs.fake.transitions.set("failovering", "immediate")
        ebs.failover(PAIR)
        ebs.client(STANDBY).reprotect_disk_replica_pair(
            m.ReprotectDiskReplicaPairRequest(region_id=STANDBY, replica_pair_id=PAIR)
        )
    assert _pair_status(ebs) == transient
    assert _refusal(lambda: _start(ebs)).code == "OperationDenied"


def test_a_pair_without_a_recovery_point_is_refused(ebs: Ebs) -> None:
    _seed(ebs, LastRecoverPoint=0)
    error = _refusal(lambda: _start(ebs))
    assert error.code == "OperationDenied.RecoverPointNotFound"
    assert "recovery point" in error.message


def test_a_member_pair_is_drilled_with_its_group(ebs: Ebs) -> None:
    pairs = _seed_group(ebs)
    error = _refusal(lambda: _start(ebs, pairs[0]))
    assert (error.status_code, error.code) == (403, "OperationDenied")
    assert GROUP in error.message


def test_one_executing_drill_per_pair(ebs: Ebs) -> None:
    _seed(ebs)
    first = _start(ebs).drill_id
    error = _refusal(lambda: _start(ebs))
    assert error.code == "OperationDenied"
    assert first in error.message
    _drill(ebs, first)
    _drill(ebs, first)  # executed
    second = _start(ebs).drill_id  # an executed drill does not stop the next one
    assert second != first
    assert [d["DrillId"] for d in _drills(ebs)["Drills"]] == [second, first]


def test_clear_refuses_an_executing_drill_and_answers_in_the_standby_region_only(ebs: Ebs) -> None:
    _seed(ebs)
    drill_id = _start(ebs).drill_id
    error = _refusal(lambda: _clear(ebs, drill_id))
    assert (error.status_code, error.code) == (403, "OperationDenied")
    _drill(ebs, drill_id)
    _drill(ebs, drill_id)
    error = _refusal(lambda: _clear(ebs, drill_id, region=PRIMARY))
    assert error.code == "OperationDenied"
    assert _refusal(lambda: _clear(ebs, "drill-nosuch")).code == "NoSuchResource"
    _clear(ebs, drill_id)
    _clear(ebs, drill_id)  # clearing already: accepted, no second clear
    assert len(ebs.fake.drills.cleared()) == 1


def test_a_failover_mid_drill_proceeds_and_the_drill_keeps_its_disk(ebs: Ebs) -> None:
    _seed(ebs)
    drill_id = _start(ebs).drill_id
    assert _drill(ebs, drill_id)["Status"] == "executing"
    ebs.failover(PAIR)
    assert _pair_status(ebs) == "failovered"
    assert len(ebs.fake.state_changes()) == 1  # the failover, and only it
    executed = _drill(ebs, drill_id)
    assert (executed["Status"], executed["DrillDiskStatus"]) == ("executed", "created")
    assert _refusal(lambda: _start(ebs)).code == "OperationDenied"  # failed over: no drill
    _clear(ebs, drill_id)  # the drill is cleared afterwards
    _drill(ebs, drill_id)
    assert _drills(ebs)["Drills"] == []
    assert len(ebs.fake.state_changes()) == 1


# -- ClientToken ---------------------------------------------------------------------


def test_the_same_token_answers_the_same_drill(ebs: Ebs) -> None:
    _seed(ebs)
    first = _start(ebs, token="drill-token-1")
    again = _start(ebs, token="drill-token-1")
    assert (again.drill_id, again.request_id) == (first.drill_id, first.request_id)
    assert len(ebs.fake.drills.all()) == 1
    assert len(ebs.fake.drills.started()) == 1
    assert [c.replayed for c in ebs.fake.calls_for("StartPairDrill")] == [False, True]


def test_the_same_token_with_other_parameters_is_a_mismatch(ebs: Ebs) -> None:
    _seed(ebs)
    ebs.fake.load_seed({"pairs": [seed_pair("pair-cn-other", "d-other")]})
    _start(ebs, token="drill-token-2")
    error = _refusal(lambda: _start(ebs, "pair-cn-other", token="drill-token-2"))
    assert (error.status_code, error.code) == (400, "IdempotentParameterMismatch")
    assert len(ebs.fake.drills.all()) == 1


def test_a_refused_start_does_not_use_its_token_up(ebs: Ebs) -> None:
    _seed(ebs, "stopped")
    assert _refusal(lambda: _start(ebs, token="drill-token-3")).code == "OperationDenied"
    ebs.client(PRIMARY).start_disk_replica_pair(
        m.StartDiskReplicaPairRequest(region_id=PRIMARY, replica_pair_id=PAIR)
    )
    assert _start(ebs, token="drill-token-3").drill_id.startswith("drill-")


# -- history, paging, regions --------------------------------------------------------


def test_describe_lists_newest_first_pages_and_answers_from_either_region(ebs: Ebs) -> None:
    _seed(ebs)
    ebs.fake.transitions.set("executing", "immediate")
    now = [1_800_000_000.0]
    ebs.fake.backend().clock = lambda: now[0]
    ids = []
    for _ in range(3):
        ids.append(_start(ebs).drill_id)
        now[0] += 60
    newest_first = ids[::-1]
    for region in (PRIMARY, STANDBY):
        assert [d["DrillId"] for d in _drills(ebs, region=region)["Drills"]] == newest_first
    page = _drills(ebs, max_results=2)
    assert [d["DrillId"] for d in page["Drills"]] == newest_first[:2]
    assert page["TotalCount"] == 3
    assert page["NextToken"]
    rest = _drills(ebs, max_results=2, next_token=page["NextToken"])
    assert [d["DrillId"] for d in rest["Drills"]] == newest_first[2:]
    assert rest["NextToken"] == ""
    by_number = _drills(ebs, page_number=2, page_size=1)
    assert [d["DrillId"] for d in by_number["Drills"]] == [newest_first[1]]
    assert (by_number["PageNumber"], by_number["PageSize"]) == (2, 1)
    assert [d["StartAt"] for d in _drills(ebs)["Drills"]] == [1_800_000_120, 1_800_000_060, 1_800_000_000]


def test_a_seeded_history_lists_past_drills(ebs: Ebs) -> None:
    _seed(
        ebs,
        Drills=[
            {"DrillId": "drill-old", "StartAt": 1_690_000_000, "RecoverPoint": 1_689_999_000},
            {
                "DrillId": "drill-failed",
                "StartAt": 1_695_000_000,
                "Status": "execute_failed",
                "StatusMessage": "quota",
            },
        ],
    )
    drills = _drills(ebs)["Drills"]
    assert [(d["DrillId"], d["Status"]) for d in drills] == [
        ("drill-failed", "execute_failed"),
        ("drill-old", "executed"),
    ]
    assert drills[1]["RecoverPoint"] == 1_689_999_000
    assert drills[1]["DrillDiskStatus"] == "created"
    assert drills[0]["StatusMessage"] == "quota"
    assert ebs.fake.drills.started() == []  # the scene is not traffic
    _clear(ebs, "drill-old")  # seeded drills are real ones
    assert _drill(ebs, "drill-old")["Status"] == "clearing"


@pytest.mark.parametrize(
    ("drills", "message"),
    [
        ({"StartAt": 1}, "Drills must be a list"),
        ([{"Status": "executed"}], "missing field 'StartAt'"),
        ([{"StartAt": "yesterday"}], "StartAt must be unix seconds"),
        ([{"StartAt": 1, "Status": "executing"}], "Status must be one of"),
        ([{"StartAt": 1, "Disk": "d-1"}], "unknown field 'Disk'"),
    ],
)
def test_a_seed_with_bad_drills_is_refused(drills: Any, message: str) -> None:
    fake = FakeEbs()
    with pytest.raises(ValueError, match=message):
        fake.load_seed({"pairs": [{**seed_pair(PAIR, "d-drill"), "Drills": drills}]})
    assert fake.drills.all() == []


# -- groups ----------------------------------------------------------------------------


def test_a_group_drill_makes_one_disk_per_member_and_clears_them(ebs: Ebs) -> None:
    pairs = _seed_group(ebs, count=3)
    before = [ebs.describe(p) for p in pairs]
    started = _start_group(ebs)
    assert started.drill_id.startswith("pg-drill-")
    executing = _group_drills(ebs)["Drills"]
    assert len(executing) == 1
    assert executing[0]["Status"] == "executing"
    assert [(p["PairId"], p["DrillDiskStatus"]) for p in executing[0]["PairsInfo"]] == [
        (p, "creating") for p in pairs
    ]
    executed = _group_drills(ebs, region=PRIMARY, drill_id=started.drill_id)["Drills"][0]
    assert executed["Status"] == "executed"
    assert executed["GroupId"] == GROUP
    assert executed["RecoverPoint"] == RECOVER_POINT
    assert {p["DrillDiskStatus"] for p in executed["PairsInfo"]} == {"created"}
    assert len({p["DrillDiskId"] for p in executed["PairsInfo"]}) == 3
    assert [ebs.describe(p) for p in pairs] == before  # members untouched
    assert _drills(ebs, pairs[0])["Drills"] == []  # a group's drill is not a pair's drill
    _clear_group(ebs, started.drill_id)
    clearing = _group_drills(ebs)["Drills"][0]
    assert clearing["Status"] == "clearing"
    assert {p["DrillDiskStatus"] for p in clearing["PairsInfo"]} == {"deleting"}
    assert _group_drills(ebs)["Drills"] == []
    assert [op.action for op in ebs.fake.drills.operations()] == [
        "StartReplicaGroupDrill",
        "ClearReplicaGroupDrill",
    ]
    assert ebs.fake.state_changes("FailoverDiskReplicaGroup") == []


def test_group_drill_refusals(ebs: Ebs) -> None:
    _seed_group(ebs)
    assert _refusal(lambda: _start_group(ebs, region=PRIMARY)).code == (
        "OperationDenied.StartDrillShouldOnDestRegion"
    )
    assert _refusal(lambda: _start_group(ebs, "pg-nosuch")).code == "NoSuchResource"
    assert _refusal(lambda: _group_drills(ebs, "pg-nosuch")).code == "NoSuchResource"
    drill_id = _start_group(ebs).drill_id
    assert _refusal(lambda: _start_group(ebs)).code == "OperationDenied"  # one at a time
    assert _refusal(lambda: _clear_group(ebs, drill_id)).code == "OperationDenied"
    assert _refusal(lambda: _clear_group(ebs, "pg-drill-nosuch")).code == "NoSuchResource"
    assert _refusal(lambda: _clear(ebs, drill_id, "pair-cn-member0")).code == "NoSuchResource"


@pytest.mark.parametrize("status", ["created", "stopped", "failovered"])
def test_a_group_not_replicating_is_refused(ebs: Ebs, status: str) -> None:
    _seed_group(ebs, status)
    error = _refusal(lambda: _start_group(ebs))
    assert (error.status_code, error.code) == (403, "OperationDenied")


def test_an_empty_group_is_refused(ebs: Ebs) -> None:
    _seed_group(ebs, "created", count=0)
    assert _refusal(lambda: _start_group(ebs)).code == "OperationDenied"


def test_a_group_drill_fails_and_a_group_failover_mid_drill_proceeds(ebs: Ebs) -> None:
    pairs = _seed_group(ebs)
    ebs.fake.drills.fail_next("execute_failed", "no capacity", target=GROUP)
    drill_id = _start_group(ebs).drill_id
    ebs.client(STANDBY).failover_disk_replica_group(
        m.FailoverDiskReplicaGroupRequest(region_id=STANDBY, replica_group_id=GROUP)
    )
    assert [ebs.status(p) for p in pairs] == ["failovered", "failovered"]
    assert len(ebs.fake.state_changes("FailoverDiskReplicaGroup")) == 1
    _group_drills(ebs)
    failed = _group_drills(ebs)["Drills"][0]
    assert (failed["DrillId"], failed["Status"], failed["StatusMessage"]) == (
        drill_id,
        "execute_failed",
        "no capacity",
    )
    assert _refusal(lambda: _start_group(ebs)).code == "OperationDenied"
    _clear_group(ebs, drill_id)
    _group_drills(ebs)
    assert _group_drills(ebs)["Drills"] == []


def test_a_group_seed_takes_a_drill_history(ebs: Ebs) -> None:
    pairs = _seed_group(ebs, Drills=[{"DrillId": "pg-drill-old", "StartAt": 1_690_000_000}])
    (drill,) = _group_drills(ebs)["Drills"]
    assert (drill["DrillId"], drill["Status"]) == ("pg-drill-old", "executed")
    assert [p["PairId"] for p in drill["PairsInfo"]] == pairs


# -- the socket server's control API ---------------------------------------------------


def _control(server: FakeEbsServer, verb: str, payload: dict[str, Any] | None = None) -> Any:
    url = f"http://{server.endpoint}/_fake/{verb}"
    data = None if payload is None else json.dumps(payload).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5) as answer:
        return json.loads(answer.read())


def test_the_server_injects_drill_failures_and_lists_drills() -> None:
    fake = FakeEbs(seed=3)
    with FakeEbsServer(fake) as server:
        ebs = Ebs(fake, server.endpoint)
        _control(server, "seed", {"pairs": [seed_pair(PAIR, "d-drill")]})
        assert _control(server, "drills", {"fail": "execute_failed", "message": "boom"}) == {
            "ok": True,
            "pending_failures": 1,
        }
        _control(server, "transitions", {"status": "executing", "progression": "manual"})
        drill_id = _start(ebs).drill_id
        assert _drill(ebs, drill_id)["Status"] == "executing"
        assert _control(server, "advance", {"resource_id": drill_id}) == {"advanced": 1}
        listed = _control(server, "drills")
        assert [(d["DrillId"], d["Status"], d["StatusMessage"], d["Target"]) for d in listed] == [
            (drill_id, "execute_failed", "boom", PAIR)
        ]
        assert listed[0]["RegionId"] == STANDBY
        _control(server, "drills", {"keep_cleared": True})
        assert fake.drills.keep_cleared
