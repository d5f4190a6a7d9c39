"""``python -m bench.profile warm|storm|stages|floor|cold|context|counts``: where our side's time goes.

``warm`` and ``storm`` run each side under cProfile (separately: a profile
adds the same per-call tax to both, but read the shares, not the absolute
milliseconds) and split our per-event time into the SDK's share (``call_api``
and below, the fake included: what the bare side pays too) and the stages of
our own code. ``cold`` runs both cold children with ``-X importtime`` and
lists the imports that cost the most, per top-level package. ``context``
(:mod:`bench.sampling`) samples the warm and storm workloads at full speed.
``counts`` (:mod:`bench.counts`) counts a warm event's instructions and
simulated cache misses under callgrind: the same figures on a busy machine.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

from ._common import (
    ROOT,
    STANDBY,
    BareSdk,
    Clock,
    bare_token,
    disk_id,
    handler_env,
    log_sink,
    manual_event,
    pair_id,
    seed,
    warm_fake,
)

#: (label, file fragment, function name): cumulative time of these, per event, on our side.
STAGES = (
    ("handler, total", "ebs_failover/handler.py", "handler"),
    (
        "  SDK call_api (signing, requests, the fake: the bare side pays it too)",
        "tea_openapi/client.py",
        "call_api",
    ),
    ("  EbsClient._call minus call_api (runtime options, request object)", "ebs_failover/ebs.py", "_call"),
    (
        "  structlog: the log lines (processors, redaction check, JSON)",
        "structlog/_base.py",
        "_proxy_to_logger",
    ),
    ("    of which _render_line (context, redaction check, orjson)", "ebs_failover/log.py", "_render_line"),
    ("  _result (results.build + the redaction check of the result)", "ebs_failover/handler.py", "_result"),
    ("  parse (decode, schema, trigger)", "ebs_failover/triggers/__init__.py", "parse"),
    ("  decide (policy, ClientToken)", "ebs_failover/policy.py", "decide"),
    ("  config.current (environment fingerprint, cached Settings)", "ebs_failover/config.py", "current"),
    (
        "  _find_credentials (and the redactor told the secrets)",
        "ebs_failover/handler.py",
        "_find_credentials",
    ),
    ("  log.invocation (the context variable)", "ebs_failover/log.py", "invocation"),
)
BARE_STAGES = (
    ("bare loop, total", "bench/_common.py", "fail_over"),
    ("  SDK call_api", "tea_openapi/client.py", "call_api"),
)


def cumulative(stats: pstats.Stats, fragment: str, name: str) -> float:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return float(
        sum(ct for (file, _, func), (_, _, _, ct, _) in raw.items() if fragment in file and func == name)
    )


def own_hotspots(stats: pstats.Stats, events: int, top: int = 15) -> list[str]:
    """Our side's own functions (ebs_failover, structlog, tenacity, fastjsonschema) by own time."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    keep = ("ebs_failover/", "structlog/", "tenacity/", "fastjsonschema/", "<string>")
    rows = sorted(
        ((tt, ct, file, line, func) for (file, line, func), (_, _, tt, ct, _) in raw.items()),
        reverse=True,
    )
    out = [f"{'own':>10}  {'cumulative':>12}  function"]
    for tt, ct, file, line, func in rows:
        if not any(k in file for k in keep) or "ebs_failover/testing/" in file:
            continue
        short = re.sub(r".*/(site-packages|function)/", "", file)
        out.append(f"{tt / events * 1e6:7.1f} µs  {ct / events * 1e6:9.1f} µs  {short}:{line}({func})")
        if len(out) > top:
            break
    return out


def profile_warm(batch: int = 100, rounds: int = 4) -> str:
    """As the warm bench: ``batch`` pairs per side in a fresh fake per round, new incidents each round."""
    from ebs_failover import log
    from ebs_failover.handler import handler
    from ebs_failover.testing import FcContext, MockEbs

    os.environ.update(handler_env({disk_id("h", n): pair_id("h", n) for n in range(batch)}))
    log.configure(stream=io.StringIO())

    contexts = [FcContext(request_id=f"r{n}", region=STANDBY) for n in range(batch)]
    ours_prof, bare_prof = cProfile.Profile(), cProfile.Profile()
    with MockEbs(warm_fake(batch)) as mock:
        bare = BareSdk()
        handler(manual_event(pair_id("h", 0), "prof-warm-up"), contexts[0])
        bare.fail_over(pair_id("b", 0), bare_token("prof-warm-up"))
        for r in range(rounds):
            mock.fake = warm_fake(batch)
            raw = [manual_event(pair_id("h", n), f"prof-{r}-{n}") for n in range(batch)]
            tokens = [bare_token(f"prof-{r}-{n}") for n in range(batch)]
            ours_prof.enable()
            for n in range(batch):
                handler(raw[n], contexts[n])
            ours_prof.disable()
            bare_prof.enable()
            for n in range(batch):
                bare.fail_over(pair_id("b", n), tokens[n])
            bare_prof.disable()
    return _report("warm: manual failover", ours_prof, bare_prof, batch * rounds)


def profile_storm() -> str:
    from ebs_failover import log
    from ebs_failover.handler import handler
    from ebs_failover.testing import FakeEbs, FcContext, MockEbs

    from .storm import PAIRS, deliveries

    os.environ.update(handler_env({disk_id("s", n): pair_id("s", n) for n in range(PAIRS)}))
    log.configure(stream=io.StringIO())
    storm = deliveries()
    fakes = [FakeEbs(seed=5), FakeEbs(seed=5)]
    for fake in fakes:
        fake.load_seed(seed("s", PAIRS))
    ours_prof, bare_prof = cProfile.Profile(), cProfile.Profile()
    with MockEbs(fakes[0]) as mock:
        bare = BareSdk()
        ours_prof.enable()
        for i, (_, raw, _) in enumerate(storm):
            handler(raw, FcContext(request_id=f"s{i}", region=STANDBY))
        ours_prof.disable()
        mock.fake = fakes[1]
        bare_prof.enable()
        for pair, _, token in storm:
            bare.fail_over(pair, token)
        bare_prof.disable()
    return _report("storm: 1,000 mixed deliveries", ours_prof, bare_prof, len(storm))


def _report(title: str, ours_prof: cProfile.Profile, bare_prof: cProfile.Profile, events: int) -> str:
    ours, bare = pstats.Stats(ours_prof), pstats.Stats(bare_prof)
    total = cumulative(ours, "ebs_failover/handler.py", "handler")
    bare_total = cumulative(bare, "bench/_common.py", "fail_over")
    lines = [f"## {title} (cProfile, {events} events per side, µs per event; share of our total)", "", "```"]
    for label, fragment, name in STAGES:
        value = cumulative(ours, fragment, name)
        if name == "_call":
            value -= cumulative(ours, "tea_openapi/client.py", "call_api")
        lines.append(f"{label:<78} {value / events * 1e6:8.1f} µs  {value / total:6.1%}")
    for label, fragment, name in BARE_STAGES:
        value = cumulative(bare, fragment, name)
        lines.append(f"{label:<78} {value / events * 1e6:8.1f} µs  {value / total:6.1%}")
    lines.append(f"{'profiled ratio ours / bare':<78} {total / bare_total:8.2f}x")
    lines += ["", "our side: our own functions by own time (per event):"]
    lines += own_hotspots(ours, events)
    lines += ["```", ""]
    return "\n".join(lines)


class _StageClock:
    """Wall time spent in chosen functions, accumulated by wrappers put in place for the run.

    A wrapper costs well under a microsecond; unlike cProfile, the functions it does not wrap run at
    full speed, so the figures are what each stage costs where it really runs: right after an SDK
    call has filled the CPU caches with the SDK's, requests' and the fake's code.
    """

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, label: str) -> None:
        import functools

        original = getattr(owner, name)
        totals, clock = self.totals, time.perf_counter

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return original(*args, **kwargs)
            finally:
                totals[label] += clock() - started

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)


_FAIL_OVER = "ebs.fail_over around the calls (results, retries)"
_SDK_CALLS = "EbsClient._call x2 (the SDK's call_api + our glue)"
_SECRETS = "_find_credentials (and the redactor told)"
#: (outer, inner): stages that run inside another.
_NESTED = ((_FAIL_OVER, _SDK_CALLS),)


#: (owner module or class, attribute, label) of the stages ``profile_stages`` times.
def _stage_targets() -> list[tuple[Any, str, str]]:
    from ebs_failover import config, ebs, handler, log

    return [
        (config, "current", "config.current"),
        (handler._Invocation, "_find_credentials", _SECRETS),
        (handler, "parse", "parse"),
        (handler, "decide", "decide (policy, ClientToken)"),
        (ebs, "client_for", "client_for"),
        (ebs, "fail_over", _FAIL_OVER),
        (ebs.EbsClient, "_call", _SDK_CALLS),
        (handler._Invocation, "_result", "_result (CloudEvent + redaction check)"),
        (type(log.get_logger()), "info", "the canonical log line (structlog)"),
    ]


def profile_stages(batch: int = 100, rounds: int = 8) -> str:
    """Per stage, µs per event in wall time, each handler call right after a bare Describe + Failover."""
    from ebs_failover import log
    from ebs_failover.handler import handler
    from ebs_failover.testing import FcContext

    from .storm import PAIRS, deliveries

    os.environ.update(
        handler_env(
            {
                **{disk_id("h", n): pair_id("h", n) for n in range(batch)},
                **{disk_id("s", n): pair_id("s", n) for n in range(PAIRS)},
            }
        )
    )
    log.configure(stream=io.StringIO())
    contexts = [FcContext(request_id=f"r{n}", region=STANDBY) for n in range(batch)]
    shapes: dict[str, list[tuple[bytes, int]]] = defaultdict(list)
    for i, (_, raw, _) in enumerate(deliveries()):
        kind = (
            "manual"
            if raw.startswith(b'{"action')
            else "eventbridge"
            if b'"specversion"' in raw
            else "callback"
        )
        shapes[f"storm {kind}"].append((raw, i))
    out = [
        "## stages: wall time per event, each handler call right after a bare call (µs per event)",
        "",
        "```",
    ]
    clock = _StageClock()
    for target in _stage_targets():
        clock.wrap(*target)
    try:
        figures = {"warm manual failover": _time_warm(handler, contexts, batch, rounds, clock)}
        for name, events in sorted(shapes.items()):
            figures[name] = _time_storm_shape(handler, events, clock)
    finally:
        clock.restore()
    for name, (handler_us, bare_us, stages) in figures.items():
        out.append(
            f"{name}: handler {handler_us:7.1f}, bare SDK {bare_us:7.1f}, ratio {handler_us / bare_us:.2f}x"
        )
        accounted = 0.0
        for label, us in stages.items():
            out.append(f"  {label:<52} {us:7.1f}")
            accounted += us
        out.append(f"  {'the rest (handler glue: contexts, dispatch, gc)':<52} {handler_us - accounted:7.1f}")
    hot, flushed = _time_cache_effect(contexts)
    out.append(
        f"dry-run manual event, handler back to back: {hot:6.1f}; "
        f"after 8 MB of other memory is touched (CPU caches flushed): {flushed:6.1f}"
    )
    act, bare_act = _time_act_alone()
    out.append(
        f"act alone (ebs.fail_over in a tight loop, as the bare side runs): {act:7.1f}, "
        f"bare SDK {bare_act:7.1f}, ratio {act / bare_act:.2f}x"
    )
    out.append("```")
    return "\n".join(out) + "\n"


def _time_warm(
    handler: Any, contexts: list[Any], batch: int, rounds: int, clock: _StageClock
) -> tuple[float, float, dict[str, float]]:
    from ebs_failover.testing import MockEbs

    handler_s = bare_s = 0.0
    with MockEbs(warm_fake(batch)) as mock:
        bare = BareSdk()
        handler(manual_event(pair_id("h", 0), "stages-warm-up"), contexts[0])
        clock.totals.clear()
        for r in range(rounds):
            mock.fake = warm_fake(batch)
            raw = [manual_event(pair_id("h", n), f"stages-{r}-{n}") for n in range(batch)]
            tokens = [bare_token(f"stages-{r}-{n}") for n in range(batch)]
            for n in range(batch):
                started = time.perf_counter()
                bare.fail_over(pair_id("b", n), tokens[n])
                middle = time.perf_counter()
                handler(raw[n], contexts[n])
                handler_s += time.perf_counter() - middle
                bare_s += middle - started
    events = batch * rounds
    return handler_s / events * 1e6, bare_s / events * 1e6, _per_event(clock, events)


def _time_storm_shape(
    handler: Any, events: list[tuple[bytes, int]], clock: _StageClock
) -> tuple[float, float, dict[str, float]]:
    """One shape of the storm's deliveries, on fakes as the storm leaves them (most pairs failed over)."""
    from ebs_failover.testing import FakeEbs, FcContext, MockEbs

    from .storm import PAIRS, deliveries

    storm = deliveries()
    fakes = {side: FakeEbs(seed=5) for side in ("ours", "bare")}
    for fake in fakes.values():
        fake.load_seed(seed("s", PAIRS))
    handler_s = bare_s = 0.0
    wanted = {index for _, index in events}
    with MockEbs(fakes["ours"]) as mock:
        bare = BareSdk()
        clock.totals.clear()
        for i, (pair, raw, token) in enumerate(storm):
            mock.fake = fakes["bare"]
            started = time.perf_counter()
            bare.fail_over(pair, token)
            middle = time.perf_counter()
            mock.fake = fakes["ours"]
            before = dict(clock.totals)
            handler(raw, FcContext(request_id=f"s{i}", region=STANDBY))
            if i in wanted:
                handler_s += time.perf_counter() - middle
                bare_s += middle - started
            else:  # keep only this shape's share of the stage totals
                for label, value in before.items():
                    clock.totals[label] = value
                for label in set(clock.totals) - set(before):
                    clock.totals[label] = 0.0
    return handler_s / len(events) * 1e6, bare_s / len(events) * 1e6, _per_event(clock, len(events))


def _per_event(clock: _StageClock, events: int) -> dict[str, float]:
    per_event = {label: total / events * 1e6 for label, total in clock.totals.items()}
    for outer, inner in _NESTED:  # report what the outer stage adds around the inner one
        if outer in per_event:
            per_event[outer] -= per_event.get(inner, 0.0)
    return per_event


def _time_cache_effect(contexts: list[Any], rounds: int = 10) -> tuple[float, float]:
    """The same dry-run invocations, back to back and each after a cache flush (µs per event).

    What an SDK call between two invocations does to our code's cost, without the SDK: the work is
    identical, only what the CPU caches still hold differs.
    """
    from ebs_failover.handler import handler

    batch = len(contexts)
    events = [manual_event(pair_id("h", n), f"cache-{n}") for n in range(batch)]
    other = bytearray(8 * 1024 * 1024)
    saved = os.environ.get("FAILOVER_MODE")
    os.environ["FAILOVER_MODE"] = "dry-run"
    hot: list[float] = []
    flushed: list[float] = []
    try:
        handler(events[0], contexts[0])
        for _ in range(rounds):
            started = time.perf_counter()
            for n in range(batch):
                handler(events[n], contexts[n])
            hot.append((time.perf_counter() - started) / batch * 1e6)
            total = 0.0
            for n in range(batch):
                other[::64] = other[1::64]  # a read and a write per cache line: 8 MB through the caches
                started = time.perf_counter()
                handler(events[n], contexts[n])
                total += time.perf_counter() - started
            flushed.append(total / batch * 1e6)
    finally:
        if saved is None:
            os.environ.pop("FAILOVER_MODE", None)
        else:
            os.environ["FAILOVER_MODE"] = saved
    return statistics.median(hot), statistics.median(flushed)


def _time_act_alone(batch: int = 100, rounds: int = 8) -> tuple[float, float]:
    """``ebs.fail_over`` and the bare Describe + Failover, each in its own tight loop (µs per event)."""
    from ebs_failover import ebs
    from ebs_failover.credentials import Credentials
    from ebs_failover.policy import Target
    from ebs_failover.testing import MockEbs

    ours: list[float] = []
    bare_times: list[float] = []
    with MockEbs(warm_fake(batch, "ab")) as mock:
        bare = BareSdk()
        client = ebs.EbsClient(STANDBY, Credentials("testing", "testing"))
        for r in range(rounds + 1):
            mock.fake = warm_fake(batch, "ab")
            targets = [Target(pair_id("a", n), bare_token(f"alone-{r}-{n}"), None) for n in range(batch)]
            tokens = [bare_token(f"alone-bare-{r}-{n}") for n in range(batch)]
            started = time.perf_counter()
            for n in range(batch):
                ebs.fail_over(client, targets[n], ebs.Budget(60))
            middle = time.perf_counter()
            for n in range(batch):
                bare.fail_over(pair_id("b", n), tokens[n])
            if r:  # round 0 warms up
                ours.append((middle - started) / batch * 1e6)
                bare_times.append((time.perf_counter() - middle) / batch * 1e6)
    return statistics.median(ours), statistics.median(bare_times)


def profile_floor(batch: int = 100, rounds: int = 11) -> str:
    """The ratio of the least any handler must do, measured as the warm bench measures ours.

    The floor parses the manual request with ``json.loads`` (no schema), derives the ClientToken,
    makes the same two SDK calls as the bare side, builds a minimal result and writes one orjson
    line: no validation, no settings, no redaction, no context. Whatever the floor costs over the
    bare loop, no handler can avoid; ours is measured in the same rounds, for the comparison.
    """
    import datetime
    import hashlib
    import json
    import uuid

    import orjson

    from ebs_failover import log
    from ebs_failover.handler import handler
    from ebs_failover.testing import FcContext, MockEbs

    sink = log_sink()
    os.environ.update(handler_env({disk_id("h", n): pair_id("h", n) for n in range(batch)}))
    log.configure(stream=sink)
    contexts = [FcContext(request_id=f"r{n}", region=STANDBY) for n in range(batch)]

    def floor(bare: BareSdk, raw: bytes) -> dict[str, Any]:
        started = time.perf_counter()
        request = json.loads(raw)
        pair = request["replicaPairId"]
        identity = f"manual:{request['idempotencyKey']}\n{pair}"
        token = "ebsfo-" + hashlib.sha256(identity.encode()).hexdigest()[:58]
        status = bare.status(pair)
        request_id = bare.failover(pair, token) if status not in ("failovered", "failovering") else None
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        result = {
            "id": str(uuid.uuid4()),
            "time": now,
            "data": {
                "outcome": "failed_over",
                "targets": [{"pair_id": pair, "client_token": token, "request_id": request_id}],
                "duration_ms": (time.perf_counter() - started) * 1000,
            },
        }
        sink.write(orjson.dumps({"level": "info", "timestamp": now, "result": result}).decode() + "\n")
        sink.flush()
        return result

    times: dict[str, list[float]] = {"bare": [], "floor": [], "ours": []}
    with MockEbs(warm_fake(batch, "hfb")) as mock:
        bare = BareSdk()
        for r in range(rounds + 1):
            mock.fake = warm_fake(batch, "hfb")
            ours_events = [manual_event(pair_id("h", n), f"floor-{r}-{n}") for n in range(batch)]
            floor_events = [manual_event(pair_id("f", n), f"floor-{r}-{n}") for n in range(batch)]
            bare_tokens = [bare_token(f"floor-bare-{r}-{n}") for n in range(batch)]
            for side, samples in times.items():
                with Clock() as clock:
                    for n in range(batch):
                        if side == "bare":
                            bare.fail_over(pair_id("b", n), bare_tokens[n])
                        elif side == "floor":
                            floor(bare, floor_events[n])
                        else:
                            handler(ours_events[n], contexts[n])
                if r:  # round 0 warms up
                    samples.append(clock.wall / batch * 1e6)
    log.configure(stream=io.StringIO())
    sink.close()
    median = {side: statistics.median(values) for side, values in times.items()}
    return (
        "## floor: the least a handler must do, vs the bare loop (µs per event, median of rounds)\n\n```\n"
        f"bare SDK {median['bare']:7.1f}\n"
        f"floor    {median['floor']:7.1f}  {median['floor'] / median['bare']:.2f}x\n"
        f"ours     {median['ours']:7.1f}  {median['ours'] / median['bare']:.2f}x\n```\n"
    )


def profile_cold() -> str:
    """``-X importtime`` of the cold children: self time summed per top-level package."""
    from ebs_failover.testing import FakeEbs, FakeEbsServer

    from . import cold

    fake = FakeEbs(seed=11)
    fake.load_seed(seed("h", 3))
    fake.load_seed(seed("b", 3))
    out = ["## cold: imports (-X importtime, self µs summed per top-level package)", ""]
    with FakeEbsServer(fake) as server:
        targets = {disk_id("h", n): pair_id("h", n) for n in range(3)}
        env = cold.child_env(handler_env(targets, EBS_ENDPOINT=server.endpoint, EBS_PROTOCOL="http"))
        children = {
            "handler (failover)": cold.HANDLER_CHILD.format(
                function=str(ROOT / "function"), region=STANDBY, event=manual_event(pair_id("h", 1), "imp-1")
            ),
            "handler (ignored)": cold.HANDLER_CHILD.format(
                function=str(ROOT / "function"),
                region=STANDBY,
                event=(ROOT / "events/cms-callback-recovery.txt").read_bytes(),
            ),
            "bare SDK": cold.BARE_CHILD.format(
                region=STANDBY, endpoint=server.endpoint, pair=pair_id("b", 1), token="imp-1"
            ),
        }
        samples: dict[str, list[dict[str, int]]] = {name: [] for name in children}
        for run in range(6):  # interleaved; the first run is discarded (.pyc, page cache)
            for name, code in children.items():
                done = subprocess.run(
                    [sys.executable, "-X", "importtime", "-c", code],
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                per_package: dict[str, int] = defaultdict(int)
                for line in done.stderr.splitlines():
                    m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
                    if m:
                        per_package[m.group(4).split(".")[0]] += int(m.group(1))
                        per_package["(all)"] += int(m.group(1))
                if run:
                    samples[name].append(per_package)
        for name, runs in samples.items():
            packages = {k for r in runs for k in r}
            median = {k: statistics.median(r.get(k, 0) for r in runs) for k in packages}
            total = median.pop("(all)")
            out.append(f"{name}: {total / 1000:.0f} ms of imports in all (median of 5)")
            out.append("```")
            for package, us in sorted(median.items(), key=lambda kv: -kv[1])[:14]:
                out.append(f"  {us / 1000:7.1f} ms  {us / total:6.1%}  {package}")
            out.append("```")
    return "\n".join(out) + "\n"


def _context() -> str:
    from .sampling import profile_context_storm, profile_context_warm

    return profile_context_warm() + "\n" + profile_context_storm()


def _counts() -> str:
    from .counts import profile_counts

    return profile_counts()


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT / "function"))
    profiles = {
        "warm": profile_warm,
        "storm": profile_storm,
        "stages": profile_stages,
        "floor": profile_floor,
        "cold": profile_cold,
        "context": _context,
        "counts": _counts,
    }
    for name in (argv if argv is not None else sys.argv[1:]) or list(profiles):
        print(profiles[name]())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
