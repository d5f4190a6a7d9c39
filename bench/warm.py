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

Information only, no goal: against a fake that answers in well under a
millisecond, the ratio magnifies a fixed per-invocation cost of a fraction of
a millisecond, which a real EBS round trip (tens of ms per call) dwarfs. The
``latency`` run shows that: the fake answers every call after 30 ms, as EBS
does across a real network, and the ratio is what a user feels.
"""

from __future__ import annotations

import gc
import os
import time
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
    handler_environment,
    log_sink,
    manual_event,
    pair_id,
    warm_fake,
)


def run(
    rounds: int, batch: int, *, socket: bool = False, interleaved: bool = False, latency: float = 0.0
) -> list[Figure]:
    """The warm figure; with ``socket``, both sides reach the fake over 127.0.0.1; ``latency``: the
    seconds the fake takes to answer each call.

    ``interleaved``: each round alternates the sides event by event (the order flipping from one
    event to the next) instead of timing a batch of one side, then a batch of the other. Each side's
    event then runs right after the other side's, in the same state of the CPU caches, where a
    batch lets the bare loop, whose working set is the SDK's alone, keep all of it cached.
    """
    from ebs_failover.testing import FakeEbsServer, MockEbs

    sink = log_sink()
    ours: list[float] = []
    bare_times: list[float] = []
    ratios: list[float] = []
    cpu: list[float] = []
    with _environment(batch, sink):
        first = warm_fake(batch, latency=latency)
        mount: Any = FakeEbsServer(first) if socket else MockEbs(first)
        with mount as mock:
            if socket:
                os.environ.update(EBS_ENDPOINT=mock.endpoint, EBS_PROTOCOL="http")
            sides = _Sides(rounds, batch, BareSdk(endpoint=mock.endpoint) if socket else BareSdk())
            sides.ours_batch(0)  # warm-up: the SDK import, the settings, first-call caches
            sides.bare_batch(0)
            for r in range(1, rounds + 1):
                _check(mock.fake, batch)
                mock.fake = warm_fake(batch, latency=latency)
                if interleaved:  # wall time only: a CPU clock read is a system call between the calls
                    mine, theirs = sides.mixed_round(r)
                    ours.append(mine / batch)
                    bare_times.append(theirs / batch)
                    ratios.append(mine / theirs)
                    continue
                if r % 2:
                    a, b = sides.ours_batch(r), sides.bare_batch(r)
                else:
                    b, a = sides.bare_batch(r), sides.ours_batch(r)
                ours.append(a.wall / batch)
                bare_times.append(b.wall / batch)
                ratios.append(a.wall / b.wall)
                cpu.append(a.cpu / b.cpu)
            _check(mock.fake, batch)
    return [_figure(socket, interleaved, latency, batch, rounds, ratios, ours, bare_times, cpu)]


class _Sides:
    """Both sides' events for every round, and the ways to time them."""

    def __init__(self, rounds: int, batch: int, bare: BareSdk) -> None:
        from ebs_failover.handler import handler
        from ebs_failover.testing import FcContext

        self.handler, self.bare, self.batch = handler, bare, batch
        # The same pair ids every round (a fresh fake), a new incident (idempotencyKey) every event.
        self.events = [
            [manual_event(pair_id("h", n), f"warm-{r}-{n}") for n in range(batch)] for r in range(rounds + 1)
        ]
        # The bare side sends ClientTokens of the same form as ours (ebsfo- and 58 hex digits), made
        # beforehand: the same calls, byte for byte the same size; deriving them is our side's work.
        self.tokens = [[bare_token(f"warm-{r}-{n}") for n in range(batch)] for r in range(rounds + 1)]
        self.contexts = [FcContext(request_id=f"req-{n}", region="cn-shanghai") for n in range(batch)]
        # The bare side's pair ids made beforehand too, as our side's events are: nothing but the
        # calls inside either side's timing.
        self.bare_pairs = [pair_id("b", n) for n in range(batch)]

    def ours_batch(self, r: int) -> Clock:
        handler, events, contexts = self.handler, self.events[r], self.contexts
        with Clock() as clock:
            for n in range(self.batch):
                result = handler(events[n], contexts[n])
                if result["data"]["outcome"] != "failed_over":
                    raise AssertionError(f"handler: {result['data']}")
        return clock

    def bare_batch(self, r: int) -> Clock:
        bare, tokens, pairs = self.bare, self.tokens[r], self.bare_pairs
        with Clock() as clock:
            for n in range(self.batch):
                if bare.fail_over(pairs[n], tokens[n]) != "failed_over":
                    raise AssertionError("bare: not failed over")
        return clock

    def mixed_round(self, r: int) -> tuple[float, float]:
        """(ours, bare) wall seconds; nothing but the clock between the two calls of an event.

        Whatever else the harness does there (a loop over the sides, reading the result) turned
        out to move the ratio by a few percent, so it happens after the clock reads.
        """
        handler, bare, events, tokens, contexts, pairs = (
            self.handler,
            self.bare,
            self.events[r],
            self.tokens[r],
            self.contexts,
            self.bare_pairs,
        )
        clock = time.perf_counter
        o = w = 0.0
        gc.collect()
        for n in range(self.batch):
            if n % 2:
                t0 = clock()
                theirs = bare.fail_over(pairs[n], tokens[n])
                t1 = clock()
                mine = handler(events[n], contexts[n])
                t2 = clock()
                w, o = w + t1 - t0, o + t2 - t1
            else:
                t0 = clock()
                mine = handler(events[n], contexts[n])
                t1 = clock()
                theirs = bare.fail_over(pairs[n], tokens[n])
                t2 = clock()
                o, w = o + t1 - t0, w + t2 - t1
            if mine["data"]["outcome"] != "failed_over" or theirs != "failed_over":
                raise AssertionError(f"handler: {mine['data']}; bare: {theirs}")
        return o, w


@contextmanager
def _environment(batch: int, sink: Any) -> Iterator[None]:
    """The handler's settings and log sink for the run; the process's environment restored after."""
    with handler_environment(handler_env({disk_id("h", n): pair_id("h", n) for n in range(batch)}), sink):
        try:
            yield
        finally:
            sink.close()


def _figure(
    socket: bool,
    interleaved: bool,
    latency: float,
    batch: int,
    rounds: int,
    ratios: list[float],
    ours: list[float],
    bare_times: list[float],
    cpu: list[float],
) -> Figure:
    where = "the fake on a 127.0.0.1 socket" if socket else "in-process fake"
    if latency:
        where += f" answering after {latency * 1000:.0f} ms per call"
    how = "sides alternating event by event" if interleaved else "a batch per side"
    name = "warm-socket" if socket else "warm-interleaved" if interleaved else "warm"
    if latency:
        name += f"-{latency * 1000:.0f}ms"
    return Figure(
        name,
        f"manual failover event, warm, {where}, {how} ({batch} events x {rounds} rounds per side)",
        ratios,
        None,
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
