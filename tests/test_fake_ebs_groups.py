"""Replica groups in the fake: members follow their group, id lists, seeded groups (issue 15)."""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_ebs20210730 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException

from ebs_failover.testing import FakeEbs

from .conftest import PRIMARY, STANDBY, Ebs, seed_pair

#: What each operation does, not how long EBS takes (the timing is test_real_ebs_time_and_zones.py's).
pytestmark = pytest.mark.usefixtures("failovers_settle_at_once")

GROUP_FAILOVER = "FailoverDiskReplicaGroup"


def _refusal(call: Any) -> ClientException:
    with pytest.raises(ClientException) as caught:
        call()
    return caught.value


def _group(
    ebs: Ebs, count: int = 2, *, start: bool = True, disks: str = "d-primary"
) -> tuple[str, list[str]]:
    """A group of ``count`` new pairs (of disks ``<disks>0`` …), built through the API (and started)."""
    pairs = [ebs.create_pair(f"{disks}{n}", start=False) for n in range(count)]
    client = ebs.client(PRIMARY)
    group_id = str(
        client.create_disk_replica_group(
            m.CreateDiskReplicaGroupRequest(
                region_id=PRIMARY,
                source_zone_id=f"{PRIMARY}-h",
                destination_region_id=STANDBY,
                destination_zone_id=f"{STANDBY}-e",
                group_name="orders",
            )
        ).body.replica_group_id
    )
    for pair_id in pairs:
        client.add_disk_replica_pair(
            m.AddDiskReplicaPairRequest(region_id=PRIMARY, replica_group_id=group_id, replica_pair_id=pair_id)
        )
    if start:
        _start(ebs, group_id)
    return group_id, pairs


def _start(ebs: Ebs, group_id: str) -> None:
    ebs.client(PRIMARY).start_disk_replica_group(
        m.StartDiskReplicaGroupRequest(region_id=PRIMARY, replica_group_id=group_id)
    )


def _failover_group(ebs: Ebs, group_id: str, token: str | None = None) -> Any:
    return ebs.client(STANDBY).failover_disk_replica_group(
        m.FailoverDiskReplicaGroupRequest(region_id=STANDBY, replica_group_id=group_id, client_token=token)
    )


def _describe_group(ebs: Ebs, group_id: str) -> dict[str, Any]:
    groups = (
        ebs.client(STANDBY)
        .describe_disk_replica_groups(
            m.DescribeDiskReplicaGroupsRequest(region_id=STANDBY, site="backup", group_ids=group_id)
        )
        .body.to_map()["ReplicaGroups"]
    )
    assert len(groups) == 1, groups
    return dict(groups[0])


def _statuses(ebs: Ebs, pairs: list[str]) -> list[str]:
    """The members' statuses, in one DescribeDiskReplicaPairs call."""
    body = ebs.client(STANDBY).describe_disk_replica_pairs(
        m.DescribeDiskReplicaPairsRequest(region_id=STANDBY, site="backup", pair_ids=",".join(pairs))
    )
    found = {p.replica_pair_id: p.status for p in body.body.replica_pairs}
    return [found[p] for p in pairs]


# -- FailoverDiskReplicaGroup: the group and its members move together ---------------------------


def test_members_show_failovering_with_the_group_and_settle_in_the_same_advance(ebs: Ebs) -> None:
    group_id, pairs = _group(ebs, 3)
    ebs.fake.transitions.set("failovering", "manual")
    _failover_group(ebs, group_id)
    assert _describe_group(ebs, group_id)["Status"] == "failovering"
    assert _statuses(ebs, pairs) == ["failovering"] * 3
    assert ebs.fake.backend().advance(group_id) == 1
    assert _describe_group(ebs, group_id)["Status"] == "failovered"
    assert _statuses(ebs, pairs) == ["failovered"] * 3


def test_advancing_a_member_advances_its_group(ebs: Ebs) -> None:
    group_id, pairs = _group(ebs)
    ebs.fake.transitions.set("failovering", "manual")
    _failover_group(ebs, group_id)
    assert ebs.fake.backend().advance(pairs[1]) == 1
    assert ebs.fake.group(group_id).status == "failovered"
    assert [ebs.fake.pair(p).status for p in pairs] == ["failovered", "failovered"]


def test_with_describes_progression_members_and_group_never_disagree(ebs: Ebs) -> None:
    """One transition for the group: a describe of its members counts toward it once per call."""
    group_id, pairs = _group(ebs)
    ebs.fake.transitions.set("failovering", "describes", times=2)
    _failover_group(ebs, group_id)
    seen = []
    for _ in range(2):
        members = _statuses(ebs, pairs)  # both members in one answer: one describe of the transition
        assert members[0] == members[1]
        seen.append(members[0])
    seen.append(_describe_group(ebs, group_id)["Status"])  # the third describe shows the outcome
    assert seen == ["failovering", "failovering", "failovered"]
    assert _statuses(ebs, pairs) == ["failovered", "failovered"]


def test_a_failed_group_failover_fails_every_member_and_may_be_retried(ebs: Ebs) -> None:
    group_id, pairs = _group(ebs)
    ebs.fake.transitions.set("failovering", "manual", fail=True)
    _failover_group(ebs, group_id)
    assert _statuses(ebs, pairs) == ["failovering", "failovering"]
    ebs.fake.backend().advance(group_id)
    assert _describe_group(ebs, group_id)["Status"] == "failover_failed"
    assert _statuses(ebs, pairs) == ["failover_failed", "failover_failed"]
    ebs.fake.transitions.set("failovering")
    _failover_group(ebs, group_id)  # failover_failed is one of the documented starting states
    assert _statuses(ebs, pairs) == ["failovered", "failovered"]
    assert len(ebs.fake.state_changes(GROUP_FAILOVER)) == 2


def test_a_group_failover_is_one_operation_not_one_per_member(ebs: Ebs) -> None:
    group_id, pairs = _group(ebs, 3)
    _failover_group(ebs, group_id, token="incident-7")
    [operation] = ebs.fake.state_changes(GROUP_FAILOVER)
    assert (operation.resource_id, operation.status_after, operation.client_token) == (
        group_id,
        "failovering",
        "incident-7",
    )
    assert operation.members == tuple(pairs)
    assert ebs.fake.state_changes("FailoverDiskReplicaPair") == []
    assert ebs.fake.calls_for("FailoverDiskReplicaPair") == []
    assert len(ebs.fake.calls_for(GROUP_FAILOVER)) == 1


@pytest.mark.parametrize("settled", [False, True])
def test_failover_of_a_group_already_failing_over_or_failed_over_changes_nothing(
    ebs: Ebs, settled: bool
) -> None:
    group_id, pairs = _group(ebs)
    ebs.fake.transitions.set("failovering", "manual")
    _failover_group(ebs, group_id)
    if settled:
        ebs.fake.backend().advance(group_id)
    status = "failovered" if settled else "failovering"
    again = _failover_group(ebs, group_id)
    assert again.status_code == 200
    assert len(ebs.fake.state_changes(GROUP_FAILOVER)) == 1
    assert _describe_group(ebs, group_id)["Status"] == status
    assert _statuses(ebs, pairs) == [status, status]


def test_group_failover_refused_from_the_primary_region_and_for_an_empty_group(ebs: Ebs) -> None:
    group_id, pairs = _group(ebs)
    primary = _refusal(
        lambda: ebs.client(PRIMARY).failover_disk_replica_group(
            m.FailoverDiskReplicaGroupRequest(region_id=PRIMARY, replica_group_id=group_id)
        )
    )
    assert (primary.status_code, primary.code) == (403, "OperationDenied.OperateNotAllowedForPrimary")
    assert _statuses(ebs, pairs) == ["normal", "normal"]
    empty, _ = _group(ebs, 0, start=False, disks="d-unused")
    refused = _refusal(lambda: _failover_group(ebs, empty))
    assert refused.code == "OperationDenied.InvalidStatus"  # an empty group never started


def test_a_broken_member_conflicts_with_the_group_failover(ebs: Ebs) -> None:
    group_id, pairs = _group(ebs)
    ebs.fake.backend().invalidate(pairs[0])
    error = _refusal(lambda: _failover_group(ebs, group_id))
    assert (error.status_code, error.code) == (403, "OperationDenied.PairGroupStatusConflict")
    assert pairs[0] in error.data["Message"]
    assert ebs.fake.state_changes(GROUP_FAILOVER) == []
    assert _statuses(ebs, pairs) == ["invalid", "normal"]


# -- a member's own operations ----------------------------------------------------------------


def test_a_members_own_failover_is_403_operation_denied_and_changes_nothing(ebs: Ebs) -> None:
    group_id, pairs = _group(ebs)
    error = _refusal(lambda: ebs.failover(pairs[0], token="t-1"))
    assert (error.status_code, error.code) == (403, "OperationDenied")
    assert group_id in error.data["Message"]
    assert _statuses(ebs, pairs) == ["normal", "normal"]
    assert ebs.fake.state_changes() == []
    # The refusal did not use the token up: the pair's failover after leaving the group would run.
    assert ebs.fake.calls_for("FailoverDiskReplicaPair")[0].replayed is False


def test_a_members_own_start_and_stop_are_refused_too(ebs: Ebs) -> None:
    _, pairs = _group(ebs)
    client = ebs.client(PRIMARY)
    stop = _refusal(
        lambda: client.stop_disk_replica_pair(
            m.StopDiskReplicaPairRequest(region_id=PRIMARY, replica_pair_id=pairs[0])
        )
    )
    assert (stop.status_code, stop.code) == (403, "OperationDenied")
    created_group, not_started = _group(ebs, 1, start=False, disks="d-primary-other")
    start = _refusal(
        lambda: client.start_disk_replica_pair(
            m.StartDiskReplicaPairRequest(region_id=PRIMARY, replica_pair_id=not_started[0])
        )
    )
    assert (start.status_code, start.code) == (403, "OperationDenied")
    assert ebs.fake.group(created_group).status == "created"
    assert ebs.fake.pair(not_started[0]).status == "created"


def test_a_pair_joins_a_group_only_created_or_stopped(ebs: Ebs) -> None:
    group_id, _ = _group(ebs, 1, start=False)
    running = ebs.create_pair("d-primary9")
    error = _refusal(
        lambda: ebs.client(PRIMARY).add_disk_replica_pair(
            m.AddDiskReplicaPairRequest(region_id=PRIMARY, replica_group_id=group_id, replica_pair_id=running)
        )
    )
    assert (error.status_code, error.code) == (403, "OperationDenied.InvalidStatus")
    assert ebs.describe(running)["ReplicaGroupId"] == ""


# -- Start and Stop of a group carry the members too -------------------------------------------


def test_start_and_stop_of_a_group_move_the_members_with_it(ebs: Ebs) -> None:
    group_id, pairs = _group(ebs, start=False)
    ebs.fake.transitions.set("syncing", "manual")  # a group's first sync: it has no initial_syncing
    _start(ebs, group_id)
    assert _describe_group(ebs, group_id)["Status"] == "syncing"
    assert _statuses(ebs, pairs) == ["initial_syncing", "initial_syncing"]
    ebs.fake.backend().advance(group_id)
    group = _describe_group(ebs, group_id)
    assert group["Status"] == "normal"
    members = [ebs.describe(p) for p in pairs]
    assert [p["Status"] for p in members] == ["normal", "normal"]
    # One recovery point for the whole group: its disks are replicated at the same moment.
    assert {p["LastRecoverPoint"] for p in members} == {group["LastRecoverPoint"]}
    assert group["LastRecoverPoint"] > 0
    ebs.client(PRIMARY).stop_disk_replica_group(
        m.StopDiskReplicaGroupRequest(region_id=PRIMARY, replica_group_id=group_id)
    )
    assert _describe_group(ebs, group_id)["Status"] == "stopped"
    assert _statuses(ebs, pairs) == ["stopped", "stopped"]
    assert [op.action for op in ebs.fake.operations] == [
        "CreateDiskReplicaPair",
        "CreateDiskReplicaPair",
        "StartDiskReplicaGroup",
        "StopDiskReplicaGroup",
    ]


def test_replicate_sets_the_recovery_point_of_a_group_and_its_members(ebs: Ebs) -> None:
    group_id, pairs = _group(ebs)
    ebs.fake.backend().replicate(group_id, at=1_700_000_123)
    assert _describe_group(ebs, group_id)["LastRecoverPoint"] == 1_700_000_123
    assert [ebs.describe(p)["LastRecoverPoint"] for p in pairs] == [1_700_000_123] * 2


# -- id lists and paging ----------------------------------------------------------------------


def _pair_specs(count: int) -> list[dict[str, Any]]:
    return [seed_pair(f"pair-cn-list{n:03d}", f"d-list{n:03d}") for n in range(count)]


def test_a_describe_of_100_pair_ids_answers_them_all_in_one_page(ebs: Ebs) -> None:
    ids = ebs.fake.load_seed({"pairs": _pair_specs(100)})
    body = (
        ebs.client(STANDBY)
        .describe_disk_replica_pairs(
            m.DescribeDiskReplicaPairsRequest(
                region_id=STANDBY, site="backup", pair_ids=",".join(ids), max_results=100
            )
        )
        .body
    )
    assert [p.replica_pair_id for p in body.replica_pairs] == ids
    assert body.total_count == 100
    assert not body.next_token


def test_101_pair_ids_are_400_invalid_parameter_naming_pair_ids(ebs: Ebs) -> None:
    ids = ",".join(f"pair-cn-x{n:03d}" for n in range(101))
    error = _refusal(
        lambda: ebs.client(STANDBY).describe_disk_replica_pairs(
            m.DescribeDiskReplicaPairsRequest(region_id=STANDBY, pair_ids=ids)
        )
    )
    assert (error.status_code, error.code) == (400, "InvalidParameter")
    assert "PairIds" in error.data["Message"]


def test_101_group_ids_are_400_invalid_parameter_naming_group_ids(ebs: Ebs) -> None:
    ids = ",".join(f"pg-x{n:03d}" for n in range(101))
    error = _refusal(
        lambda: ebs.client(STANDBY).describe_disk_replica_groups(
            m.DescribeDiskReplicaGroupsRequest(region_id=STANDBY, group_ids=ids)
        )
    )
    assert (error.status_code, error.code) == (400, "InvalidParameter")
    assert "GroupIds" in error.data["Message"]


def test_max_results_above_500_is_invalid(ebs: Ebs) -> None:
    error = _refusal(
        lambda: ebs.client(STANDBY).describe_disk_replica_groups(
            m.DescribeDiskReplicaGroupsRequest(region_id=STANDBY, max_results=501)
        )
    )
    assert (error.status_code, error.code) == (400, "InvalidParameter")
    assert "MaxResults" in error.data["Message"]


def test_100_group_ids_page_with_next_token(ebs: Ebs) -> None:
    groups = [_group_spec(f"pg-list{n:03d}", [], "created") for n in range(100)]
    ebs.fake.load_seed({"groups": groups})
    ids = [g["ReplicaGroupId"] for g in groups]
    client = ebs.client(PRIMARY)
    seen: list[str] = []
    token = None
    for _ in range(3):
        body = client.describe_disk_replica_groups(
            m.DescribeDiskReplicaGroupsRequest(
                region_id=PRIMARY, group_ids=",".join(ids), max_results=60, next_token=token
            )
        ).body
        seen += [g.replica_group_id for g in body.replica_groups]
        token = body.next_token
        if not token:
            break
    assert seen == ids


# -- seeded groups ----------------------------------------------------------------------------


def _group_spec(group_id: str, pair_ids: list[str], status: str, **extra: Any) -> dict[str, Any]:
    return {
        "ReplicaGroupId": group_id,
        "RegionId": PRIMARY,
        "SourceZoneId": f"{PRIMARY}-h",
        "DestinationRegionId": STANDBY,
        "DestinationZoneId": f"{STANDBY}-e",
        "GroupName": "orders-cluster",
        "PairIds": pair_ids,
        "Status": status,
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "members"),
    [("created", "created"), ("normal", "normal"), ("stopped", "stopped"), ("failovered", "failovered")],
)
def test_seeded_groups_reach_their_status_through_the_api(ebs: Ebs, status: str, members: str) -> None:
    pairs = [seed_pair(f"pair-cn-m{n}", f"d-m{n}", "created") for n in range(2)]
    spec = _group_spec("pg-demo0orders", ["pair-cn-m0", "pair-cn-m1"], status, LastRecoverPoint=1_700_000_500)
    assert ebs.fake.load_seed({"pairs": pairs, "groups": [spec]}) == ["pair-cn-m0", "pair-cn-m1"]
    assert ebs.fake.operations == []  # the scene is not traffic
    group = _describe_group(ebs, "pg-demo0orders")
    assert (group["Status"], group["GroupName"], group["PairIds"]) == (
        status,
        "orders-cluster",
        ["pair-cn-m0", "pair-cn-m1"],
    )
    assert group["LastRecoverPoint"] == 1_700_000_500
    described = [ebs.describe(p) for p in ("pair-cn-m0", "pair-cn-m1")]
    assert [p["Status"] for p in described] == [members, members]
    assert {p["ReplicaGroupId"] for p in described} == {"pg-demo0orders"}
    assert {p["LastRecoverPoint"] for p in described} == {1_700_000_500}


def test_a_seeded_group_fails_over_through_the_api(ebs: Ebs) -> None:
    pairs = [seed_pair("pair-cn-m0", "d-m0", "stopped")]
    ebs.fake.load_seed({"pairs": pairs, "groups": [_group_spec("pg-demo0orders", ["pair-cn-m0"], "normal")]})
    _failover_group(ebs, "pg-demo0orders")
    assert _statuses(ebs, ["pair-cn-m0"]) == ["failovered"]
    assert len(ebs.fake.state_changes(GROUP_FAILOVER)) == 1


@pytest.mark.parametrize(
    ("seed", "named"),
    [
        ({"foo": 1}, "'foo'"),
        ({"pairs": {}}, "'pairs' must be a list"),
        ({"pairs": [dict(seed_pair("pair-cn-a", "d-a"), Colour="red")]}, "'Colour'"),
        ({"pairs": [{k: v for k, v in seed_pair("pair-cn-a", "d-a").items() if k != "DiskId"}]}, "'DiskId'"),
        ({"groups": [dict(_group_spec("pg-a", [], "created"), Pairs=[])]}, "'Pairs'"),
        ({"groups": [{k: v for k, v in _group_spec("pg-a", [], "created").items() if k != "RegionId"}]},
         "'RegionId'"),
        ({"groups": [_group_spec("pg-a", [], "syncing")]}, "seed Status"),
        ({"groups": [dict(_group_spec("pg-a", [], "created"), PairIds="pair-cn-a")]}, "PairIds"),
        ({"credentials": [{"access_key_id": "k"}]}, "'access_key_secret'"),
        ({"groups": [_group_spec("pg-a", ["pair-cn-nowhere"], "created")]}, "pair-cn-nowhere"),
        ({"pairs": [seed_pair("pair-cn-a", "d-a", "normal")], "groups": [_group_spec("pg-a", ["pair-cn-a"],
          "normal")]}, "OperationDenied.InvalidStatus"),
    ],
)  # fmt: skip
def test_a_bad_seed_is_a_value_error_naming_what_is_wrong(seed: dict[str, Any], named: str) -> None:
    fake = FakeEbs()
    with pytest.raises(ValueError, match="seed") as refused:
        fake.load_seed(seed)
    assert named in str(refused.value)


def test_a_bad_seed_is_refused_before_anything_is_seeded() -> None:
    fake = FakeEbs()
    with pytest.raises(ValueError, match="'Colour'"):
        fake.load_seed(
            {"pairs": [seed_pair("pair-cn-a", "d-a"), dict(seed_pair("pair-cn-b", "d-b"), Colour="red")]}
        )
    assert fake.backend().pairs == {}
