"""The headline, fleet: one alarm that fails N pairs over, at a real round trip (issue 15, item 6).

EBS answers every call after 30 ms (``FakeEbs(latency=0.03)``) on a
``FakeEbsServer`` on 127.0.0.1: real sockets, real threads. One instance id
maps N pairs (``FAILOVER_TARGETS {"i-…": [N pairs]}``); a CloudMonitor
callback alarm naming that instance goes through ``handler(event, ctx)``, live,
verifying (``FAILOVER_VERIFY_SECONDS`` at its default, the fake finishing a
failover at once, so the first look sees ``failovered``). Every measured run
starts from a reset fake seeded with N ``normal`` pairs, and every round has
alarms of its own (a fresh ``transId``), so every run really fails N pairs
over; each run is checked (N state changes, every target ``failed_over`` and
verified).

Against it, in the same run, interleaved (the order rotating from one round to
the next), two bare SDK scripts on the same endpoint:

* **floor**: one batched Describe (``PairIds``: all N), every Failover at once
  (N threads), one batched Describe that sees them ``failovered``: three round
  trips, whatever N is;
* **sequential**: per pair Describe, Failover, Describe, one pair after the
  other (what the function did before issue 15): 3N round trips.

Ours runs in two configurations: all at once (``FAILOVER_CONCURRENCY=N``,
``FAILOVER_CALLS_PER_SECOND=1000``: the mechanism; the goal is N=50 within
1.5x of the floor) and at the defaults (10 at once, 10 calls per second after
the burst), beside which the table gives what that pacing allows:
floor + max(0, N - 10) / 10 s.

Then, at N=20, the EBS requests of a first delivery and of a redelivery (the
same alarm's bytes again: it must cost one Describe), counted from the fake's
call log; and N=50 under a quota of 20 calls per second per API (the fake
answers 400 ``Throttling.User`` beyond it, with ``x-acs-retry-after``), with
``FAILOVER_CALLS_PER_SECOND`` at 10 (the default, under the quota) and at 50
(over it: EBS throttles, the function retries): the time, the throttled calls,
and that every pair changed state exactly once, each under one ClientToken of
its own.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ._common import (
    STANDBY,
    bare_token,
    handler_env,
    handler_environment,
    log_sink,
    pair_id,
    sample,
    seed,
    spread,
)

SIZES = (1, 5, 20, 50)
LATENCY = 0.03
INSTANCE = "i-bp1fleet0app01"
#: Comfortably above the slowest run (N=50 at the defaults under the quota: about 5 s).
TIMEOUT = 300
GOAL = 1.5  # ours all at once / floor, at N=50
COUNTED = 20  # the N whose requests are counted
QUOTA = 20  # calls per second per API, for the quota figure
QUOTA_N = 50
QUOTA_RATES = (10, 50)
DEFAULT_CONCURRENCY, DEFAULT_RATE = 10, 10.0
SIDES = ("ours", "defaults", "floor", "sequential")
DESCRIBE, FAILOVER = "DescribeDiskReplicaPairs", "FailoverDiskReplicaPair"


@dataclass
class Report:
    """What the fleet bench measured, and its tables."""

    rounds: int
    quota_rounds: int
    #: (side, N) -> seconds per round.
    times: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    #: ("first" | "again", config) -> {action: calls} per round, at N=COUNTED.
    requests: dict[tuple[str, str], list[dict[str, int]]] = field(default_factory=dict)
    redelivery: dict[str, list[float]] = field(default_factory=dict)
    #: calls per second -> per round: (seconds, throttled calls, state changes per pair, distinct tokens).
    quota: dict[int, list[tuple[float, int, list[int], int]]] = field(default_factory=dict)

    def median(self, side: str, n: int) -> float:
        return statistics.median(self.times[side, n])

    def ratios(self, side: str, n: int, over: str = "floor") -> list[float]:
        return [a / b for a, b in zip(self.times[side, n], self.times[over, n], strict=True)]

    @property
    def verdict(self) -> str:
        ratio = statistics.median(self.ratios("ours", SIZES[-1]))
        return "PASS" if ratio <= GOAL else "MISS"

    def render(self) -> str:
        n_max = SIZES[-1]
        lines = [
            f"One alarm naming an instance that maps N pairs, through `handler(event, ctx)`, live and "
            f"verified, EBS answering every call after {LATENCY * 1000:.0f} ms on a 127.0.0.1 socket. "
            "**floor**: a bare SDK script making one batched Describe, every Failover at once (N threads), "
            "one batched Describe: 3 round trips. **sequential**: a bare SDK script making Describe, "
            "Failover, Describe for one pair after the other, as the function did before issue 15: 3N "
            f"round trips. Medians of {self.rounds} rounds, the sides interleaved; ratios per round, "
            "median (min-max).",
            "",
            "| N pairs | floor | sequential | ours, all at once | ours / floor | ours, defaults "
            "| the pacing allows | sequential / floor |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for n in SIZES:
            allowed = self.median("floor", n) + max(0, n - DEFAULT_CONCURRENCY) / DEFAULT_RATE
            lines.append(
                f"| {n} | {_s(self.median('floor', n))} | {_s(self.median('sequential', n))} "
                f"| {_s(self.median('ours', n))} | **{_x(self.ratios('ours', n))}** "
                f"| {_s(self.median('defaults', n))} | {_s(allowed)} | {_x(self.ratios('sequential', n))} |"
            )
        ratio = statistics.median(self.ratios("ours", n_max))
        lines += [
            "",
            "All at once: `FAILOVER_CONCURRENCY=N`, `FAILOVER_CALLS_PER_SECOND=1000`. Defaults: 10 at once, "
            "10 calls per second after that burst; the pacing allows floor + max(0, N - 10) / 10 s. "
            f"Goal: N={n_max} all at once within {GOAL:.1f}x of the floor: {ratio:.2f}x, **{self.verdict}**.",
            "",
            f"| EBS requests, N={COUNTED} | Describe | Failover | total | time |",
            "|---|---|---|---|---|",
        ]
        for config, label in (("ours", "all at once"), ("defaults", "defaults")):
            for delivery, what in (("first", "first delivery"), ("again", "redelivery (the same alarm)")):
                counts = self.requests[delivery, config]
                if delivery == "first":
                    seconds = self.median(config, COUNTED)
                else:
                    seconds = statistics.median(self.redelivery[config])
                lines.append(
                    f"| {what}, {label} | {_count(counts, DESCRIBE)} | {_count(counts, FAILOVER)} "
                    f"| {_count(counts, None)} | {_s(seconds)} |"
                )
        lines += [
            "",
            f"| N={QUOTA_N}, EBS quota {QUOTA} calls/s per API | time | throttled calls "
            "| state changes per pair | distinct ClientTokens |",
            "|---|---|---|---|---|",
        ]
        for rate in QUOTA_RATES:
            runs = self.quota[rate]
            times = [run[0] for run in runs]
            throttled = [run[1] for run in runs]
            changes = sorted({c for run in runs for c in run[2]})
            tokens = sorted({run[3] for run in runs})
            where = "under the quota" if rate <= QUOTA else "over it: EBS throttles, the function retries"
            lines.append(
                f"| `FAILOVER_CALLS_PER_SECOND={rate}` ({where}) | {_s(statistics.median(times))} "
                f"({min(times):.2f}-{max(times):.2f} s) | {statistics.median(throttled):g} "
                f"({min(throttled)}-{max(throttled)}) | {' or '.join(map(str, changes))} "
                f"| {' or '.join(map(str, tokens))} of {QUOTA_N} |"
            )
        lines += [
            "",
            "Quota: the fake answers 400 `Throttling.User` with `x-acs-retry-after` beyond "
            f"{QUOTA} calls of an action per calendar second; 10 at once; {self.quota_rounds} rounds, the "
            "two rates alternating. "
            "Each run checks every pair failed over exactly once (`state_changes()`), each under one "
            "ClientToken of its own, every target `failed_over` and verified.",
        ]
        return "\n".join(lines)


def run(rounds: int, quota_rounds: int) -> Report:
    """The N figures in ``rounds`` rounds, the quota's in ``quota_rounds`` (plus a warm-up run of every
    side)."""
    from ebs_failover.testing import FakeEbs, FakeEbsServer

    report = Report(rounds, quota_rounds)
    free = FakeEbs(seed=15, latency=LATENCY)
    limited = FakeEbs(seed=16, latency=LATENCY, quota=QUOTA, throttle_retry_after=True)
    with _environment(), FakeEbsServer(free) as server:
        os.environ.update(EBS_ENDPOINT=server.endpoint, EBS_PROTOCOL="http")
        sides = _Sides(server, max(rounds, quota_rounds))
        for side in SIDES:  # warm-up: imports, the SDK's first-call caches, the connection pool
            sides.measure(side, 5, 0)
        for r in range(1, rounds + 1):
            for k, n in enumerate(SIZES):
                start = (r + k) % len(SIDES)
                for side in SIDES[start:] + SIDES[:start]:
                    report.times.setdefault((side, n), []).append(sides.measure(side, n, r))
                    if n == COUNTED and side in ("ours", "defaults"):
                        report.requests.setdefault(("first", side), []).append(_counts(free))
                        seconds = sides.redeliver(side, n, r)
                        report.redelivery.setdefault(side, []).append(seconds)
                        report.requests.setdefault(("again", side), []).append(_counts(free))
        server.fake = limited
        for r in range(1, quota_rounds + 1):
            for rate in QUOTA_RATES if r % 2 else QUOTA_RATES[::-1]:
                report.quota.setdefault(rate, []).append(sides.under_quota(limited, rate, r))
    return report


class _Sides:
    """Each side's run of N pairs: the fake reset and seeded, the events made, before the clock starts."""

    def __init__(self, server: Any, rounds: int) -> None:
        from ebs_failover.handler import handler
        from ebs_failover.testing import FcContext, FcFunction

        self.server, self.handler = server, handler
        self.context = FcContext(request_id="fleet", function=FcFunction(timeout=TIMEOUT))
        self.bare = _Bare(server.endpoint)
        now_ms = int(time.time() * 1000)
        # A fresh alarm per (side, N, round), its bytes kept for the redelivery.
        self.alarms = {
            (side, n, r): _alarm(f"{side}-{n}-{r}", now_ms)
            for side in (*SIDES, "quota-10", "quota-50")
            for n in (*SIZES, QUOTA_N)
            for r in range(rounds + 1)
        }

    def _fresh(self, n: int, side: str) -> list[str]:
        fake = self.server.fake
        fake.reset()
        fake.load_seed(seed(side[0], n))
        return [pair_id(side[0], i) for i in range(n)]

    def measure(self, side: str, n: int, r: int) -> float:
        """One timed run of ``side`` on ``n`` fresh pairs; checked."""
        pairs = self._fresh(n, side)
        if side in ("ours", "defaults"):
            concurrency, rate = (n, 1000.0) if side == "ours" else (None, None)
            _configure(pairs, concurrency, rate)
            seconds = self._ours(self.alarms[side, n, r], n)
        else:
            tokens = [bare_token(f"fleet-{side}-{r}-{i}") for i in range(n)]
            go = self.bare.floor if side == "floor" else self.bare.sequential
            seconds = _timed(lambda: go(pairs, tokens))
        _check(self.server.fake, pairs, side)
        return seconds

    def redeliver(self, side: str, n: int, r: int) -> float:
        """The same alarm again, right after its first delivery (the fake not reset): its seconds."""
        self.server.fake.calls.clear()
        alarm = self.alarms[side, n, r]
        result: dict[str, Any] = {}
        seconds = _timed(lambda: result.update(self.handler(alarm, self.context)))
        if result["data"]["outcome"] != "already_failed_over":
            raise AssertionError(f"fleet redelivery, {side}: {_summary(result)}")
        return seconds

    def under_quota(self, fake: Any, rate: int, r: int) -> tuple[float, int, list[int], int]:
        """N=QUOTA_N failed over at ``rate`` calls per second against the quota: the seconds, the throttled
        calls, the state changes per pair, the distinct ClientTokens of the Failover calls."""
        pairs = self._fresh(QUOTA_N, "q")
        _configure(pairs, None, float(rate))
        seconds = self._ours(self.alarms[f"quota-{rate}", QUOTA_N, r], QUOTA_N)
        per_pair = dict.fromkeys(pairs, 0)
        for op in fake.state_changes():
            per_pair[op.resource_id] = per_pair.get(op.resource_id, 0) + 1
        calls = fake.calls_for(FAILOVER)
        tokens_per_pair = {
            pair: {c.client_token for c in calls if c.params.get("ReplicaPairId") == pair} for pair in pairs
        }
        if any(len(tokens) != 1 for tokens in tokens_per_pair.values()):
            raise AssertionError(
                f"fleet quota: a pair's Failovers under several ClientTokens: {tokens_per_pair}"
            )
        return seconds, len(fake.throttled), list(per_pair.values()), len({c.client_token for c in calls})

    def _ours(self, alarm: bytes, n: int) -> float:
        result: dict[str, Any] = {}
        seconds = _timed(lambda: result.update(self.handler(alarm, self.context)))
        data = result["data"]
        targets = data.get("targets") or []
        if (
            data["outcome"] != "failed_over"
            or len(targets) != n
            or not all(t["outcome"] == "failed_over" and t.get("verified") for t in targets)
        ):
            raise AssertionError(f"fleet, ours: {_summary(result)}")
        return seconds


class _Bare:
    """The bare SDK scripts: one client on the fake's endpoint, typed request models."""

    def __init__(self, endpoint: str) -> None:
        from alibabacloud_ebs20210730 import models
        from alibabacloud_ebs20210730.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        self.models = models
        self.client = Client(
            Config(
                access_key_id="testing",
                access_key_secret="testing",
                region_id=STANDBY,
                endpoint=endpoint,
                protocol="http",
            )
        )

    def statuses(self, pairs: Sequence[str]) -> dict[str, str]:
        request = self.models.DescribeDiskReplicaPairsRequest(
            region_id=STANDBY, pair_ids=",".join(pairs), site="backup", max_results=100
        )
        body = self.client.describe_disk_replica_pairs(request).body
        return {str(p.replica_pair_id): str(p.status) for p in body.replica_pairs}

    def failover(self, pair: str, token: str) -> str:
        request = self.models.FailoverDiskReplicaPairRequest(
            region_id=STANDBY, replica_pair_id=pair, client_token=token
        )
        return str(self.client.failover_disk_replica_pair(request).body.request_id)

    def floor(self, pairs: Sequence[str], tokens: Sequence[str]) -> None:
        """One batched Describe, every Failover at once, one batched Describe: three round trips."""
        before = self.statuses(pairs)
        ready = [(p, t) for p, t in zip(pairs, tokens, strict=True) if before.get(p) == "normal"]
        with ThreadPoolExecutor(len(ready)) as pool:
            list(pool.map(self.failover, [p for p, _ in ready], [t for _, t in ready]))
        after = self.statuses(pairs)
        if any(after.get(p) != "failovered" for p in pairs):
            raise AssertionError(f"fleet, floor: not all failovered: {after}")

    def sequential(self, pairs: Sequence[str], tokens: Sequence[str]) -> None:
        """Per pair, one after the other: Describe, Failover, Describe (3N round trips)."""
        for pair, token in zip(pairs, tokens, strict=True):
            if self.statuses([pair]).get(pair) != "normal":
                raise AssertionError(f"fleet, sequential: {pair} not normal")
            self.failover(pair, token)
            if self.statuses([pair]).get(pair) != "failovered":
                raise AssertionError(f"fleet, sequential: {pair} not failovered")


def _alarm(trans_id: str, now_ms: int) -> bytes:
    """The CloudMonitor callback of ``cms-callback-alert.txt`` about :data:`INSTANCE` (its dimensions name
    the instance and no disk), its own ``transId``, raised ``now_ms``."""
    text = sample("cms-callback-alert.txt").decode()
    text = text.replace("instanceId=i-bp1demo0app01", f"instanceId={INSTANCE}")
    text = text.replace("4f1b2c3e-6a7d-11ef-9b2c-00163e0a1b2c", f"fleet-{trans_id}")
    text = text.replace("timestamp=1726120800000", f"timestamp={now_ms}")
    return text.encode()


def _configure(pairs: list[str], concurrency: int | None, rate: float | None) -> None:
    """The function's environment for one run: ``INSTANCE`` -> ``pairs``; unset values take the defaults."""
    os.environ.update(
        handler_env(
            {INSTANCE: pairs},
            FAILOVER_MAX_TARGETS=str(len(pairs)),
            FAILOVER_MAX_EVENT_AGE="86400",  # the alarms are made at the start of the run
        )
    )
    for name, value in (("FAILOVER_CONCURRENCY", concurrency), ("FAILOVER_CALLS_PER_SECOND", rate)):
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = f"{value:g}"


@contextmanager
def _environment() -> Iterator[None]:
    """No proxies, the log to /dev/null; the process's environment restored after."""
    sink = log_sink()
    with handler_environment({}, sink):
        try:
            yield
        finally:
            sink.close()


def _timed(call: Callable[[], object]) -> float:
    gc.collect()
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


def _check(fake: Any, pairs: list[str], side: str) -> None:
    """Every pair failed over exactly once in the run."""
    changed = sorted(op.resource_id for op in fake.state_changes())
    if changed != sorted(pairs):
        raise AssertionError(f"fleet, {side}: the fake saw {len(changed)} failovers of {len(pairs)} pairs")


def _counts(fake: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in fake.calls:
        counts[call.action] = counts.get(call.action, 0) + 1
    return counts


def _count(rounds: list[dict[str, int]], action: str | None) -> str:
    """The calls of ``action`` (None: all) per round: one number when every round agrees, else min-max."""
    values = [sum(c.values()) if action is None else c.get(action, 0) for c in rounds]
    return str(values[0]) if len(set(values)) == 1 else f"{min(values)}-{max(values)}"


def _summary(result: dict[str, Any]) -> str:
    data = result.get("data", {})
    return json.dumps(
        {
            "outcome": data.get("outcome"),
            "reason": data.get("reason"),
            "targets": [
                {k: t.get(k) for k in ("pair_id", "outcome", "verified", "error_code", "hint")}
                for t in data.get("targets") or []
            ][:5],
        }
    )


def _s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _x(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.2f}x ({spread(ratios)})"
