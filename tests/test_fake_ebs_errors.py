"""Status rules, error answers and ClientToken idempotence, as the SDK sees them."""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_ebs20210730 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException

from ebs_failover.testing import FakeEbs

from .conftest import PRIMARY, STANDBY, Ebs

#: What each operation does, not how long EBS takes (the timing is test_real_ebs_time_and_zones.py's).
pytestmark = pytest.mark.usefixtures("failovers_settle_at_once")


def _refusal(call: Any) -> ClientException:
    with pytest.raises(ClientException) as caught:
        call()
    return caught.value


# -- FailoverDiskReplicaPair error table ---------------------------------------


def test_failover_of_an_unknown_pair_is_404(ebs: Ebs) -> None:
    error = _refusal(lambda: ebs.failover("pair-cn-doesnotexist"))
    assert (error.status_code, error.code) == (404, "NoSuchResource")
    assert error.data["Message"] == "The specified resource does not exist."
    assert set(error.data) >= {"RequestId", "HostId", "Code", "Message", "Recommend"}


def test_failover_sent_to_the_primary_region_is_403(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    error = _refusal(lambda: ebs.failover(pair_id, region=PRIMARY))
    assert (error.status_code, error.code) == (403, "OperationDenied.OperateNotAllowedForPrimary")
    assert ebs.status(pair_id) == "normal"


def test_failover_sent_to_an_unrelated_region_is_404(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    error = _refusal(lambda: ebs.failover(pair_id, region="cn-beijing"))
    assert error.code == "NoSuchResource"


@pytest.mark.parametrize(("missing", "request_fields"), [
    ("ReplicaPairId", {"region_id": STANDBY}),
    ("RegionId", {"replica_pair_id": "pair-cn-x"}),
])  # fmt: skip
def test_failover_without_a_required_parameter_is_400(
    ebs: Ebs, missing: str, request_fields: dict[str, str]
) -> None:
    client = ebs.client(STANDBY)
    error = _refusal(
        lambda: client.failover_disk_replica_pair(m.FailoverDiskReplicaPairRequest(**request_fields))
    )
    assert (error.status_code, error.code) == (400, "MissingParameter")
    assert f'"{missing}"' in error.data["Message"]


@pytest.mark.parametrize(("field", "value"), [
    ("region_id", "Shanghai!"),
    ("replica_pair_id", "pair cn with spaces"),
    ("client_token", "x" * 65),
    ("client_token", "токен"),
])  # fmt: skip
def test_malformed_parameters_are_400_invalid_parameter(ebs: Ebs, field: str, value: str) -> None:
    fields = {"region_id": STANDBY, "replica_pair_id": "pair-cn-x", field: value}
    error = _refusal(
        lambda: ebs.client(STANDBY).failover_disk_replica_pair(m.FailoverDiskReplicaPairRequest(**fields))
    )
    assert (error.status_code, error.code) == (400, "InvalidParameter")


def test_a_64_character_ascii_token_is_accepted(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    ebs.failover(pair_id, token="t" * 64)
    assert ebs.status(pair_id) == "failovered"


@pytest.mark.parametrize("status", ["invalid", "deleted"])
def test_failover_refused_in_invalid_and_deleted(status: str) -> None:
    fake = FakeEbs()
    pair_id = fake.load_seed({"pairs": [_seed_spec(status)]})[0]
    with pytest.raises(Exception, match=r"OperationDenied\.InvalidStatus"):
        fake.backend().failover_pair(region=STANDBY, pair_id=pair_id)


def _seed_spec(status: str) -> dict[str, str]:
    return {
        "RegionId": PRIMARY,
        "DiskId": "d-seed",
        "SourceZoneId": "cn-hangzhou-h",
        "DestinationRegionId": STANDBY,
        "DestinationZoneId": "cn-shanghai-e",
        "DestinationDiskId": "d-seed-s",
        "Status": status,
    }


def test_invalid_pair_over_the_wire(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    ebs.fake.backend().invalidate(pair_id, "DeviceRemoved")
    error = _refusal(lambda: ebs.failover(pair_id))
    assert (error.status_code, error.code) == (403, "OperationDenied.InvalidStatus")
    pair = ebs.describe(pair_id)
    assert (pair["Status"], pair["StatusMessage"]) == ("invalid", "DeviceRemoved")


def test_failover_of_a_stopped_pair_is_allowed(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    ebs.client(PRIMARY).stop_disk_replica_pair(
        m.StopDiskReplicaPairRequest(region_id=PRIMARY, replica_pair_id=pair_id)
    )
    ebs.failover(pair_id)
    assert ebs.status(pair_id) == "failovered"


def test_repeat_failover_is_accepted_without_a_state_change_by_default(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    ebs.failover(pair_id, token="a")
    ebs.failover(pair_id, token="b")
    assert ebs.status(pair_id) == "failovered"
    assert len(ebs.fake.state_changes()) == 1


def test_repeat_failover_can_be_denied(ebs: Ebs) -> None:
    ebs.fake.repeat_failover = "deny"
    ebs.fake.reset()  # backends pick the setting up when created
    ebs.fake.transitions.set("failovering")  # reset() brought the default back
    pair_id = ebs.create_pair()
    ebs.failover(pair_id, token="a")
    error = _refusal(lambda: ebs.failover(pair_id, token="b"))
    assert error.code == "OperationDenied.InvalidStatus"


@pytest.mark.parametrize(("operation", "status"), [
    ("start", "normal"),
    ("stop", "created"),
    ("reprotect", "normal"),
    ("delete", "normal"),
])  # fmt: skip
def test_operations_refused_in_the_wrong_status(ebs: Ebs, operation: str, status: str) -> None:
    pair_id = ebs.create_pair(start=status == "normal")
    assert ebs.status(pair_id) == status
    region = PRIMARY if operation in ("start", "stop", "delete") else STANDBY
    client = ebs.client(region)
    ids = {"region_id": region, "replica_pair_id": pair_id}
    requests = {
        "start": lambda: client.start_disk_replica_pair(m.StartDiskReplicaPairRequest(**ids)),
        "stop": lambda: client.stop_disk_replica_pair(m.StopDiskReplicaPairRequest(**ids)),
        "reprotect": lambda: client.reprotect_disk_replica_pair(m.ReprotectDiskReplicaPairRequest(**ids)),
        "delete": lambda: client.delete_disk_replica_pair(m.DeleteDiskReplicaPairRequest(**ids)),
    }
    error = _refusal(requests[operation])
    assert (error.status_code, error.code) == (403, "OperationDenied.InvalidStatus")
    assert ebs.status(pair_id) == status


def test_delete_from_the_standby_region_is_refused(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    ebs.failover(pair_id)
    error = _refusal(
        lambda: ebs.client(STANDBY).delete_disk_replica_pair(
            m.DeleteDiskReplicaPairRequest(region_id=STANDBY, replica_pair_id=pair_id)
        )
    )
    assert error.code == "OperationDenied.OperateNotAllowedForStandby"


@pytest.mark.parametrize(("field", "value"), [
    ("destination_region_id", PRIMARY),
    ("source_zone_id", "cn-beijing-a"),
    ("rpo", 60),
    ("bandwidth", 10240),
    ("charge_type", "FREE"),
])  # fmt: skip
def test_create_validates_its_parameters(ebs: Ebs, field: str, value: object) -> None:
    fields: dict[str, object] = {
        "region_id": PRIMARY,
        "disk_id": "d-x",
        "source_zone_id": "cn-hangzhou-h",
        "destination_region_id": STANDBY,
        "destination_zone_id": "cn-shanghai-e",
        "destination_disk_id": "d-y",
        field: value,
    }
    if field == "destination_region_id":  # the same region is allowed, the same zone is not
        fields["destination_zone_id"] = "cn-hangzhou-h"
    error = _refusal(
        lambda: ebs.client(PRIMARY).create_disk_replica_pair(m.CreateDiskReplicaPairRequest(**fields))
    )
    assert (error.status_code, error.code) == (400, "InvalidParameter")


def test_a_disk_is_in_one_pair_only(ebs: Ebs) -> None:
    ebs.create_pair("d-primary1")
    error = _refusal(lambda: ebs.create_pair("d-primary1"))
    assert error.code == "OperationDenied"


def test_an_unknown_action_is_404(ebs: Ebs) -> None:
    from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
    from darabonba.runtime import RuntimeOptions

    params = Params(
        action="DescribeEverything", version="2021-07-30", protocol="HTTPS", pathname="/", method="POST",
        auth_type="AK", style="RPC", req_body_type="formData", body_type="json",
    )  # fmt: skip
    error = _refusal(lambda: ebs.client(STANDBY).call_api(params, OpenApiRequest(query={}), RuntimeOptions()))
    assert (error.status_code, error.code) == (404, "InvalidApi.NotFound")  # as EBS's metadata documents


# -- ClientToken ----------------------------------------------------------------


def test_same_token_same_parameters_replays_the_first_answer(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    first = ebs.failover(pair_id, token="alarm-123")
    again = ebs.failover(pair_id, token="alarm-123")
    assert again.body.request_id == first.body.request_id
    assert len(ebs.fake.state_changes()) == 1
    calls = ebs.fake.calls_for("FailoverDiskReplicaPair")
    assert [c.replayed for c in calls] == [False, True]


def test_same_token_other_parameters_is_idempotent_parameter_mismatch(ebs: Ebs) -> None:
    first, second = ebs.create_pair("d-primary1"), ebs.create_pair("d-primary2")
    ebs.failover(first, token="alarm-123")
    error = _refusal(lambda: ebs.failover(second, token="alarm-123"))
    assert (error.status_code, error.code) == (400, "IdempotentParameterMismatch")
    assert ebs.status(second) == "normal"


def test_a_failed_call_does_not_use_its_token_up(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    ebs.fake.faults.error("FailoverDiskReplicaPair", 403, "Forbidden", "User is not authorized to operate.")
    assert _refusal(lambda: ebs.failover(pair_id, token="alarm-9")).code == "Forbidden"
    ebs.failover(pair_id, token="alarm-9")
    assert ebs.status(pair_id) == "failovered"


def test_tokens_are_case_sensitive(ebs: Ebs) -> None:
    first, second = ebs.create_pair("d-primary1"), ebs.create_pair("d-primary2")
    ebs.failover(first, token="Alarm")
    ebs.failover(second, token="alarm")
    assert len(ebs.fake.state_changes()) == 2
