"""Figure 4, storm: 1,000 deliveries (200 pairs x 5) in one warm process.

Each pair's incident arrives five times in mixed shapes: the operator's manual
request (``idempotencyKey``), the CloudMonitor callback (form body) and the
EventBridge ``acs.ebs`` DiskIOHang event, with the repeats being
redeliveries of the same alarm (the same bytes). Every run starts with fresh
fakes. The order is shuffled with a fixed seed. The handler must change state
exactly 200 times (checked). The bare side does,
per delivery, Describe and (unless failovered) Failover with a token,
against an identically seeded fake (``MockEbs`` serves one fake or the other;
the swap happens between timed chunks). Chunks of deliveries alternate
between the sides, the order alternating; one run's ratio is the sum of our
chunks over the sum of the bare chunks, and the figure is the median of the
runs. Information only, no goal (as for ``warm``).
"""

from __future__ import annotations

import io
import os
import random
import statistics
from typing import Any

from ._common import (
    BareSdk,
    Clock,
    Figure,
    bare_token,
    callback_event,
    disk_id,
    eventbridge_event,
    handler_env,
    log_sink,
    manual_event,
    pair_id,
    seed,
)

PAIRS = 200
DELIVERIES = 5
CHUNK = 100
#: Per pair, the shapes of its five deliveries (rotated by pair): repeats are redeliveries.
SHAPES = ("manual", "callback", "eventbridge", "callback", "eventbridge")


def deliveries(shuffle_seed: int = 2024) -> list[tuple[str, bytes, str]]:
    """(pair id, raw event, the bare side's token) for every delivery, shuffled deterministically."""
    out: list[tuple[str, bytes, str]] = []
    for n in range(PAIRS):
        pair, disk = pair_id("s", n), disk_id("s", n)
        shapes = SHAPES[n % DELIVERIES :] + SHAPES[: n % DELIVERIES]
        for shape in shapes:
            if shape == "manual":
                raw, identity = manual_event(pair, f"INC-{n:05d}"), f"manual-{n}"
            elif shape == "callback":
                trans = f"5f0c{n:04d}-6a7d-11ef-9b2c-00163e0a1b2c"
                raw, identity = callback_event(disk, trans), f"cms-{trans}"
            else:
                event_id = f"7b1c{n:04d}-4f50-4617-8293-a4b5c6d7e8f9"
                raw, identity = eventbridge_event(disk, event_id), f"eb-{event_id}"
            out.append((pair, raw, bare_token(f"storm-{identity}")))
    random.Random(shuffle_seed).shuffle(out)
    return out


def run(runs: int) -> list[Figure]:
    from ebs_failover import log
    from ebs_failover.testing import FcContext

    saved = dict(os.environ)
    os.environ.update(handler_env({disk_id("s", n): pair_id("s", n) for n in range(PAIRS)}))
    sink = log_sink()
    log.configure(stream=sink)
    storm = deliveries()
    contexts = [FcContext(request_id=f"storm-{i}", region="cn-shanghai") for i in range(len(storm))]
    results = []
    try:
        for run_index in range(runs + 1):  # run 0 warms up
            totals = _one_run(run_index, storm, contexts)
            if run_index:
                results.append(totals)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        log.configure(stream=io.StringIO())
        sink.close()
    return [
        Figure(
            "storm",
            f"{PAIRS * DELIVERIES} deliveries ({PAIRS} pairs x {DELIVERIES}, 3 shapes, shuffled), "
            f"exactly {PAIRS} failovers ({runs} runs)",
            [t["ours"].wall / t["bare"].wall for t in results],
            None,
            ours=f"{statistics.median(t['ours'].wall for t in results) / len(storm) * 1000:.2f} ms/event",
            bare=f"{statistics.median(t['bare'].wall for t in results) / len(storm) * 1000:.2f} ms/event",
            cpu_ratios=[t["ours"].cpu / t["bare"].cpu for t in results],
        )
    ]


def _one_run(run_index: int, storm: list[tuple[str, bytes, str]], contexts: list[Any]) -> dict[str, Clock]:
    """One storm per side on fresh, identically seeded fakes; the checks; the summed chunk times."""
    from ebs_failover.handler import handler
    from ebs_failover.testing import FakeEbs, MockEbs

    fakes = {side: FakeEbs(seed=5) for side in ("ours", "bare")}
    for fake in fakes.values():
        fake.load_seed(seed("s", PAIRS))
    outcomes: dict[str, int] = {}
    totals = {"ours": Clock.zero(), "bare": Clock.zero()}
    with MockEbs(fakes["ours"]) as mock:
        bare = BareSdk()

        def ours_chunk(lo: int) -> Clock:
            mock.fake = fakes["ours"]
            with Clock() as clock:
                for i in range(lo, min(lo + CHUNK, len(storm))):
                    outcome = handler(storm[i][1], contexts[i])["data"]["outcome"]
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
            return clock

        def bare_chunk(lo: int) -> Clock:
            mock.fake = fakes["bare"]
            with Clock() as clock:
                for pair, _, token in storm[lo : lo + CHUNK]:
                    bare.fail_over(pair, token)
            return clock

        for k, lo in enumerate(range(0, len(storm), CHUNK)):
            if (k + run_index) % 2:
                totals["ours"] += ours_chunk(lo)
                totals["bare"] += bare_chunk(lo)
            else:
                totals["bare"] += bare_chunk(lo)
                totals["ours"] += ours_chunk(lo)
    for side, fake in fakes.items():
        changes = len(fake.state_changes())
        if changes != PAIRS:
            raise AssertionError(f"storm, {side}: {changes} state changes, expected exactly {PAIRS}")
    expected = {"failed_over": PAIRS, "already_failed_over": PAIRS * (DELIVERIES - 1)}
    if outcomes != expected:
        raise AssertionError(f"storm outcomes {outcomes}, expected {expected}")
    return totals
