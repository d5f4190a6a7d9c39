"""``python -m bench.profile context``: where the time goes *in context*, by statistical sampling.

cProfile taxes every call (it inflates code made of many small calls), and the
stage wrappers of ``profile stages`` see only the stages they wrap. This
profile runs the warm and storm workloads at full speed and lets a timer
signal (``ITIMER_REAL``, every 237 µs, a period prime to the workload's) take
the stack: every function on it gets the sample, so a function's share is its
inclusive time, measured where it really runs, right after SDK calls have
pushed our code out of the CPU caches.

A signal is handled between two bytecodes, so time spent in C is charged to
the Python frame running when the C call returns: inclusive shares of Python
functions are exact, line-level ones are not (hence none are shown).
"""

from __future__ import annotations

import collections
import functools
import gc
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from ._common import (
    STANDBY,
    BareSdk,
    bare_token,
    disk_id,
    handler_env,
    log_sink,
    manual_event,
    pair_id,
    seed,
    warm_fake,
)

PERIOD = 0.000237
#: Our code: these functions' shares are shown, with the SDK call they wrap for scale.
_OURS = ("ebs_failover/", "structlog/", "tenacity/")
_SDK = ("tea_openapi/client.py:call_api",)


class Sampler:
    """Inclusive samples per function while :meth:`sampling` is on, for stacks under ``root``."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.samples = 0
        self.inclusive: collections.Counter[str] = collections.Counter()

    def _take(self, signum: int, frame: FrameType | None) -> None:
        names: set[str] = set()
        under_root = False
        while frame is not None:
            code = frame.f_code
            under_root = under_root or code.co_name == self.root
            names.add(f"{_short(code.co_filename)}:{code.co_name}")
            frame = frame.f_back
        if under_root:
            self.samples += 1
            self.inclusive.update(names)

    @contextmanager
    def sampling(self) -> Iterator[None]:
        previous = signal.signal(signal.SIGALRM, self._take)
        signal.setitimer(signal.ITIMER_REAL, PERIOD, PERIOD)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def share(self, name: str) -> float:
        return self.inclusive[name] / self.samples if self.samples else 0.0


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/function/", "/bench/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def _report(
    title: str, ours: Sampler, bare: Sampler, ours_us: float, bare_us: float, top: int = 24
) -> list[str]:
    """µs per event: each side's measured time split by its sampled shares; our functions, inclusive."""
    lines = [
        f"## {title}: in-context sampling ({ours.samples} samples ours, {bare.samples} bare; "
        f"µs per event, measured unsampled: ours {ours_us:.0f}, bare {bare_us:.0f}, "
        f"ratio {ours_us / bare_us:.2f}x)",
        "",
        "```",
    ]
    sdk_ours = max(ours.share(name) for name in ours.inclusive if name.endswith(_SDK))
    sdk_bare = max((bare.share(name) for name in bare.inclusive if name.endswith(_SDK)), default=0.0)
    lines += [
        f"{'':<58} {'ours':>8} {'bare':>8}",
        f"{'SDK call_api and below (signing, requests, the fake)':<58} "
        f"{sdk_ours * ours_us:8.1f} {sdk_bare * bare_us:8.1f}",
        f"{'outside call_api (ours: all our code; bare: typed models)':<58} "
        f"{(1 - sdk_ours) * ours_us:8.1f} {(1 - sdk_bare) * bare_us:8.1f}",
        "",
        "our functions, inclusive:",
    ]
    rows = sorted(
        (
            (count, name)
            for name, count in ours.inclusive.items()
            if name.startswith(_OURS) and not name.startswith("ebs_failover/testing/")
        ),
        reverse=True,
    )
    for count, name in rows[:top]:
        lines.append(f"{name:<66} {count / ours.samples * ours_us:7.1f}")
    lines += ["```", ""]
    return lines


def _timed(run: Callable[[], None]) -> float:
    import time

    gc.collect()
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def profile_context_warm(batch: int = 100, rounds: int = 40) -> str:
    """The warm bench's workload: odd rounds timed at full speed, even ones sampled (both sides)."""
    from ebs_failover import log
    from ebs_failover.handler import handler
    from ebs_failover.testing import FcContext, MockEbs

    os.environ.update(handler_env({disk_id("h", n): pair_id("h", n) for n in range(batch)}))
    log.configure(stream=log_sink())

    contexts = [FcContext(request_id=f"r{n}", region=STANDBY) for n in range(batch)]
    ours, bare_side = Sampler("ours_batch"), Sampler("bare_batch")
    events = [
        [manual_event(pair_id("h", n), f"ctx-{r}-{n}") for n in range(batch)] for r in range(rounds + 1)
    ]
    tokens = [[bare_token(f"ctx-{r}-{n}") for n in range(batch)] for r in range(rounds + 1)]
    wall = bare_wall = 0.0
    with MockEbs(warm_fake(batch)) as mock:
        bare = BareSdk()

        def ours_batch(r: int) -> None:
            for n in range(batch):
                handler(events[r][n], contexts[n])

        def bare_batch(r: int) -> None:
            for n in range(batch):
                bare.fail_over(pair_id("b", n), tokens[r][n])

        ours_batch(0)
        bare_batch(0)
        for r in range(1, rounds + 1):
            mock.fake = warm_fake(batch)
            if r % 2:  # the µs basis: rounds at full speed, unsampled
                wall += _timed(functools.partial(ours_batch, r))
                bare_wall += _timed(functools.partial(bare_batch, r))
                continue
            with ours.sampling():
                ours_batch(r)
            with bare_side.sampling():
                bare_batch(r)
    timed = (rounds + 1) // 2 * batch
    return "\n".join(
        _report("warm manual failover", ours, bare_side, wall / timed * 1e6, bare_wall / timed * 1e6)
    )


def profile_context_storm(runs: int = 6) -> str:
    """The storm's 1,000 deliveries on fresh fakes: odd runs timed at full speed, even ones sampled."""
    from ebs_failover import log, triggers
    from ebs_failover.handler import handler
    from ebs_failover.testing import FakeEbs, FcContext, MockEbs

    from .storm import PAIRS, deliveries

    os.environ.update(handler_env({disk_id("s", n): pair_id("s", n) for n in range(PAIRS)}))
    log.configure(stream=log_sink())
    storm = deliveries()
    contexts = [FcContext(request_id=f"s{i}", region=STANDBY) for i in range(len(storm))]
    ours, bare_side = Sampler("ours_storm"), Sampler("bare_storm")
    wall = bare_wall = 0.0
    for run in range(runs + 1):
        triggers.forget()  # a new storm, as in the benchmark
        fakes = [FakeEbs(seed=5), FakeEbs(seed=5)]
        for fake in fakes:
            fake.load_seed(seed("s", PAIRS))
        with MockEbs(fakes[0]) as mock:
            bare = BareSdk()
            run_ours = functools.partial(ours_storm, handler, storm, contexts)
            run_bare = functools.partial(bare_storm, bare, storm)
            if not run:  # a warm-up run, not sampled
                run_ours()
                mock.fake = fakes[1]
                run_bare()
            elif run % 2:  # the µs basis: runs at full speed, unsampled
                wall += _timed(run_ours)
                mock.fake = fakes[1]
                bare_wall += _timed(run_bare)
            else:
                with ours.sampling():
                    run_ours()
                mock.fake = fakes[1]
                with bare_side.sampling():
                    run_bare()
    timed = (runs + 1) // 2 * len(storm)
    return "\n".join(
        _report("storm, 1,000 mixed deliveries", ours, bare_side, wall / timed * 1e6, bare_wall / timed * 1e6)
    )


def ours_storm(handler: Any, storm: list[tuple[str, bytes, str]], contexts: list[Any]) -> None:
    """Our side of the storm (its name is the sampler's root)."""
    for i, (_, raw, _) in enumerate(storm):
        handler(raw, contexts[i])


def bare_storm(bare: Any, storm: list[tuple[str, bytes, str]]) -> None:
    """The bare side of the storm (its name is the sampler's root)."""
    for pair, _, token in storm:
        bare.fail_over(pair, token)
