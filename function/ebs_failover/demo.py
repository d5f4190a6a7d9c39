"""``make demo``: the fake EBS driven by the real SDK, as the function will drive it.

Creates a pair in cn-hangzhou replicating to cn-shanghai, describes it from the
standby region, fails it over there with a ClientToken, delivers the same
token again, and prints every call the fake answered.
"""

from __future__ import annotations

import os


def main() -> int:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)
    from alibabacloud_ebs20210730 import models
    from alibabacloud_ebs20210730.client import Client
    from alibabacloud_tea_openapi.utils_models import Config

    from .testing import mock_ebs

    def client(region: str) -> Client:
        return Client(Config(access_key_id="testing", access_key_secret="testing", region_id=region))

    with mock_ebs() as ebs:
        primary, standby = client("cn-hangzhou"), client("cn-shanghai")
        pair_id = primary.create_disk_replica_pair(
            models.CreateDiskReplicaPairRequest(
                region_id="cn-hangzhou",
                disk_id="d-demo-primary",
                source_zone_id="cn-hangzhou-h",
                destination_region_id="cn-shanghai",
                destination_zone_id="cn-shanghai-e",
                destination_disk_id="d-demo-standby",
                pair_name="demo-db",
            )
        ).body.replica_pair_id
        primary.start_disk_replica_pair(
            models.StartDiskReplicaPairRequest(region_id="cn-hangzhou", replica_pair_id=pair_id)
        )
        for _ in range(2):  # a redelivered alarm carries the same token
            standby.failover_disk_replica_pair(
                models.FailoverDiskReplicaPairRequest(
                    region_id="cn-shanghai", replica_pair_id=pair_id, client_token="demo-alarm-1"
                )
            )
        for call in ebs.fake.calls:
            replay = " (replayed)" if call.replayed else ""
            print(f"{call.action:<26} {call.region_id:<12} {call.status}{replay}")
        pair = ebs.fake.pair(pair_id)
        print(f"{pair_id}: {pair.status}, state changes by failover: {len(ebs.fake.state_changes())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
