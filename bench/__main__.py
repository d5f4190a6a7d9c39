"""``python -m bench [NAME ...] [--quick] [--only NAME ...] [--no-write]``: run, print, update BENCHMARKS.md.

``fleet`` writes its own block (the headline, between ``<!-- bench:fleet:start -->`` and
``<!-- bench:fleet:end -->``), and so does ``packaged`` (``<!-- bench:packaged:start -->``, the deployed
zip: it builds one, about a minute); the others share the main one. A block is left alone when none of
its benches ran.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone

from ._common import ROOT, Figure, machine, spread

BENCHES = ("fleet", "warm", "cold", "packaged", "storm", "size")
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
FLEET_START, FLEET_END = "<!-- bench:fleet:start -->", "<!-- bench:fleet:end -->"
PACKAGED_START, PACKAGED_END = "<!-- bench:packaged:start -->", "<!-- bench:packaged:end -->"
#: The benches of the main block.
MAIN = ("warm", "cold", "storm", "size")
REPORT = ROOT / "BENCHMARKS.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds (a smoke run; figures are noisier)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHES,
        metavar="NAME",
        help=f"run only these ({', '.join(BENCHES)})",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("names", nargs="*", metavar="NAME", help="the same as --only NAME")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHES]
    if unknown:
        parser.error(f"unknown bench {unknown[0]!r} (choose from {', '.join(BENCHES)})")
    chosen = [name for name in BENCHES if name in (args.only or []) + args.names] or list(BENCHES)
    sys.path.insert(
        0, str(ROOT / "function")
    )  # the function as FC loads it, even without the editable install

    host = machine()
    figures: list[Figure] = []
    packaged: list[Figure] = []
    size_rows: list[tuple[str, int]] = []
    timings: dict[str, float] = {}
    fleet_block = ""
    for name in chosen:
        t0 = time.perf_counter()
        print(f"… {name}", file=sys.stderr, flush=True)
        if name == "fleet":
            fleet_block = run_fleet(host, args.quick)
        else:
            found, rows = run_figures(name, args.quick)
            (packaged if name == "packaged" else figures).extend(found)
            size_rows += rows
        timings[name] = time.perf_counter() - t0
    blocks: list[tuple[str, str, str]] = []
    if fleet_block:
        blocks.append((fleet_block, FLEET_START, FLEET_END))
    if packaged:
        seconds = {"packaged": timings["packaged"]}
        block = render(packaged, [], host, args.quick, seconds, timings["packaged"])
        blocks.append((block, PACKAGED_START, PACKAGED_END))
    if any(name in MAIN for name in chosen):
        main_timings = {name: t for name, t in timings.items() if name in MAIN}
        block = render(figures, size_rows, host, args.quick, main_timings, sum(main_timings.values()))
        blocks.append((block, START, END))
    for block, _, _ in blocks:
        print(block + "\n")
    if not args.no_write:
        for block, start, end in blocks:
            write(block, start, end)
        print(f"(written to {REPORT.relative_to(ROOT)})", file=sys.stderr)
    return 0


def run_figures(name: str, quick: bool) -> tuple[list[Figure], list[tuple[str, int]]]:
    """The figures of one bench of the main block (and the size bench's table rows)."""
    figures: list[Figure] = []
    size_rows: list[tuple[str, int]] = []
    if name == "warm":
        from . import warm

        figures += warm.run(rounds=5 if quick else 21, batch=40 if quick else 100)
        figures += warm.run(rounds=5 if quick else 21, batch=40 if quick else 100, interleaved=True)
        figures += warm.run(rounds=5 if quick else 11, batch=40 if quick else 100, socket=True)
        # What a user feels: EBS answering after a real round trip.
        figures += warm.run(rounds=3 if quick else 5, batch=20, interleaved=True, latency=0.03)
    elif name == "cold":
        from . import cold

        figures += cold.run(rounds=5 if quick else 9)
    elif name == "packaged":
        from . import packaged

        figures += packaged.run(rounds=3 if quick else 15)
    elif name == "storm":
        from . import storm

        figures += storm.run(runs=5 if quick else 7)
    elif name == "size":
        from . import size

        found, size_rows = size.run()
        figures += found
    return figures, size_rows


def run_fleet(host: str, quick: bool) -> str:
    """The fleet bench's block: when and where, its tables, its wall time."""
    from . import fleet

    t0 = time.perf_counter()
    table = fleet.run(rounds=1 if quick else 3, quota_rounds=1 if quick else 2).render()
    seconds = time.perf_counter() - t0
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            f"Run {when}{' (--quick)' if quick else ''}: {host}.",
            "",
            table,
            "",
            f"Bench wall time: fleet {seconds:.0f} s.",
        ]
    )


def render(
    figures: list[Figure],
    size_rows: list[tuple[str, int]],
    host: str,
    quick: bool,
    timings: dict[str, float],
    total: float,
) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run {when}{' (--quick)' if quick else ''}: {host}.",
        "",
        "Every ratio is ours / bare SDK, measured side by side in this run, the median of the rounds "
        "(spread: min-max of the rounds). Only the cold-start and memory rows have a goal; their verdict "
        "is on the wall-time (or RSS) ratio. warm, warm-interleaved, warm-socket, storm and size are "
        "information, without a goal. The in-process benches also give the same rounds' ratio in thread "
        "CPU time, which a busy machine disturbs less.",
        "",
        "| figure | what | ours | bare SDK | ratio | spread | CPU-time ratio | goal | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        goal = "—" if f.goal is None else f"≤ {f.goal:.2f}x" + (" and < 128 MB" if f.name == "memory" else "")
        lines.append(
            f"| {f.name} | {f.what} | {f.ours} | {f.bare} | **{_ratio(f)}** | {spread(f.ratios)} "
            f"| {f.cpu_ratio} | {goal} | {f.verdict} |"
        )
    for f in figures:
        for note in f.notes + ([f.extra_note] if f.extra_note else []):
            lines.append(f"\n{f.name}: {note}")
    if size_rows:
        lines += ["", "| distribution (runtime closure, no .pyc) | size |", "|---|---|"]
        lines += [f"| {name} | {size / 1e3:,.0f} kB |" for name, size in size_rows]
    lines += [
        "",
        "Bench wall time: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
        + f"; total {total:.0f} s.",
    ]
    return "\n".join(lines)


def _ratio(figure: Figure) -> str:
    """The ratio to two decimals; to three when two would hide which side of the goal it is on."""
    shown = f"{figure.ratio:.2f}x"
    if figure.goal is not None and float(shown[:-1]) == figure.goal and figure.ratio != figure.goal:
        shown = f"{figure.ratio:.3f}x"
    return shown


def write(block: str, start: str = START, end: str = END) -> None:
    """Replace what is between ``start`` and ``end`` in BENCHMARKS.md (the markers added at its end when
    missing)."""
    text = REPORT.read_text() if REPORT.exists() else f"# Benchmarks\n\n{start}\n{end}\n"
    if start not in text or end not in text:
        text = text.rstrip("\n") + f"\n\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    REPORT.write_text(f"{head}{start}\n{block}\n{end}{tail}")


if __name__ == "__main__":
    raise SystemExit(main())
