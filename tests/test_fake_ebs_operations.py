"""Every operation of the fake, driven by the real SDK under both mountings."""

from __future__ import annotations

import pytest
from alibabacloud_ebs20210730 import models as m

from ebs_failover.testing import PAIR_STATUSES

from .conftest import PRIMARY, STANDBY, Ebs

#: What each operation does, not how long EBS takes (the timing is test_real_ebs_time_and_zones.py's).
pytestmark = pytest.mark.usefixtures("failovers_settle_at_once")


def test_the_19_documented_statuses() -> None:
    assert len(PAIR_STATUSES) == 19
    assert "synchronizing" not in PAIR_STATUSES


def test_create_answers_ids_and_the_pair_is_created(ebs: Ebs) -> None:
    response = ebs.client(PRIMARY).create_disk_replica_pair(
        m.CreateDiskReplicaPairRequest(
            region_id=PRIMARY,
            disk_id="d-a",
            source_zone_id="cn-hangzhou-h",
            destination_region_id=STANDBY,
            destination_zone_id="cn-shanghai-e",
            destination_disk_id="d-b",
            pair_name="orders-db",
            tag=[m.CreateDiskReplicaPairRequestTag(key="env", value="prod")],
        )
    )
    assert response.status_code == 200
    pair_id = response.body.replica_pair_id
    assert pair_id.startswith("pair-cn-")
    assert response.body.order_id
    pair = ebs.describe(pair_id, PRIMARY, "production")
    assert pair["Status"] == "created"
    assert pair["PairName"] == "orders-db"
    assert pair["Tags"] == [{"TagKey": "env", "TagValue": "prod"}]
    assert pair["RPO"] == 900
    assert (pair["SourceRegion"], pair["DestinationRegion"]) == (PRIMARY, STANDBY)
    assert (pair["PrimaryRegion"], pair["StandbyRegion"]) == (PRIMARY, STANDBY)
    assert pair["Site"] == "production"


def test_describe_carries_every_documented_field(ebs: Ebs) -> None:
    pair = ebs.describe(ebs.create_pair())
    documented = {
        "ReplicaPairId", "PairName", "Description", "Status", "StatusMessage",
        "SourceDiskId", "SourceRegion", "SourceZoneId",
        "DestinationDiskId", "DestinationRegion", "DestinationZoneId",
        "PrimaryRegion", "PrimaryZone", "StandbyRegion", "StandbyZone",
        "RPO", "Bandwidth", "LastRecoverPoint", "CreateTime", "ExpiredTime", "ChargeType",
        "ReplicaGroupId", "ReplicaGroupName", "ResourceGroupId", "Site", "EnableRtc", "Tags",
    }  # fmt: skip
    assert set(pair) == documented


def test_a_pair_is_visible_from_both_regions_by_site(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    assert ebs.describe(pair_id, PRIMARY, "production")["Site"] == "production"
    assert ebs.describe(pair_id, STANDBY, "backup")["Site"] == "backup"
    # Site defaults to production: the standby region lists nothing without Site=backup.
    default = ebs.client(STANDBY).describe_disk_replica_pairs(
        m.DescribeDiskReplicaPairsRequest(region_id=STANDBY, pair_ids=pair_id)
    )
    assert default.body.replica_pairs == []
    elsewhere = ebs.client("cn-beijing").describe_disk_replica_pairs(
        m.DescribeDiskReplicaPairsRequest(region_id="cn-beijing", site="backup")
    )
    assert elsewhere.body.replica_pairs == []


def test_start_syncs_and_sets_a_recover_point(ebs: Ebs) -> None:
    pair_id = ebs.create_pair(start=False)
    ebs.client(PRIMARY).start_disk_replica_pair(
        m.StartDiskReplicaPairRequest(region_id=PRIMARY, replica_pair_id=pair_id)
    )
    pair = ebs.describe(pair_id)
    assert pair["Status"] == "normal"
    assert pair["LastRecoverPoint"] > 0


def test_one_shot_start_ends_stopped(ebs: Ebs) -> None:
    pair_id = ebs.create_pair(start=False)
    ebs.client(STANDBY).start_disk_replica_pair(
        m.StartDiskReplicaPairRequest(region_id=STANDBY, replica_pair_id=pair_id, one_shot=True)
    )
    assert ebs.status(pair_id) == "stopped"


def test_stop_from_either_region(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    ebs.client(STANDBY).stop_disk_replica_pair(
        m.StopDiskReplicaPairRequest(region_id=STANDBY, replica_pair_id=pair_id)
    )
    assert ebs.status(pair_id) == "stopped"


def test_failover_in_the_standby_region(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    response = ebs.failover(pair_id, token="incident-1")
    assert response.status_code == 200
    assert response.body.request_id
    assert ebs.status(pair_id) == "failovered"
    assert len(ebs.fake.state_changes()) == 1


def test_reprotect_reverses_and_start_resyncs(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    ebs.failover(pair_id)
    ebs.client(STANDBY).reprotect_disk_replica_pair(
        m.ReprotectDiskReplicaPairRequest(region_id=STANDBY, replica_pair_id=pair_id)
    )
    # The old standby is now the source: the pair is production in cn-shanghai.
    pair = ebs.describe(pair_id, STANDBY, "production")
    assert pair["Status"] == "stopped"
    assert (pair["SourceRegion"], pair["DestinationRegion"]) == (STANDBY, PRIMARY)
    assert (pair["PrimaryRegion"], pair["StandbyRegion"]) == (PRIMARY, STANDBY)
    ebs.client(STANDBY).start_disk_replica_pair(
        m.StartDiskReplicaPairRequest(region_id=STANDBY, replica_pair_id=pair_id)
    )
    assert ebs.describe(pair_id, STANDBY, "production")["Status"] == "normal"


def test_reprotect_without_reverse_keeps_the_direction(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    ebs.failover(pair_id)
    ebs.client(STANDBY).reprotect_disk_replica_pair(
        m.ReprotectDiskReplicaPairRequest(region_id=STANDBY, replica_pair_id=pair_id, reverse_replicate=False)
    )
    assert ebs.describe(pair_id, PRIMARY, "production")["Status"] == "stopped"


def test_delete_in_the_primary_region(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    ebs.failover(pair_id)
    ebs.client(PRIMARY).delete_disk_replica_pair(
        m.DeleteDiskReplicaPairRequest(region_id=PRIMARY, replica_pair_id=pair_id)
    )
    assert ebs.status(pair_id) == "deleted"


def test_describe_filters(ebs: Ebs) -> None:
    first = ebs.create_pair("d-primary1", pair_name="alpha-db")
    second = ebs.create_pair("d-primary2", pair_name="beta-db")
    client = ebs.client(PRIMARY)

    def ids(**filters: object) -> list[str]:
        body = client.describe_disk_replica_pairs(
            m.DescribeDiskReplicaPairsRequest(region_id=PRIMARY, **filters)
        ).body
        return [p.replica_pair_id for p in body.replica_pairs]

    assert ids() == [first, second]
    assert ids(pair_ids=f"{second},pair-cn-unknown") == [second]
    assert ids(name="alpha") == [first]
    assert ids(replica_group_id="-") == [first, second]
    assert ids(replica_group_id="pg-none") == []


def test_paging_with_next_token(ebs: Ebs) -> None:
    created = [ebs.create_pair(f"d-primary{n}", start=False) for n in range(5)]
    client = ebs.client(PRIMARY)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        body = client.describe_disk_replica_pairs(
            m.DescribeDiskReplicaPairsRequest(region_id=PRIMARY, max_results=2, next_token=token)
        ).body
        pages += 1
        assert body.total_count == 5
        seen += [p.replica_pair_id for p in body.replica_pairs]
        token = body.next_token
        if not token:
            break
    assert seen == created
    assert pages == 3


def test_paging_with_page_number(ebs: Ebs) -> None:
    created = [ebs.create_pair(f"d-primary{n}", start=False) for n in range(3)]
    body = (
        ebs.client(PRIMARY)
        .describe_disk_replica_pairs(
            m.DescribeDiskReplicaPairsRequest(region_id=PRIMARY, page_number=2, page_size=2)
        )
        .body
    )
    assert [p.replica_pair_id for p in body.replica_pairs] == created[2:]
    assert (body.page_number, body.page_size, body.total_count) == (2, 2, 3)


def _group(ebs: Ebs, *pair_ids: str) -> str:
    client = ebs.client(PRIMARY)
    group_id = client.create_disk_replica_group(
        m.CreateDiskReplicaGroupRequest(
            region_id=PRIMARY,
            source_zone_id="cn-hangzhou-h",
            destination_region_id=STANDBY,
            destination_zone_id="cn-shanghai-e",
            group_name="orders",
        )
    ).body.replica_group_id
    for pair_id in pair_ids:
        client.add_disk_replica_pair(
            m.AddDiskReplicaPairRequest(region_id=PRIMARY, replica_group_id=group_id, replica_pair_id=pair_id)
        )
    return str(group_id)


def test_groups_fail_over_every_pair(ebs: Ebs) -> None:
    pairs = [ebs.create_pair(f"d-primary{n}", start=False) for n in range(2)]
    group_id = _group(ebs, *pairs)
    ebs.client(PRIMARY).start_disk_replica_group(
        m.StartDiskReplicaGroupRequest(region_id=PRIMARY, replica_group_id=group_id)
    )
    ebs.client(STANDBY).failover_disk_replica_group(
        m.FailoverDiskReplicaGroupRequest(region_id=STANDBY, replica_group_id=group_id, client_token="g-1")
    )
    groups = (
        ebs.client(STANDBY)
        .describe_disk_replica_groups(
            m.DescribeDiskReplicaGroupsRequest(region_id=STANDBY, site="backup", group_ids=group_id)
        )
        .body.to_map()["ReplicaGroups"]
    )
    assert groups[0]["Status"] == "failovered"
    assert groups[0]["PairIds"] == pairs
    assert groups[0]["PairNumber"] == 2
    assert groups[0]["SourceRegionId"] == PRIMARY
    assert [ebs.status(p) for p in pairs] == ["failovered", "failovered"]
    assert ebs.describe(pairs[0])["ReplicaGroupId"] == group_id


def test_group_failover_refused_before_first_sync(ebs: Ebs) -> None:
    from alibabacloud_tea_openapi.exceptions import ClientException

    group_id = _group(ebs, ebs.create_pair(start=False))
    with pytest.raises(ClientException) as refused:
        ebs.client(STANDBY).failover_disk_replica_group(
            m.FailoverDiskReplicaGroupRequest(region_id=STANDBY, replica_group_id=group_id)
        )
    assert refused.value.code == "OperationDenied.InvalidStatus"
