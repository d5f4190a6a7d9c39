"""The fake on a socket: ``ebs-failover fake-ebs serve``, its control API, seeds, and mock_ebs forms."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from alibabacloud_ebs20210730 import models as m
from alibabacloud_ebs20210730.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config

from ebs_failover.testing import FakeEbs, FakeEbsServer, MockEbs, mock_ebs

from .conftest import PRIMARY, STANDBY, Ebs, run_fresh_python

SEED: dict[str, Any] = {
    "pairs": [
        {
            "ReplicaPairId": "pair-cn-seeded1",
            "RegionId": PRIMARY,
            "DiskId": "d-seed1",
            "SourceZoneId": "cn-hangzhou-h",
            "DestinationRegionId": STANDBY,
            "DestinationZoneId": "cn-shanghai-e",
            "DestinationDiskId": "d-seed1-s",
            "Status": "normal",
            "LastRecoverPoint": 1_700_000_000,
        }
    ]
}


@pytest.fixture
def served() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``ebs-failover fake-ebs serve --port 0`` in a child process; yields its endpoint."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    process = subprocess.Popen(
        [sys.executable, "-m", "ebs_failover.cli", "fake-ebs", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://(127\.0\.0\.1:\d+)", line)
        assert found, line
        yield found.group(1), process
    finally:
        process.terminate()
        process.wait(timeout=10)


def _client(endpoint: str, region: str, secret: str = "testing") -> Client:
    return Client(
        Config(
            access_key_id="testing",
            access_key_secret=secret,
            region_id=region,
            endpoint=endpoint,
            protocol="http",
            read_timeout=5000,
        )
    )


def test_the_served_fake_end_to_end(served: tuple[str, subprocess.Popen[str]]) -> None:
    """The issue's walk-through, against the real command on a real port."""
    endpoint, _ = served
    primary, standby = _client(endpoint, PRIMARY), _client(endpoint, STANDBY)
    pair_id = primary.create_disk_replica_pair(
        m.CreateDiskReplicaPairRequest(
            region_id=PRIMARY,
            disk_id="d-a",
            source_zone_id="cn-hangzhou-h",
            destination_region_id=STANDBY,
            destination_zone_id="cn-shanghai-e",
            destination_disk_id="d-b",
        )
    ).body.replica_pair_id
    other_id = primary.create_disk_replica_pair(
        m.CreateDiskReplicaPairRequest(
            region_id=PRIMARY,
            disk_id="d-c",
            source_zone_id="cn-hangzhou-h",
            destination_region_id=STANDBY,
            destination_zone_id="cn-shanghai-e",
            destination_disk_id="d-d",
        )
    ).body.replica_pair_id
    primary.start_disk_replica_pair(m.StartDiskReplicaPairRequest(region_id=PRIMARY, replica_pair_id=pair_id))

    def failover(region: str, pid: str | None, token: str | None = "incident-1") -> object:
        client = standby if region == STANDBY else primary
        return client.failover_disk_replica_pair(
            m.FailoverDiskReplicaPairRequest(region_id=region, replica_pair_id=pid, client_token=token)
        )

    def refused(region: str, pid: str | None, token: str | None = None) -> ClientException:
        with pytest.raises(ClientException) as caught:
            failover(region, pid, token)
        return caught.value

    # Failover sent to the primary's region: 403.
    assert refused(PRIMARY, pair_id).status_code == 403
    first = failover(STANDBY, pair_id)
    again = failover(STANDBY, pair_id)
    assert again.body.request_id == first.body.request_id  # type: ignore[attr-defined]
    assert refused(STANDBY, other_id, "incident-1").code == "IdempotentParameterMismatch"
    status = (
        standby.describe_disk_replica_pairs(
            m.DescribeDiskReplicaPairsRequest(region_id=STANDBY, site="backup", pair_ids=pair_id)
        )
        .body.replica_pairs[0]
        .status
    )
    assert status in ("failovering", "failovered")
    wrong = _client(endpoint, STANDBY, secret="wrong")
    with pytest.raises(ClientException) as bad_secret:
        wrong.describe_disk_replica_pairs(m.DescribeDiskReplicaPairsRequest(region_id=STANDBY))
    assert bad_secret.value.code == "SignatureDoesNotMatch"
    unknown = refused(STANDBY, "pair-cn-unknown")
    assert (unknown.status_code, unknown.code) == (404, "NoSuchResource")
    missing = refused(STANDBY, None)
    assert (missing.status_code, missing.code) == (400, "MissingParameter")

    calls = requests.get(f"http://{endpoint}/_fake/calls", timeout=5).json()
    failovers = [c for c in calls if c["action"] == "FailoverDiskReplicaPair"]
    assert [c["status"] for c in failovers] == [403, 200, 200, 400, 404, 400]


def test_serve_loads_a_seed_file(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED))
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    process = subprocess.Popen(
        [sys.executable, "-m", "ebs_failover.cli", "fake-ebs", "serve", "--seed", str(seed)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        assert "pair-cn-seeded1" in process.stdout.readline()
        endpoint = re.search(r"127\.0\.0\.1:\d+", process.stdout.readline())
        assert endpoint
        pairs = requests.get(f"http://{endpoint.group(0)}/_fake/pairs", timeout=5).json()
        assert [(p["ReplicaPairId"], p["Status"], p["LastRecoverPoint"]) for p in pairs] == [
            ("pair-cn-seeded1", "normal", 1_700_000_000)
        ]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_with_a_bad_seed_fails_in_one_line(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text("{not json")
    done = subprocess.run(
        [sys.executable, "-m", "ebs_failover.cli", "fake-ebs", "serve", "--seed", str(seed)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("ebs-failover: cannot load seed")
    assert "Traceback" not in done.stderr


def test_control_api_seed_faults_transitions_reset() -> None:
    with FakeEbsServer() as server:
        base = f"{server.url}/_fake"
        assert requests.post(f"{base}/seed", json=SEED, timeout=5).json() == {
            "ReplicaPairIds": ["pair-cn-seeded1"]
        }
        fault = requests.post(
            f"{base}/faults", json={"kind": "error", "action": "FailoverDiskReplicaPair", "status": 503,
                                    "code": "ServiceUnavailable", "times": 2}, timeout=5
        ).json()  # fmt: skip
        assert (fault["status"], fault["times"]) == (503, 2)
        assert len(server.fake.faults) == 1
        ok = requests.post(
            f"{base}/transitions", json={"status": "failovering", "progression": "manual"}, timeout=5
        )
        assert ok.status_code == 200
        server.fake.backend().failover_pair(region=STANDBY, pair_id="pair-cn-seeded1")
        assert server.fake.pair("pair-cn-seeded1").status == "failovering"
        assert requests.post(f"{base}/advance", json={}, timeout=5).json() == {"advanced": 1}
        assert server.fake.pair("pair-cn-seeded1").status == "failovered"
        bad = requests.post(f"{base}/faults", json={"kind": "melt", "action": "X"}, timeout=5)
        assert bad.status_code == 400
        assert "kind" in bad.json()["error"]
        assert requests.get(f"{base}/nothing", timeout=5).status_code == 404
        requests.post(f"{base}/reset", timeout=5)
        assert requests.get(f"{base}/pairs", timeout=5).json() == []
        assert len(server.fake.faults) == 0


def test_seed_statuses_are_reached_through_operations() -> None:
    fake = FakeEbs()
    specs = []
    for n, status in enumerate(["created", "normal", "stopped", "failovered", "invalid", "deleted"]):
        spec = dict(
            SEED["pairs"][0], ReplicaPairId=f"pair-cn-s{n}", DiskId=f"d-s{n}", DestinationDiskId=f"d-t{n}"
        )
        spec["Status"] = status
        specs.append(spec)
    ids = fake.load_seed({"pairs": specs})
    assert [fake.pair(i).status for i in ids] == [
        "created",
        "normal",
        "stopped",
        "failovered",
        "invalid",
        "deleted",
    ]
    assert fake.operations == []  # the scene is not traffic
    with pytest.raises(ValueError, match="seed Status"):
        fake.load_seed(
            {"pairs": [dict(SEED["pairs"][0], ReplicaPairId="pair-cn-z", DiskId="d-z", Status="syncing")]}
        )


# -- mock_ebs as decorator and context manager ------------------------------------------


def test_mock_ebs_as_a_decorator_starts_fresh_each_call() -> None:
    mock = mock_ebs()
    seen: list[int] = []

    @mock
    def scenario() -> None:
        Ebs(mock.fake, None).create_pair()
        seen.append(len(mock.fake.backend().pairs))

    scenario()
    scenario()
    assert seen == [1, 1]


def test_mock_ebs_sets_and_restores_credentials_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "real-key")
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "real-token")
    with mock_ebs():
        assert os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"] == "testing"
        assert "ALIBABA_CLOUD_SECURITY_TOKEN" not in os.environ
    assert os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"] == "real-key"
    assert os.environ["ALIBABA_CLOUD_SECURITY_TOKEN"] == "real-token"


def _requests_alive() -> int:
    gc.collect()
    return sum(isinstance(o, requests.PreparedRequest) for o in gc.get_objects())


def test_a_long_run_keeps_no_request_history_outside_the_fakes_log() -> None:
    """responses records every request; mock_ebs's own mock keeps one, whatever the run's length."""
    with mock_ebs() as mock:
        client = Ebs(mock.fake, None).client(STANDBY)
        request = m.DescribeDiskReplicaPairsRequest(region_id=STANDBY, site="backup")
        client.describe_disk_replica_pairs(request)
        before = _requests_alive()
        for _ in range(30):
            client.describe_disk_replica_pairs(request)
        assert _requests_alive() - before < 5
        assert len(mock.fake.calls) == 31  # the fake's own log keeps them all


def test_an_external_mocks_history_stays_the_tests_business() -> None:
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as external:
        with mock_ebs(requests_mock=external) as mock:
            for _ in range(3):
                Ebs(mock.fake, None).client(STANDBY).describe_disk_replica_pairs(
                    m.DescribeDiskReplicaPairsRequest(region_id=STANDBY)
                )
        assert len(external.calls) == 3


def test_other_hosts_are_refused_not_sent(mocked: Ebs) -> None:
    with pytest.raises(requests.exceptions.ConnectionError, match="Connection refused by Responses"):
        requests.get("https://ecs.cn-hangzhou.aliyuncs.com/", timeout=1)


def test_vpc_endpoints_are_intercepted(mocked: Ebs) -> None:
    client = mocked.client(network="vpc")
    client.describe_disk_replica_pairs(m.DescribeDiskReplicaPairsRequest(region_id=STANDBY))
    assert mocked.fake.calls[-1].host == "ebs-vpc.cn-shanghai.aliyuncs.com"


def test_fixture_from_the_pytest_plugin(fake_ebs: MockEbs) -> None:
    Ebs(fake_ebs.fake, None).create_pair()
    assert [c.action for c in fake_ebs.calls] == ["CreateDiskReplicaPair", "StartDiskReplicaPair"]


def test_server_fixture_from_the_pytest_plugin(fake_ebs_server: FakeEbsServer) -> None:
    Ebs(fake_ebs_server.fake, fake_ebs_server.endpoint).create_pair()
    assert fake_ebs_server.fake.calls[-1].action == "StartDiskReplicaPair"


# -- the package's surface ---------------------------------------------------------------


def test_every_public_name_resolves_and_fccontext_alone_stays_light() -> None:
    """``FcContext`` (a console-style test, ``ebs-failover run``) does not load the fake's machinery."""
    code = (
        "import sys\n"
        "from ebs_failover.testing import FcContext\n"
        "FcContext(request_id='r')\n"
        "light = {'ebs_failover.testing', 'ebs_failover.testing.fc', 'ebs_failover.testing.fc.context'}\n"
        "heavy = sorted(m for m in sys.modules if m.startswith('ebs_failover.testing') and m not in light"
        " or m.split('.')[0] in ('responses', 'http'))\n"
        "assert not heavy, heavy\n"
        "import ebs_failover.testing as t\n"
        "assert sorted(t.__all__) == sorted(t._HOMES)\n"
        "assert set(t.__all__) <= set(dir(t))\n"
        "for name in t.__all__:\n"
        "    getattr(t, name)\n"
        "assert set(t.__all__) <= set(vars(t))  # resolved once, then a plain global\n"
        "from ebs_failover.testing import FakeEbs\n"
        "assert FakeEbs.__module__ == 'ebs_failover.testing.ebs.service'\n"
        "try:\n"
        "    t.no_such_name\n"
        "except AttributeError as error:\n"
        "    assert 'no_such_name' in str(error)\n"
        "else:\n"
        "    raise AssertionError('no AttributeError')\n"
    )
    run_fresh_python(code)
