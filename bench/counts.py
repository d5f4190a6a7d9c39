"""``python -m bench.profile counts``: the warm event counted, not timed, under valgrind's callgrind.

callgrind counts the instructions a process runs and simulates its caches:
counts the machine's neighbours cannot move (each child's own addresses and
hash seed still move a whole event's counts by under 1 %).
Each side's warm failover events (the warm figure's, against the same
in-process fake) run in a child under callgrind, with collection switched on
only around the region being counted:

* ``total``: one whole event (``handler(event, ctx)``, or the bare SDK's
  Describe + Failover);
* ``sdk``: inside the SDK client's ``call_api`` only (signing, requests, the
  fake), which both sides call with the same parameters;
* ``outside``: the event minus ``call_api``: all our code, or the bare side's
  typed models;
* one of :data:`STAGES` (our side): inside that function only.

The caches simulated: 32 kB first-level instruction and data caches, and a
512 kB last level standing for the L2 (what one core of this machine keeps to
itself), so that the last-level misses are the lines an event fetches from
further away. A region is switched on and off by a client request from a tiny
C function loaded with ctypes (built here, with the system's ``cc`` and
valgrind's ``callgrind.h``); its own cost, about 1,500 instructions per
switch pair, is in every figure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._common import ROOT

EVENTS = 40
#: (label, module, attribute path): our stages, counted inside the function. A path ending in
#: ``-sdk`` is counted less what runs inside ``call_api`` (collection off there), in the same child.
STAGES = (
    ("parse (decode, schema, trigger)", "ebs_failover.handler", "parse"),
    ("decide (policy, ClientToken)", "ebs_failover.handler", "decide"),
    ("the calls' glue (fail_over less call_api)", "ebs_failover.ebs", "fail_over-sdk"),
    ("_result (CloudEvent and its redaction check)", "ebs_failover.handler", "_Invocation._result"),
    ("the canonical log line (structlog to the stream)", "ebs_failover.log", "_BoundLogger.info"),
    ("_find_credentials", "ebs_failover.handler", "_Invocation._find_credentials"),
    ("config.current", "ebs_failover.config", "current"),
)
_CACHES = ("--I1=32768,8,64", "--D1=32768,8,64", "--LL=524288,8,64")
_TOGGLE_SOURCE = "#include <valgrind/callgrind.h>\nvoid toggle(void) { CALLGRIND_TOGGLE_COLLECT; }\n"
_METRICS = (("Ir", "instructions"), ("I1mr", "L1i misses"), ("D1", "L1d misses"), ("LL", "L2 misses"))


def profile_counts() -> str:
    """The table: each region's counts per event, ours and the bare side's, and their ratio."""
    missing = [tool for tool in ("valgrind", "cc") if shutil.which(tool) is None]
    if missing or not Path("/usr/include/valgrind/callgrind.h").exists():
        return f"counts: needs valgrind, its headers and a C compiler (missing: {missing or 'callgrind.h'})\n"
    with tempfile.TemporaryDirectory() as scratch:
        shim = Path(scratch) / "toggle.so"
        source = Path(scratch) / "toggle.c"
        source.write_text(_TOGGLE_SOURCE)
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(shim), str(source)], check=True)
        jobs = [(side, region) for region in ("total", "sdk", "outside") for side in ("ours", "bare")]
        jobs += [("ours", f"{module}:{attr}") for _, module, attr in STAGES]
        # One child per core: each is single-threaded, and its counts do not depend on the others.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            counts = pool.map(lambda job: _count(shim, job[0], job[1], Path(scratch)), jobs)
            counted = dict(zip(jobs, counts, strict=True))
    rows = [
        (region, counted["ours", region], counted["bare", region]) for region in ("total", "sdk", "outside")
    ]
    stages = [(label, counted["ours", f"{module}:{attr}"]) for label, module, attr in STAGES]
    return _render(rows, stages)


def _count(shim: Path, side: str, region: str, scratch: Path) -> dict[str, float]:
    out = scratch / f"callgrind.{side}.{region.replace(':', '.')}"
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            "--cache-sim=yes",
            *_CACHES,
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "bench.counts",
            str(shim),
            side,
            region,
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return _totals(out.read_text())


def _totals(text: str) -> dict[str, float]:
    """Per-event counts from a callgrind output file's ``events:`` and ``summary:`` lines."""
    names: list[str] = []
    values: list[int] = []
    for line in text.splitlines():
        if line.startswith("events:"):
            names = line.split()[1:]
        elif line.startswith(("summary:", "totals:")):
            values = [int(v) for v in line.split()[1:]]
    raw = dict(zip(names, values, strict=False))
    return {
        "Ir": raw.get("Ir", 0) / EVENTS,
        "I1mr": raw.get("I1mr", 0) / EVENTS,
        "D1": (raw.get("D1mr", 0) + raw.get("D1mw", 0)) / EVENTS,
        "LL": (raw.get("ILmr", 0) + raw.get("DLmr", 0) + raw.get("DLmw", 0)) / EVENTS,
    }


def _render(rows: list[tuple[str, dict[str, float], dict[str, float]]], stages: list[Any]) -> str:
    out = [
        f"## Counted: one warm failover event under callgrind ({EVENTS} events per side; per event)",
        "",
        "| region | " + " | ".join(f"{label} ours / bare (ratio)" for _, label in _METRICS) + " |",
        "|---|" + "---|" * len(_METRICS),
    ]
    for region, ours, bare in rows:
        cells = [f"{_k(ours[m])} / {_k(bare[m])} ({ours[m] / bare[m]:.3f}x)" for m, _ in _METRICS]
        out.append(f"| {region} | " + " | ".join(cells) + " |")
    out += ["", "Our stages (each counted inside its function, in the same events):", ""]
    out += [
        "| stage | " + " | ".join(label for _, label in _METRICS) + " |",
        "|---|" + "---|" * len(_METRICS),
    ]
    for label, counts in stages:
        out.append(f"| {label} | " + " | ".join(_k(counts[m]) for m, _ in _METRICS) + " |")
    return "\n".join(out) + "\n"


def _k(value: float) -> str:
    return f"{value / 1000:,.1f}k" if value >= 1000 else f"{value:.0f}"


# -- the child, run under callgrind ----------------------------------------------------------------


def _child(shim: str, side: str, region: str) -> None:
    import ctypes
    import gc

    sys.path.insert(0, str(ROOT / "function"))
    from ebs_failover.testing import MockEbs

    from . import warm
    from ._common import BareSdk, log_sink, warm_fake

    toggle = ctypes.CDLL(shim).toggle
    inside = _Switch(toggle, region)
    sink = log_sink()
    with warm._environment(EVENTS, sink), MockEbs(warm_fake(EVENTS)) as mock:
        sides = warm._Sides(1, EVENTS, BareSdk())
        sides.ours_batch(0)  # warm-up, as the warm figure's
        sides.bare_batch(0)
        mock.fake = warm_fake(EVENTS)
        gc.collect()
        inside.install()
        for n in range(EVENTS):
            with inside.event():
                if side == "ours":
                    sides.handler(sides.events[1][n], sides.contexts[n])
                else:
                    sides.bare.fail_over(sides.bare_pairs[n], sides.tokens[1][n])


class _Switch:
    """Turns collection on around the counted region, and only there.

    ``active`` is true during an event, ``in_stage`` inside the counted stage: ``call_api`` flips
    collection when the event's switch is on around it (``outside``), when it is the region
    (``sdk``), or inside a stage counted less the SDK.
    """

    def __init__(self, toggle: Any, region: str) -> None:
        self.toggle, self.region = toggle, region
        self.active = self.in_stage = False

    def install(self) -> None:
        from alibabacloud_tea_openapi.client import Client

        if self.region in ("sdk", "outside"):
            _wrap(Client, "call_api", self, "active")
        elif ":" in self.region:
            import importlib

            module, attribute = self.region.split(":")
            attribute, less_sdk, _ = attribute.partition("-sdk")
            owner: Any = importlib.import_module(module)
            *path, name = attribute.split(".")
            for part in path:
                owner = getattr(owner, part)
            _wrap(owner, name, self, "active", stage=True)
            if less_sdk:
                _wrap(Client, "call_api", self, "in_stage")

    @contextmanager
    def event(self) -> Iterator[None]:
        whole = self.region in ("total", "outside")
        self.active = True
        if whole:
            self.toggle()
        try:
            yield
        finally:
            if whole:
                self.toggle()
            self.active = False


def _wrap(owner: Any, name: str, switch: _Switch, gate: str, *, stage: bool = False) -> None:
    """Replace ``owner.name`` by a version that flips collection around itself while ``gate`` holds."""
    original = getattr(owner, name)

    def switched(*args: Any, **kwargs: Any) -> Any:
        if not getattr(switch, gate):
            return original(*args, **kwargs)
        switch.toggle()
        switch.in_stage = stage or switch.in_stage
        try:
            return original(*args, **kwargs)
        finally:
            switch.in_stage = switch.in_stage and not stage
            switch.toggle()

    setattr(owner, name, switched)


if __name__ == "__main__":
    _child(*sys.argv[1:4])
