"""What the incident ledger adds before the Failover call, at a real latency: ``python -m bench.ledger``.

Side by side in one run, alternating: the handler failing a 20-pair alarm over (live, in process, the real
SDKs) without a ledger and with ``LEDGER`` on a fake OSS served on 127.0.0.1; both fakes answer after a
latency like a region's (EBS 30 ms, OSS 15 ms per request). Measured: the time from the handler's entry to
the first Failover request reaching the fake EBS, and the ledger's requests before it. Each round is a new
incident (a new alarm identity) on fresh fakes. Prints the medians and their ratio; no timing is asserted.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "function"))

PAIRS, INSTANCE, STANDBY = 20, "i-bp1bench0ledger", "cn-shanghai"
EBS_LATENCY, OSS_LATENCY, ROUNDS = 0.030, 0.015, 9


def _alarm(n: int) -> bytes:
    millis = int(time.time() * 1000)
    fields = [
        "alertName=iops", "alertState=ALERT", "triggerLevel=CRITICAL", "metricName=DiskIOPS", "ruleId=rule-b",
        f"timestamp={millis}", f"dimensions={{userId=1,+instanceId={INSTANCE}}}", f"transId=bench-{n}",
    ]  # fmt: skip
    return "&".join(fields).encode()


def _seed() -> dict[str, Any]:
    pairs = []
    for n in range(PAIRS):
        pairs.append(
            {
                "ReplicaPairId": f"pair-cn-bench{n:03d}",
                "RegionId": "cn-hangzhou",
                "DiskId": f"d-bp1bench{n:03d}",
                "SourceZoneId": "cn-hangzhou-h",
                "DestinationRegionId": STANDBY,
                "DestinationZoneId": f"{STANDBY}-e",
                "DestinationDiskId": f"d-uf6bench{n:03d}",
                "Status": "normal",
                "LastRecoverPoint": int(time.time()) - 30,
            }
        )
    return {"pairs": pairs}


def _round(n: int, ledger: bool) -> tuple[float, list[str]]:
    from ebs_failover import log
    from ebs_failover.handler import handler
    from ebs_failover.testing import (
        FakeEbs,
        FakeOss,
        FakeOssServer,
        FcContext,
        FcCredentials,
        FcFunction,
        MockEbs,
    )

    fake = FakeEbs(latency=EBS_LATENCY)
    fake.register_credential("bench-key", "bench-secret")
    fake.load_seed(_seed())
    oss = FakeOss(buckets=["bench-ledger"], latency=OSS_LATENCY)
    oss.register_credential("bench-key", "bench-secret")
    context = FcContext(
        request_id=f"bench-{n}",
        function=FcFunction(timeout=60),
        credentials=FcCredentials("bench-key", "bench-secret", ""),
        region=STANDBY,
    )
    with FakeOssServer(oss) as server, MockEbs(fake):
        os.environ["OSS_ENDPOINT"] = server.endpoint
        if ledger:
            os.environ["LEDGER"] = "oss://bench-ledger"
        else:
            os.environ.pop("LEDGER", None)
        log.configure(stream=open(os.devnull, "w"))  # noqa: SIM115 - for the process's life
        started = time.time()
        result = handler(_alarm(n), context)
    assert {t["outcome"] for t in result["data"]["targets"]} == {"failed_over"}, json.dumps(result)[:400]
    first = min(call.at for call in fake.calls_for("FailoverDiskReplicaPair"))
    before = [call.operation for call in oss.calls if call.at < first]
    return first - started, before


def main() -> None:
    os.environ.update(
        FAILOVER_TARGETS=json.dumps({INSTANCE: [f"pair-cn-bench{n:03d}" for n in range(PAIRS)]}),
        FAILOVER_REGION=STANDBY,
        FAILOVER_MODE="live",
        FAILOVER_VERIFY_SECONDS="0",
        FAILOVER_MAX_TARGETS="50",
    )
    _round(-1, True)  # warm both paths up: imports, clients
    _round(-2, False)
    without: list[float] = []
    with_ledger: list[float] = []
    requests: list[str] = []
    for n in range(ROUNDS):
        for ledger in (False, True) if n % 2 == 0 else (True, False):
            seconds, before = _round(n * 2 + ledger, ledger)
            (with_ledger if ledger else without).append(seconds)
            if ledger:
                requests = before
    a, b = statistics.median(without), statistics.median(with_ledger)
    floor = len(requests) * OSS_LATENCY  # the ledger's requests, one after the other, at OSS's latency
    latency = f"EBS {EBS_LATENCY * 1000:.0f} ms, OSS {OSS_LATENCY * 1000:.0f} ms"
    print(f"to the first Failover, {PAIRS} pairs, {latency}:")
    print(f"  without a ledger: {a * 1000:.0f} ms (median of {ROUNDS})")
    print(f"  with the ledger:  {b * 1000:.0f} ms, +{(b - a) * 1000:.0f} ms, {b / a:.2f}x")
    print(f"  ledger requests before it: {len(requests)} ({', '.join(requests)})")
    print(f"  added vs their physical floor ({floor * 1000:.0f} ms): {(b - a) / floor:.2f}x")


if __name__ == "__main__":
    main()
