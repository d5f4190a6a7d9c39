"""EBS as its metadata and Terraform show it, not as our picture of it (issue 26): a failover takes real
time, groups have no ``initial_syncing``, and a pair's two sites may be two zones of one region.

The fake first (its default, its timing per pair, its same-region pairs), then the real handler and SDK
against it: a slow start is never a failure, and a same-region pair is acted on only when FAILOVER_ZONE
says which zone is the standby one. Each test failed on the code before.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from alibabacloud_ebs20210730 import models as m
from Tea.exceptions import TeaException

from ebs_failover import config
from ebs_failover.errors import ConfigError
from ebs_failover.handler import handler
from ebs_failover.testing import FakeEbs

from .conftest import PRIMARY, STANDBY, Ebs, live_settings, mounted, seed_pair
from .helpers import DB_DISK, DB_PAIR, FAILOVER, demo_fake, fc_context

ZONE_G, ZONE_H = f"{PRIMARY}-g", f"{PRIMARY}-h"
LOCAL_PAIR, LOCAL_DISK = "pair-cn-local0zone1", "d-bp1local0zone1"


# -- the fake: real time ---------------------------------------------------------------------------


def test_by_default_a_failover_is_seen_failovering_before_failovered(ebs: Ebs) -> None:
    """Never "settled inside the Failover call": the first look after it shows failovering."""
    pair_id = ebs.create_pair()
    ebs.failover(pair_id)
    assert [ebs.status(pair_id), ebs.status(pair_id)] == ["failovering", "failovered"]


def test_a_pair_can_take_real_time_to_start_and_to_settle_while_another_does_not(ebs: Ebs) -> None:
    slow, quick = ebs.create_pair("d-primary1"), ebs.create_pair("d-primary2")
    ebs.fake.transitions.set("failovering", "timed", start_delay=0.3, settle=0.4, resource=slow)
    ebs.failover(slow)
    ebs.failover(quick)
    assert (ebs.status(slow), ebs.status(quick)) == ("normal", "failovering")  # accepted, not moving yet
    time.sleep(0.5)  # failovering from 0.3 s to 0.7 s after the call
    assert (ebs.status(slow), ebs.status(quick)) == ("failovering", "failovered")
    time.sleep(0.4)
    assert ebs.status(slow) == "failovered"


def test_a_group_starts_syncing_never_initial_syncing(mocked: Ebs) -> None:
    """DescribeDiskReplicaGroups documents no initial_syncing (its pairs have one)."""
    mocked.fake.transitions.set("syncing", "manual")
    mocked.fake.transitions.set("initial_syncing", "manual")
    backend = mocked.fake.backend()
    pair = backend.create_pair(
        region=PRIMARY,
        disk_id="d-g1",
        source_zone=f"{PRIMARY}-h",
        destination_region=STANDBY,
        destination_zone=f"{STANDBY}-e",
        destination_disk_id="d-g1-s",
    )
    group = backend.create_group(
        region=PRIMARY,
        source_zone=f"{PRIMARY}-h",
        destination_region=STANDBY,
        destination_zone=f"{STANDBY}-e",
    )
    backend.add_pair_to_group(region=PRIMARY, group_id=group.replica_group_id, pair_id=pair.replica_pair_id)
    backend.start_group(region=PRIMARY, group_id=group.replica_group_id)
    assert (group.status, pair.status) == ("syncing", "initial_syncing")


# -- the fake: two zones of one region ---------------------------------------------------------------


def _local_pair(ebs: Ebs, source_zone: str = ZONE_G, destination_zone: str = ZONE_H) -> str:
    response = ebs.client(PRIMARY).create_disk_replica_pair(
        m.CreateDiskReplicaPairRequest(
            region_id=PRIMARY,
            disk_id="d-local1",
            source_zone_id=source_zone,
            destination_region_id=PRIMARY,
            destination_zone_id=destination_zone,
            destination_disk_id="d-local1-s",
        )
    )
    return str(response.body.replica_pair_id)


def test_a_pair_across_two_zones_of_one_region_is_built_seen_from_both_sites_and_failed_over(
    ebs: Ebs,
) -> None:
    """Terraform's acceptance test builds a pair from cn-hangzhou-g to cn-hangzhou-h."""
    pair_id = _local_pair(ebs)
    ebs.client(PRIMARY).start_disk_replica_pair(
        m.StartDiskReplicaPairRequest(region_id=PRIMARY, replica_pair_id=pair_id)
    )
    for site in ("production", "backup"):
        seen = ebs.describe(pair_id, region=PRIMARY, site=site)
        assert (seen["Site"], seen["SourceZoneId"], seen["DestinationZoneId"]) == (site, ZONE_G, ZONE_H)
    ebs.failover(pair_id, region=PRIMARY)  # the standby's region is the primary's
    assert ebs.describe(pair_id, region=PRIMARY)["Status"] in ("failovering", "failovered")


def test_a_pair_whose_two_sites_are_one_zone_is_refused(ebs: Ebs) -> None:
    with pytest.raises(TeaException) as refused:
        _local_pair(ebs, ZONE_H, ZONE_H)
    assert refused.value.code == "InvalidParameter"
    assert "DestinationZoneId" in str(refused.value.message)


# -- the handler --------------------------------------------------------------------------------------


def _local_seed(source_zone: str = ZONE_G, destination_zone: str = ZONE_H) -> dict[str, Any]:
    seed = seed_pair(LOCAL_PAIR, LOCAL_DISK)
    seed.update(SourceZoneId=source_zone, DestinationRegionId=PRIMARY, DestinationZoneId=destination_zone)
    return seed


@pytest.fixture(params=["responses", "server"])
def how(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def local(how: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEbs]:
    """A same-region pair on the fake, the function deployed in that region and live for it."""
    fake = demo_fake(_local_seed())
    live_settings(monkeypatch, {LOCAL_DISK: LOCAL_PAIR})
    monkeypatch.setenv("FAILOVER_REGION", PRIMARY)
    with mounted(fake, how, monkeypatch):
        yield fake


def _manual(pair: str) -> bytes:
    body = {"action": "failover", "replicaPairId": pair, "reason": "zone h down", "idempotencyKey": "INC-9"}
    return json.dumps(body).encode()


def _target(result: dict[str, Any]) -> dict[str, Any]:
    (target,) = result["data"]["targets"]
    return dict(target)


def test_a_same_region_pair_without_failover_zone_is_refused_untouched(local: FakeEbs) -> None:
    target = _target(handler(_manual(LOCAL_PAIR), fc_context()))
    assert target["outcome"] == "refused"
    assert "FAILOVER_ZONE" in target["hint"]
    assert ZONE_H in target["hint"]
    assert local.calls_for(FAILOVER) == []


def test_a_same_region_pair_fails_over_toward_failover_zone(
    local: FakeEbs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAILOVER_ZONE", ZONE_H)
    target = _target(handler(_manual(LOCAL_PAIR), fc_context()))
    assert (target["outcome"], target["verified"]) == ("failed_over", True)
    assert local.pair(LOCAL_PAIR).status == "failovered"


def test_a_same_region_pair_reversed_by_a_fail_back_is_refused(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a fail-back the pair replicates h -> g: the region is the same, only the zones tell."""
    fake = demo_fake(_local_seed(ZONE_H, ZONE_G))
    live_settings(monkeypatch, {LOCAL_DISK: LOCAL_PAIR})
    monkeypatch.setenv("FAILOVER_REGION", PRIMARY)
    monkeypatch.setenv("FAILOVER_ZONE", ZONE_H)
    with mounted(fake, how, monkeypatch):
        target = _target(handler(_manual(LOCAL_PAIR), fc_context()))
    assert target["outcome"] == "refused"
    assert "fail-back" in target["hint"]
    assert ZONE_G in target["hint"]
    assert fake.calls_for(FAILOVER) == []


def test_a_slow_ebs_start_is_not_a_failure(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Accepted, then Describe still shows normal for a while (EBS is asynchronous): verified, not failed."""
    fake = demo_fake()
    fake.transitions.set("failovering", "timed", start_delay=0.4, settle=0.3, resource=DB_PAIR)
    live_settings(monkeypatch, {DB_DISK: DB_PAIR})
    monkeypatch.setenv("FAILOVER_VERIFY_SECONDS", "5")
    with mounted(fake, how, monkeypatch):
        target = _target(handler(_manual(DB_PAIR), fc_context()))
    assert (target["outcome"], target["verified"], target["status_after"]) == (
        "failed_over",
        True,
        "failovered",
    )
    assert target["failover_seconds"] >= 0.6


@pytest.mark.parametrize(
    ("zone", "region", "expected"),
    [
        ("cn-hangzhou h", None, "a zone id"),
        ("cn-beijing-a", "cn-hangzhou", "a zone of FAILOVER_REGION"),
        ("cn-hangzhou-finance-b", "cn-hangzhou", "a zone of FAILOVER_REGION"),
    ],
)
def test_failover_zone_must_be_a_zone_of_the_region(zone: str, region: str | None, expected: str) -> None:
    environ = {"FAILOVER_ZONE": zone, **({"FAILOVER_REGION": region} if region else {})}
    with pytest.raises(ConfigError) as bad:
        config.load(environ)
    assert bad.value.variable == "FAILOVER_ZONE"
    assert expected in bad.value.expected
    assert config.load({"FAILOVER_ZONE": "ap-southeast-1a", "FAILOVER_REGION": "ap-southeast-1"}).zone == (
        "ap-southeast-1a"
    )


def test_a_same_region_pair_is_drilled_toward_failover_zone(
    local: FakeEbs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drill checks the direction as a failover does, FAILOVER_ZONE included."""
    monkeypatch.setenv("FAILOVER_ZONE", ZONE_H)
    body = {"action": "drill", "replicaPairId": LOCAL_PAIR, "reason": "quarterly drill"}
    result = handler(json.dumps(body).encode(), fc_context())
    assert result["data"]["outcome"] == "drill_passed", _target(result)
    assert local.calls_for(FAILOVER) == []
