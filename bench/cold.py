"""Figures 2 and 3, cold: a fresh process to its result, and its peak RSS.

The bench starts a ``FakeEbsServer`` on 127.0.0.1; every child talks to it
(``EBS_ENDPOINT``/``EBS_PROTOCOL=http`` for the handler, ``endpoint``/
``protocol`` for the bare client), with the proxy variables removed. Per
round the five children run in a rotated order: the bare-SDK script (import
the SDK, build the client, Describe, Failover), the bare SDK's start alone
(import the SDK and build the client, no call), and the handler for a manual
failover, an ignored event (a recovery) and a rejected event (a bad action).
The events that make no call are compared with both bare children: the
script making the calls (the goal's basis) and the SDK's start alone (the
stricter reading: what merely importing the SDK and building a client
costs).
The parent times ``Popen`` to ``os.wait4`` with ``time.perf_counter`` and
takes the child's ``ru_maxrss`` (KiB on Linux) from ``wait4``.

That parent is a small launcher process, not the bench itself: on Linux a
child's ``ru_maxrss`` includes the memory of the process it was forked from
(``exec`` keeps the old ``mm``'s high-water mark, and ``subprocess`` uses
``vfork``), so children spawned from the bench (hundreds of MB after the
warm and storm runs) would all report the bench's own size. The launcher
imports nothing but the standard library (``python -S``, ~10 MB).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ebs_failover.testing import PROXY_VARIABLES

from ._common import (
    FUNCTION,
    ROOT,
    STANDBY,
    Figure,
    bare_token,
    disk_id,
    handler_env,
    manual_event,
    pair_id,
    sample,
    seed,
)

GOAL_FAILOVER = 1.15
GOAL_NO_CALL = 0.5
GOAL_MEMORY = 1.15
MEMORY_LIMIT_MB = 128

_CTX = (
    "import types; N = types.SimpleNamespace; "
    "CTX = N(request_id='cold-1', region={region!r}, account_id='1234567890123456', "
    "function=N(name='ebs-failover', memory=256, timeout=60), "
    "credentials=N(access_key_id='testing', access_key_secret='testing', security_token=''))"
)

HANDLER_CHILD = (
    "import sys; sys.path.insert(0, {function!r}); import index; " + _CTX + "; "
    "print(index.handler({event!r}, CTX)['data']['outcome'], file=sys.stderr)"
)

BARE_CHILD = """\
import sys
from alibabacloud_ebs20210730.client import Client
from alibabacloud_ebs20210730.models import DescribeDiskReplicaPairsRequest, FailoverDiskReplicaPairRequest
from alibabacloud_tea_openapi.utils_models import Config

client = Client(Config(access_key_id="testing", access_key_secret="testing", region_id={region!r},
                       endpoint={endpoint!r}, protocol="http"))
describe = DescribeDiskReplicaPairsRequest(region_id={region!r}, pair_ids={pair!r}, site="backup")
pairs = client.describe_disk_replica_pairs(describe).body.replica_pairs
if pairs[0].status not in ("failovered", "failovering"):
    failover = FailoverDiskReplicaPairRequest(
        region_id={region!r}, replica_pair_id={pair!r}, client_token={token!r})
    client.failover_disk_replica_pair(failover)
    assert client.describe_disk_replica_pairs(describe).body.replica_pairs[0].status == "failovered"
print("failed_over", file=sys.stderr)
"""

CLIENT_CHILD = """\
import sys
from alibabacloud_ebs20210730.client import Client
from alibabacloud_tea_openapi.utils_models import Config

client = Client(Config(access_key_id="testing", access_key_secret="testing", region_id={region!r},
                       endpoint={endpoint!r}, protocol="http"))
print("client", file=sys.stderr)
"""


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    for name in (
        "PYTHONPROFILEIMPORTTIME",
        "PYTHONDONTWRITEBYTECODE",
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABA_CLOUD_SECURITY_TOKEN",
    ):
        env.pop(name, None)
    env.update(extra)
    return env


LAUNCHER = """\
import json, os, subprocess, sys, tempfile, time
for line in sys.stdin:
    job = json.loads(line)
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        process = subprocess.Popen(job["argv"], cwd=job["cwd"], env=job["env"],
                                   stdout=subprocess.DEVNULL, stderr=out)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        said = out.read().decode(errors="replace")
    print(json.dumps({"elapsed": elapsed, "maxrss": usage.ru_maxrss, "rc": process.returncode,
                      "stderr": said[-4000:]}), flush=True)
"""


class Launcher:
    """A ``python -S`` process that spawns the children, times them and reads their rusage."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-S", "-c", LAUNCHER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES},
        )

    def spawn(
        self,
        code: str,
        env: dict[str, str],
        expect: str,
        *,
        python: Sequence[str] = (sys.executable,),
        cwd: Path = ROOT,
    ) -> tuple[float, int]:
        """Run ``python -c code`` (``python``: the interpreter and its options) in ``cwd``; (seconds from
        spawn to exit, peak RSS in KiB)."""
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        job = {"argv": [*python, "-c", code], "cwd": str(cwd), "env": env}
        self._process.stdin.write(json.dumps(job) + "\n")
        self._process.stdin.flush()
        answer = json.loads(self._process.stdout.readline())
        said = answer["stderr"].strip()
        if answer["rc"] != 0 or said.splitlines()[-1:] != [expect]:
            raise AssertionError(f"child exited {answer['rc']}, expected {expect!r}:\n{said[-2000:]}")
        return float(answer["elapsed"]), int(answer["maxrss"])

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)

    def __enter__(self) -> Launcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def run(rounds: int) -> list[Figure]:
    from ebs_failover.testing import FakeEbs, FakeEbsServer

    total = rounds + 1  # one warm-up round (writes .pyc files, fills the page cache)
    fake = FakeEbs(seed=11)
    fake.load_seed(seed("h", total))
    fake.load_seed(seed("b", total))
    with FakeEbsServer(fake) as server, Launcher() as launcher:
        targets = {disk_id("h", n): pair_id("h", n) for n in range(total)}
        env = child_env(handler_env(targets, EBS_ENDPOINT=server.endpoint, EBS_PROTOCOL="http"))
        ignored = sample("cms-callback-recovery.txt")
        rejected = sample("invalid-manual-action.json")

        def children(n: int) -> dict[str, tuple[str, str]]:
            return {
                "bare": (
                    BARE_CHILD.format(
                        region=STANDBY,
                        endpoint=server.endpoint,
                        pair=pair_id("b", n),
                        token=bare_token(f"bench-cold-{n}"),
                    ),
                    "failed_over",
                ),
                "client": (CLIENT_CHILD.format(region=STANDBY, endpoint=server.endpoint), "client"),
                "failover": (_handler(manual_event(pair_id("h", n), f"bench-cold-{n}")), "failed_over"),
                "ignored": (_handler(ignored), "ignored"),
                "rejected": (_handler(rejected), "rejected"),
            }

        times: dict[str, list[float]] = {k: [] for k in ("bare", "client", "failover", "ignored", "rejected")}
        rss: dict[str, list[int]] = {k: [] for k in times}
        for n in range(total):
            plan = list(children(n).items())
            shift = n % len(plan)
            for name, (code, expect) in plan[shift:] + plan[:shift]:
                elapsed, peak = launcher.spawn(code, env, expect)
                if n:
                    times[name].append(elapsed)
                    rss[name].append(peak)
        changes = len(fake.state_changes())
        if changes != total * 2:
            raise AssertionError(f"expected {total * 2} failovers, the fake saw {changes}")

    def ratios(name: str, what: dict[str, list[Any]], basis: str = "bare") -> list[float]:
        return [a / b for a, b in zip(what[name], what[basis], strict=True)]

    bare_ms = f"{statistics.median(times['bare']) * 1000:.0f} ms"
    figures = [
        Figure(
            "cold",
            f"failover event, fresh process to result ({rounds} rounds)",
            ratios("failover", times),
            GOAL_FAILOVER,
            ours=f"{statistics.median(times['failover']) * 1000:.0f} ms",
            bare=bare_ms,
        ),
        Figure(
            "cold-ignored",
            "ignored event (recovery), fresh process vs the bare failover script",
            ratios("ignored", times),
            GOAL_NO_CALL,
            ours=f"{statistics.median(times['ignored']) * 1000:.0f} ms",
            bare=bare_ms,
        ),
        Figure(
            "cold-rejected",
            "rejected event (bad action), fresh process vs the bare failover script",
            ratios("rejected", times),
            GOAL_NO_CALL,
            ours=f"{statistics.median(times['rejected']) * 1000:.0f} ms",
            bare=bare_ms,
        ),
    ]
    client_ms = f"{statistics.median(times['client']) * 1000:.0f} ms"
    for name, what in (("ignored", "ignored event (recovery)"), ("rejected", "rejected event (bad action)")):
        figures.append(
            Figure(
                f"cold-{name}-vs-client",
                f"{what}, fresh process vs the bare SDK's import and client alone (no call)",
                ratios(name, times, "client"),
                GOAL_NO_CALL,
                ours=f"{statistics.median(times[name]) * 1000:.0f} ms",
                bare=client_ms,
            )
        )
    peak_mb = statistics.median(rss["failover"]) / 1024
    figures.append(
        Figure(
            "memory",
            f"peak RSS of the cold failover process (ru_maxrss; absolute goal < {MEMORY_LIMIT_MB} MB)",
            ratios("failover", rss),
            GOAL_MEMORY,
            ours=f"{peak_mb:.1f} MB",
            bare=f"{statistics.median(rss['bare']) / 1024:.1f} MB",
            extra_ok=peak_mb < MEMORY_LIMIT_MB,
            extra_note=f"{peak_mb:.1f} MB {'<' if peak_mb < MEMORY_LIMIT_MB else '>='} {MEMORY_LIMIT_MB} MB",
        )
    )
    return figures


def _handler(event: bytes) -> str:
    return HANDLER_CHILD.format(function=str(FUNCTION), region=STANDBY, event=event)


def main() -> None:  # pragma: no cover - a debugging aid: print the children's code
    print(json.dumps({"handler": _handler(b"{}"), "bare": BARE_CHILD, "client": CLIENT_CHILD}, indent=2))
