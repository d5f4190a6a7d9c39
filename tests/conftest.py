"""Shared fixtures: the real EBS SDK pointed at the fake, in-process or over a socket."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_ebs20210730 import models as ebs_models
from alibabacloud_ebs20210730.client import Client
from alibabacloud_tea_openapi.utils_models import Config

from ebs_failover import log
from ebs_failover.act import verify
from ebs_failover.testing import PROXY_VARIABLES, FakeEbs, FakeEbsServer, MockEbs
from ebs_failover.testing.ebs.documented import take_violations

PRIMARY = "cn-hangzhou"
STANDBY = "cn-shanghai"
FUNCTION_DIR = Path(__file__).resolve().parent.parent / "function"


def seed_pair(pair_id: str, disk: str, status: str = "normal") -> dict[str, Any]:
    """A seed entry for one pair replicating ``disk`` from the primary region to the standby one."""
    return {
        "ReplicaPairId": pair_id,
        "RegionId": PRIMARY,
        "DiskId": disk,
        "SourceZoneId": f"{PRIMARY}-h",
        "DestinationRegionId": STANDBY,
        "DestinationZoneId": f"{STANDBY}-e",
        "DestinationDiskId": disk + "-s",
        "Status": status,
        "LastRecoverPoint": 1_700_000_000,
    }


def live_settings(monkeypatch: pytest.MonkeyPatch, targets: dict[str, Any]) -> None:
    """The function's environment for a live failover of ``targets`` from the standby region."""
    monkeypatch.setenv("FAILOVER_TARGETS", json.dumps(targets))
    monkeypatch.setenv("FAILOVER_REGION", STANDBY)
    monkeypatch.setenv("FAILOVER_MODE", "live")
    monkeypatch.setenv("FAILOVER_TIME_MARGIN", "1")
    monkeypatch.setenv("FAILOVER_MAX_EVENT_AGE", "315360000")  # the samples' alarms are from 2024


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """The function's log lines of the test, in a stream of their own."""
    stream = io.StringIO()
    log.configure(stream=stream)
    yield stream
    log.configure(stream=io.StringIO())


def run_fresh_python(code: str) -> None:
    """Run ``code`` in a new interpreter that sees only ``function/``; its failure fails the test."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(FUNCTION_DIR)},
        check=False,
    )
    assert result.returncode == 0, result.stderr


@dataclass
class Ebs:
    """The fake, and real SDK clients wired to it (through ``responses`` or a socket)."""

    fake: FakeEbs
    endpoint: str | None  # None: the SDK's own regional endpoint, intercepted by responses

    def client(
        self,
        region: str = STANDBY,
        *,
        key: str = "testing",
        secret: str = "testing",
        token: str | None = None,
        **config: Any,
    ) -> Client:
        options: dict[str, Any] = {"read_timeout": 2000, "connect_timeout": 2000, **config}
        if self.endpoint is not None:
            options.setdefault("endpoint", self.endpoint)
            options.setdefault("protocol", "http")
        return Client(
            Config(
                access_key_id=key,
                access_key_secret=secret,
                security_token=token,
                region_id=region,
                **options,
            )
        )

    # -- the scene, built through the API --------------------------------------

    def create_pair(self, disk: str = "d-primary1", *, start: bool = True, **extra: Any) -> str:
        client = self.client(PRIMARY)
        response = client.create_disk_replica_pair(
            ebs_models.CreateDiskReplicaPairRequest(
                region_id=PRIMARY,
                disk_id=disk,
                source_zone_id=f"{PRIMARY}-h",
                destination_region_id=STANDBY,
                destination_zone_id=f"{STANDBY}-e",
                destination_disk_id=disk.replace("primary", "standby") + "-s",
                **extra,
            )
        )
        pair_id = str(response.body.replica_pair_id)
        if start:
            client.start_disk_replica_pair(
                ebs_models.StartDiskReplicaPairRequest(region_id=PRIMARY, replica_pair_id=pair_id)
            )
        return pair_id

    def failover(self, pair_id: str, token: str | None = None, region: str = STANDBY) -> Any:
        return self.client(region).failover_disk_replica_pair(
            ebs_models.FailoverDiskReplicaPairRequest(
                region_id=region, replica_pair_id=pair_id, client_token=token
            )
        )

    def describe(self, pair_id: str, region: str = STANDBY, site: str = "backup") -> dict[str, Any]:
        response = self.client(region).describe_disk_replica_pairs(
            ebs_models.DescribeDiskReplicaPairsRequest(region_id=region, pair_ids=pair_id, site=site)
        )
        pairs = response.body.to_map()["ReplicaPairs"]
        assert len(pairs) == 1, pairs
        return dict(pairs[0])

    def status(self, pair_id: str) -> str:
        return str(self.describe(pair_id)["Status"])


@contextmanager
def mounted(fake: FakeEbs, how: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``fake`` where the handler reaches it: in process (``how`` ``responses``), or on a 127.0.0.1 socket
    (``server``: ``EBS_ENDPOINT`` and ``EBS_PROTOCOL`` point the function at it)."""
    if how == "responses":
        with MockEbs(fake) as mock:
            yield mock
        return
    with FakeEbsServer(fake) as server:
        monkeypatch.setenv("EBS_ENDPOINT", server.endpoint)
        monkeypatch.setenv("EBS_PROTOCOL", "http")
        yield server


_LOOPBACK = ("localhost", "127.0.0.1", "::1")


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches past this machine: a name lookup of any other host fails at once (instead of a
    test hanging on a real endpoint it should have reached through a fake)."""
    lookup = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in _LOOPBACK and not name.startswith("127."):
            raise socket.gaierror(socket.EAI_NONAME, f"tests reach loopback only, not {name}")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # darabonba hands environment proxies to requests explicitly; tests talk to loopback only.
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


#: The watch's own schedule, before ``_quick_looks`` shortens it.
REAL_VERIFY_WAITS = verify.VERIFY_WAITS


@pytest.fixture
def real_look_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    """For the tests of the schedule itself, or of how many looks a real one takes."""
    monkeypatch.setattr(verify, "VERIFY_WAITS", REAL_VERIFY_WAITS)


@pytest.fixture(autouse=True)
def _quick_looks(monkeypatch: pytest.MonkeyPatch) -> None:
    """EBS's failover is asynchronous, and the fake's too: by default a Failover is seen ``failovering`` in
    one look and ``failovered`` in the next. The watch's backoff between looks (0.5 s, then more) is cut
    to hundredths here, so that a suite of hundreds of failovers waits for EBS in small numbers; the
    tests of the schedule itself give the watch its times (``tests/unit/test_verify.py``)."""
    monkeypatch.setattr(verify, "VERIFY_WAITS", (0.01, 0.02, 0.05, 0.1))


@pytest.fixture(autouse=True)
def _fake_ebs_answers_as_documented() -> Iterator[None]:
    """Every error the fake EBS's models answered during the test is one EBS documents for that API
    (``ebs_failover.testing.ebs.documented``): a fake that answers otherwise fails the test that saw it."""
    take_violations()
    yield
    undocumented = take_violations()
    assert not undocumented, f"the fake EBS answered codes its API does not document: {undocumented}"


@pytest.fixture
def failovers_settle_at_once(request: pytest.FixtureRequest) -> None:
    """For the tests of what an operation does to the fake, not of how long EBS takes: a Failover
    completes inside the call (the fake's default shows it ``failovering`` in one look first)."""
    for name in ("ebs", "mocked"):
        if name in request.fixturenames:
            request.getfixturevalue(name).fake.transitions.set("failovering")


@pytest.fixture(params=["responses", "server"])
def ebs(request: pytest.FixtureRequest) -> Iterator[Ebs]:
    """The fake EBS under both mountings: every test using it runs twice."""
    fake = FakeEbs(seed=7)
    if request.param == "responses":
        with MockEbs(fake):
            yield Ebs(fake, None)
    else:
        with FakeEbsServer(fake) as server:
            yield Ebs(fake, server.endpoint)


@pytest.fixture
def mocked() -> Iterator[Ebs]:
    """Only the in-process mounting (for tests about ``responses`` itself)."""
    fake = FakeEbs(seed=7)
    with MockEbs(fake):
        yield Ebs(fake, None)
