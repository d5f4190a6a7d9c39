"""Two builds of the zip, side by side: ``python -m bench.ab BEFORE.zip AFTER.zip [ROUNDS]``.

What ``bench packaged`` cannot resolve on a noisy machine (its spread is ±20-30 %), a change of a few
milliseconds to the cold start, this measures from inside the process: each round unpacks nothing new,
it spawns a fresh ``python3.10 -I -S -B`` in each unpacked zip (the two in alternating order), which
times ``import index`` and the first ``handler`` call (a manual failover, verified, against one
``FakeEbsServer`` on 127.0.0.1) with ``time.perf_counter``; the interpreter's own start is left out.
It prints the medians and the per-round ratio after / before. Build BEFORE from an earlier checkout's
``tools/package.py`` (``git worktree add``), AFTER with ``make package``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ._common import STANDBY, disk_id, handler_env, manual_event, pair_id, seed
from .cold import _CTX, child_env
from .packaged import FLAGS, _tool

CHILD = (
    "import sys, time; t0 = time.perf_counter(); sys.path.insert(0, '.'); import index; " + _CTX + "; "
    "t1 = time.perf_counter(); r = index.handler({event!r}, CTX); t2 = time.perf_counter(); "
    "assert r['data']['outcome'] == 'failed_over', r; "
    "print(f'{{(t1 - t0) * 1000:.2f}} {{(t2 - t1) * 1000:.2f}}')"
)


def compare(before: Path, after: Path, rounds: int) -> dict[str, list[tuple[float, float]]]:
    """Per side, each round's (import ms, first call ms); the first round (the page cache) is dropped."""
    from ebs_failover.testing import FakeEbs, FakeEbsServer

    python = _tool().find_python()
    timings: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as scratch:
        folders = {}
        for side, archive in (("before", before), ("after", after)):
            folders[side] = Path(scratch, side)
            with zipfile.ZipFile(archive) as opened:
                opened.extractall(folders[side])
        fake = FakeEbs(seed=13)
        fake.load_seed(seed("h", 2 * (rounds + 1)))
        with FakeEbsServer(fake) as server:
            targets = {disk_id("h", n): pair_id("h", n) for n in range(2 * (rounds + 1))}
            env = child_env(handler_env(targets, EBS_ENDPOINT=server.endpoint, EBS_PROTOCOL="http"))
            index = 0
            for n in range(rounds + 1):
                order = ["before", "after"] if n % 2 == 0 else ["after", "before"]
                for side in order:
                    event = manual_event(pair_id("h", index), f"bench-ab-{index}")
                    index += 1
                    done = subprocess.run(
                        [python, *FLAGS, "-c", CHILD.format(region=STANDBY, event=event)],
                        cwd=folders[side],
                        env=env,
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    if done.returncode != 0:
                        raise AssertionError(f"{side}: {done.stderr[-2000:]}")
                    imported, called = map(float, done.stdout.split()[-2:])
                    if n:
                        timings[side].append((imported, called))
    return timings


def main(argv: list[str]) -> int:
    before, after = Path(argv[0]), Path(argv[1])
    rounds = int(argv[2]) if len(argv) > 2 else 30
    timings = compare(before, after, rounds)
    for side, rows in timings.items():
        imported = statistics.median(row[0] for row in rows)
        called = statistics.median(row[1] for row in rows)
        total = statistics.median(sum(row) for row in rows)
        print(f"{side}: import index {imported:.1f} ms, first call {called:.1f} ms, total {total:.1f} ms")
    ratios = [sum(a) / sum(b) for a, b in zip(timings["after"], timings["before"], strict=True)]
    print(f"after / before, per round: {statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
