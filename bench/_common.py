"""Shared pieces: the machine, statistics, seeds, sample events, the bare SDK side."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
FUNCTION = ROOT / "function"

PRIMARY = "cn-hangzhou"
STANDBY = "cn-shanghai"


@dataclass
class Figure:
    """One row of the table: a ratio (ours / bare SDK) against a goal."""

    name: str
    what: str
    ratios: list[float]
    goal: float | None  # ratio must be <= goal; None: informational
    ours: str = ""  # median absolute figure of our side, for context
    bare: str = ""  # and of the bare side
    extra_ok: bool = True  # an additional absolute condition (memory < 128 MB)
    extra_note: str = ""
    notes: list[str] = field(default_factory=list)
    cpu_ratios: list[float] = field(default_factory=list)  # the same rounds in thread CPU time

    @property
    def cpu_ratio(self) -> str:
        return f"{statistics.median(self.cpu_ratios):.2f}x" if self.cpu_ratios else "—"

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def verdict(self) -> str:
        if self.goal is None:
            return "info"
        return "PASS" if self.ratio <= self.goal and self.extra_ok else "MISS"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return (
        f"{os.cpu_count()} cores, {model}, Python {platform.python_version()} "
        f"({platform.python_implementation()}, {sys.platform}), load average at start {load}"
    )


class Clock:
    """Wall time (the figure) and this thread's CPU time (less sensitive to a busy machine) of a block.

    A full garbage collection runs first, outside the timing: otherwise a
    gen-2 collection of the objects the previous batch left behind lands on
    whichever side happens to run next.
    """

    wall: float = 0.0
    cpu: float = 0.0

    @classmethod
    def zero(cls) -> Clock:
        return cls()

    def __add__(self, other: Clock) -> Clock:
        total = Clock()
        total.wall, total.cpu = self.wall + other.wall, self.cpu + other.cpu
        return total

    def __enter__(self) -> Clock:
        import gc
        import time

        gc.collect()
        self._time = time
        self.wall, self.cpu = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.wall = self._time.perf_counter() - self.wall
        self.cpu = self._time.thread_time() - self.cpu


def spread(values: Sequence[float]) -> str:
    """min-max of the per-round ratios, to show how noisy the run was."""
    return f"{min(values):.2f}-{max(values):.2f}"


# -- the fake's state -------------------------------------------------------------------------


def pair_spec(pair_id: str, disk_id: str) -> dict[str, Any]:
    return {
        "ReplicaPairId": pair_id,
        "RegionId": PRIMARY,
        "DiskId": disk_id,
        "SourceZoneId": "cn-hangzhou-h",
        "DestinationRegionId": STANDBY,
        "DestinationZoneId": "cn-shanghai-e",
        "DestinationDiskId": disk_id + "s",
        "Status": "normal",
        "LastRecoverPoint": 1_700_000_000,
    }


def pair_id(side: str, n: int) -> str:
    """A distinct pair id per side and index: ``pair-cn-h00042`` (handler), ``pair-cn-b00042`` (bare)."""
    return f"pair-cn-{side}{n:05d}"


def disk_id(side: str, n: int) -> str:
    return f"d-bp1{side}disk{n:05d}"


def seed(side: str, count: int, start: int = 0) -> dict[str, Any]:
    return {"pairs": [pair_spec(pair_id(side, n), disk_id(side, n)) for n in range(start, start + count)]}


def warm_fake(batch: int, sides: str = "hb", latency: float = 0.0) -> Any:
    """A fresh fake holding ``batch`` pairs in ``normal`` for each side (``h`` ours, ``b`` bare, ...),
    answering each call after ``latency`` seconds."""
    from ebs_failover.testing import FakeEbs

    fake = FakeEbs(seed=7, latency=latency)
    for side in sides:
        fake.load_seed(seed(side, batch))
    return fake


def handler_env(targets: dict[str, Any], **extra: str) -> dict[str, str]:
    """The function's environment: live mode, the standby region, no notifications."""
    env = {
        "FAILOVER_MODE": "live",
        "FAILOVER_REGION": STANDBY,
        "FAILOVER_TARGETS": json.dumps(targets),
        "FAILOVER_MIN_LEVEL": "CRITICAL",
        "FAILOVER_TIME_MARGIN": "1",
        "FAILOVER_MAX_EVENT_AGE": "0",  # the storm replays sample-shaped alarms, whose times are past
    }
    env.update(extra)
    return env


# -- events ---------------------------------------------------------------------------------


def sample(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def manual_event(pair: str, key: str) -> bytes:
    body = json.loads(sample("manual-failover.json"))
    body["replicaPairId"] = pair
    body["idempotencyKey"] = key
    return json.dumps(body).encode()


def callback_event(disk: str, trans_id: str) -> bytes:
    """The CloudMonitor callback (form body) of ``cms-callback-alert.txt``, about ``disk``."""
    text = sample("cms-callback-alert.txt").decode()
    text = text.replace("instanceId=i-bp1demo0app01", f"instanceId={disk}")
    text = text.replace("4f1b2c3e-6a7d-11ef-9b2c-00163e0a1b2c", trans_id)
    return text.encode()


def eventbridge_event(disk: str, event_id: str) -> bytes:
    """The EventBridge ``acs.ebs`` DiskIOHang event of ``eventbridge-ebs-diskiohang.json``, about ``disk``."""
    body = json.loads(sample("eventbridge-ebs-diskiohang.json"))
    body["id"] = event_id
    body["subject"] = body["subject"].replace("d-bp1demo0primary01", disk)
    body["data"]["resourceId"] = disk
    body["data"]["eventId"] = "e-" + event_id[:18]
    body["data"]["extraAttributes"].pop("EcsInstanceId", None)
    return json.dumps(body).encode()


# -- the handler's side ---------------------------------------------------------------------


def log_sink() -> Any:
    """Where the benched handler's log lines go: ``/dev/null``, through a text file.

    As FC's stdout (a pipe to the runtime) takes them: every line encoded and written by a system
    call when the handler flushes it, and nothing piling up in memory (an in-memory buffer would
    hold 200 kB of lines by the end of a batch, in the caches the SDK calls need).
    """
    return open(os.devnull, "w", encoding="utf-8")


# -- the bare SDK side ----------------------------------------------------------------------


def bare_token(name: str) -> str:
    """A ClientToken for the bare side, of the form ours have: ``ebsfo-`` and 58 hex digits.

    The same calls means the same parameters, byte for byte the same size (the SDK signs and
    encodes the token, the fake parses it): only what it is derived from differs.
    """
    import hashlib

    return "ebsfo-" + hashlib.sha256(name.encode()).hexdigest()[:58]


class BareSdk:
    """The minimal careful use of ``alibabacloud_ebs20210730``: one client, Describe, Failover, then
    Describe until the pair is ``failovered`` (what an operator checks, and what the function reports)."""

    def __init__(self, *, endpoint: str | None = None, protocol: str | None = None) -> None:
        from alibabacloud_ebs20210730 import models
        from alibabacloud_ebs20210730.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        options: dict[str, Any] = {"region_id": STANDBY}
        if endpoint:
            options.update(endpoint=endpoint, protocol=protocol or "http")
        self.models = models
        self.client = Client(Config(access_key_id="testing", access_key_secret="testing", **options))

    def status(self, pair: str) -> str:
        request = self.models.DescribeDiskReplicaPairsRequest(region_id=STANDBY, pair_ids=pair, site="backup")
        return str(self.client.describe_disk_replica_pairs(request).body.replica_pairs[0].status)

    def failover(self, pair: str, token: str) -> str:
        request = self.models.FailoverDiskReplicaPairRequest(
            region_id=STANDBY, replica_pair_id=pair, client_token=token
        )
        return str(self.client.failover_disk_replica_pair(request).body.request_id)

    def fail_over(self, pair: str, token: str) -> str:
        """Describe, and fail over unless the pair is already failovered / failovering; then look again."""
        status = self.status(pair)
        if status in ("failovered", "failovering"):
            return "already_failed_over"
        self.failover(pair, token)
        if self.status(pair) != "failovered":  # the benches' fakes finish a failover at once
            raise AssertionError(f"bare: {pair} not failovered after the failover")
        return "failed_over"


@contextmanager
def handler_environment(env: Mapping[str, str], sink: Any) -> Iterator[None]:
    """The handler's settings ``env`` and its log into ``sink``, no proxies (the fakes are on loopback);
    the process's environment and the log restored after."""
    import io

    from ebs_failover import log
    from ebs_failover.testing import PROXY_VARIABLES

    saved = dict(os.environ)
    for proxy in PROXY_VARIABLES:
        os.environ.pop(proxy, None)
    os.environ.update(env)
    log.configure(stream=sink)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        log.configure(stream=io.StringIO())
