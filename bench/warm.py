"""Figure 1, warm: one manual failover through ``handler(event, ctx)`` vs the bare SDK loop.

Both sides talk to the same in-process fake (``MockEbs``), each to its own
pairs (a failover needs a pair in ``normal``). Every round gets a fresh fake
seeded with ``batch`` pairs per side (the fake's Describe scans every pair it
holds, so letting pairs pile up over the rounds would add the same growing
cost to both sides and flatter the ratio). Each round times a batch of
events on one side and a batch on the other, the order alternating; the
figure is the median of the per-round ratios. The handler logs to /dev/null
through a text file, as FC's stdout takes the lines: every JSON line is still
rendered, encoded and written (logging is part of the product's cost).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._common import (
    BareSdk,
    Clock,
    Figure,
    bare_token,
    disk_id,
    handler_env,
    log_sink,
    manual_event,
    pair_id,
    warm_fake,
)

GOAL = 1.10


def run(rounds: int, batch: int, *, socket: bool = False) -> list[Figure]:
    """The warm figure; with ``socket``, both sides reach the fake over 127.0.0.1 (informational)."""
    from ebs_failover.handler import handler
    from ebs_failover.testing import FakeEbsServer, FcContext, MockEbs

    sink = log_sink()

    # The same pair ids every round (a fresh fake), a new incident (idempotencyKey) every event.
    events = [
        [manual_event(pair_id("h", n), f"warm-{r}-{n}") for n in range(batch)] for r in range(rounds + 1)
    ]
    # The bare side sends ClientTokens of the same form as ours (ebsfo- and 58 hex digits), made
    # beforehand: the same calls, byte for byte the same size; deriving them is our side's work.
    tokens = [[bare_token(f"warm-{r}-{n}") for n in range(batch)] for r in range(rounds + 1)]
    contexts = [FcContext(request_id=f"req-{n}", region="cn-shanghai") for n in range(batch)]
    ours: list[float] = []
    bare_times: list[float] = []
    ratios: list[float] = []
    cpu: list[float] = []
    with _environment(batch, sink):
        mount: Any = FakeEbsServer(warm_fake(batch)) if socket else MockEbs(warm_fake(batch))
        with mount as mock:
            if socket:
                os.environ.update(EBS_ENDPOINT=mock.endpoint, EBS_PROTOCOL="http")
            bare = BareSdk(endpoint=mock.endpoint) if socket else BareSdk()

            def ours_batch(r: int) -> Clock:
                round_events = events[r]
                with Clock() as clock:
                    for n in range(batch):
                        result = handler(round_events[n], contexts[n])
                        if result["data"]["outcome"] != "failed_over":
                            raise AssertionError(f"handler: {result['data']}")
                return clock

            def bare_batch(r: int) -> Clock:
                round_tokens = tokens[r]
                with Clock() as clock:
                    for n in range(batch):
                        if bare.fail_over(pair_id("b", n), round_tokens[n]) != "failed_over":
                            raise AssertionError("bare: not failed over")
                return clock

            ours_batch(0)  # warm-up: the SDK import, the settings, first-call caches
            bare_batch(0)
            for r in range(1, rounds + 1):
                _check(mock.fake, batch)
                mock.fake = warm_fake(batch)
                if r % 2:
                    a, b = ours_batch(r), bare_batch(r)
                else:
                    b, a = bare_batch(r), ours_batch(r)
                ours.append(a.wall / batch)
                bare_times.append(b.wall / batch)
                ratios.append(a.wall / b.wall)
                cpu.append(a.cpu / b.cpu)
            _check(mock.fake, batch)
    return [_figure(socket, batch, rounds, ratios, ours, bare_times, cpu)]


@contextmanager
def _environment(batch: int, sink: Any) -> Iterator[None]:
    """The handler's settings and log sink for the run; the process's environment restored after."""
    from ebs_failover import log
    from ebs_failover.testing import PROXY_VARIABLES

    saved = dict(os.environ)
    for proxy in PROXY_VARIABLES:
        os.environ.pop(proxy, None)
    os.environ.update(handler_env({disk_id("h", n): pair_id("h", n) for n in range(batch)}))
    log.configure(stream=sink)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        log.configure(stream=io.StringIO())
        sink.close()


def _figure(
    socket: bool,
    batch: int,
    rounds: int,
    ratios: list[float],
    ours: list[float],
    bare_times: list[float],
    cpu: list[float],
) -> Figure:
    where = "the fake on a 127.0.0.1 socket" if socket else "in-process fake"
    return Figure(
        "warm-socket" if socket else "warm",
        f"manual failover event, warm, {where} ({batch} events x {rounds} rounds per side)",
        ratios,
        None if socket else GOAL,
        ours=_ms(ours),
        bare=_ms(bare_times),
        cpu_ratios=cpu,
    )


def _check(fake: Any, batch: int) -> None:
    changes = len(fake.state_changes())
    if changes != 2 * batch:
        raise AssertionError(f"expected {2 * batch} failovers in the round, the fake saw {changes}")


def _ms(values: list[Any]) -> str:
    import statistics

    return f"{statistics.median(values) * 1000:.2f} ms/event"
