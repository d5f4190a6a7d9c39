"""Figure 6, the deployed package: its cold start under Python 3.10, with and without bytecode, and its size.

What FC runs is not the source tree but the zip of ``tools/package.py``, unpacked read-only under
``python3.10``. This bench builds that zip, and beside it the bare SDK's own closure
(``alibabacloud-ebs20210730`` at the version the zip holds, staged by the same tool for the same
platform), and unpacks each twice: as built (with ``__pycache__/*.cpython-310.pyc``) and with every
``.pyc`` removed (what the zip held before bytecode was added).

Each child is a fresh ``python3.10 -I -S -B`` in the unpacked folder (``-B``: FC's code folder is
read-only, so an instance cannot write the bytecode it compiles; ``-I -S``: nothing but the stdlib and
the folder). The function's child handles a manual failover; the bare child imports the SDK, builds a
client, Describes, Fails over and Describes again (bench/cold.py's script). All four run against one
``FakeEbsServer`` on 127.0.0.1, in a rotated order per round, timed from spawn to exit by the launcher
of bench/cold.py.

The size rows compare the two zips: bytes compressed and unpacked, and files.

Building needs the package index (pip downloads the cp310 manylinux wheels), as ``make package`` does.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import tempfile
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

from ._common import ROOT, STANDBY, Figure, bare_token, disk_id, handler_env, manual_event, pair_id, seed
from .cold import BARE_CHILD, HANDLER_CHILD, Launcher, child_env

#: The interpreter's flags on FC's read-only code folder, isolated from this machine's site-packages.
FLAGS = ("-I", "-S", "-B")
SDK = "alibabacloud-ebs20210730"


def _tool() -> ModuleType:
    """``tools/package.py`` as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("ebs_failover_package_tool", ROOT / "tools" / "package.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _bare_zip(tool: Any, python: str, version: str, out: Path) -> Path:
    """The SDK's closure alone, staged like the function's dependencies (pruned, compiled) and zipped."""
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as work_dir:
        work = Path(work_dir)
        requirement = [f"{SDK}=={version}"]
        dependencies = tool.resolve(python, requirement, work)
        wheelhouse = work / "wheelhouse"
        wheelhouse.mkdir()
        tool.build_sdist_wheels(python, dependencies, wheelhouse)
        site = work / "site"
        tool.install(python, dependencies, wheelhouse, site)
        tool._prune(site)
        tool.compile_bytecode(python, site)
        return Path(tool.write_zip(site, out))


def _unpack(archive: Path, into: Path, *, bytecode: bool) -> Path:
    into.mkdir(parents=True)
    with zipfile.ZipFile(archive) as opened:
        for name in opened.namelist():
            if bytecode or not name.endswith(".pyc"):
                opened.extract(name, into)
    return into


def _zip_figures(ours: Path, bare: Path) -> list[Figure]:
    def measure(path: Path) -> tuple[int, int, int]:
        with zipfile.ZipFile(path) as opened:
            infos = opened.infolist()
        return path.stat().st_size, sum(i.file_size for i in infos), len(infos)

    (ours_zip, ours_unpacked, ours_files), (bare_zip, bare_unpacked, bare_files) = (
        measure(ours),
        measure(bare),
    )
    mib = 1024 * 1024
    return [
        Figure(
            "package-zip",
            "the deployed zip, compressed (function + dependencies vs the SDK's closure, both with .pyc)",
            [ours_zip / bare_zip],
            None,
            ours=f"{ours_zip / mib:.1f} MiB",
            bare=f"{bare_zip / mib:.1f} MiB",
        ),
        Figure(
            "package-unpacked",
            f"the deployed zip, unpacked ({ours_files:,} files vs {bare_files:,})",
            [ours_unpacked / bare_unpacked],
            None,
            ours=f"{ours_unpacked / mib:.1f} MiB",
            bare=f"{bare_unpacked / mib:.1f} MiB",
        ),
    ]


def run(rounds: int) -> list[Figure]:
    from ebs_failover.testing import FakeEbs, FakeEbsServer

    tool = _tool()
    python = tool.find_python()
    with tempfile.TemporaryDirectory(prefix="bench-packaged-") as scratch:
        work = Path(scratch)
        built = tool.build(work / "dist", python=python)
        ours_zip = built.path
        version = next(d.version for d in built.dependencies if d.name == SDK)
        bare_zip = _bare_zip(tool, python, version, work / "bare" / "bare.zip")
        folders = {
            "ours": _unpack(ours_zip, work / "ours", bytecode=True),
            "ours-source": _unpack(ours_zip, work / "ours-source", bytecode=False),
            "bare": _unpack(bare_zip, work / "bare-pyc", bytecode=True),
            "bare-source": _unpack(bare_zip, work / "bare-source", bytecode=False),
        }
        total = rounds + 1  # one warm-up round (the page cache)
        fake = FakeEbs(seed=13)
        fake.load_seed(seed("h", 2 * total))
        fake.load_seed(seed("b", 2 * total))
        times: dict[str, list[float]] = {name: [] for name in folders}
        with FakeEbsServer(fake) as server, Launcher() as launcher:
            targets = {disk_id("h", n): pair_id("h", n) for n in range(2 * total)}
            env = child_env(handler_env(targets, EBS_ENDPOINT=server.endpoint, EBS_PROTOCOL="http"))
            for n in range(total):
                plan = [
                    ("ours", 2 * n, "h"),
                    ("ours-source", 2 * n + 1, "h"),
                    ("bare", 2 * n, "b"),
                    ("bare-source", 2 * n + 1, "b"),
                ]
                shift = n % len(plan)
                for name, index, side in plan[shift:] + plan[:shift]:
                    folder = folders[name]
                    if side == "h":
                        code = HANDLER_CHILD.format(
                            function=str(folder),
                            region=STANDBY,
                            event=manual_event(pair_id("h", index), f"bench-packaged-{index}"),
                        )
                    else:
                        code = f"import sys; sys.path.insert(0, {str(folder)!r})\n" + BARE_CHILD.format(
                            region=STANDBY,
                            endpoint=server.endpoint,
                            pair=pair_id("b", index),
                            token=bare_token(f"bench-packaged-{index}"),
                        )
                    elapsed, _ = launcher.spawn(code, env, "failed_over", python=(python, *FLAGS), cwd=folder)
                    if n:
                        times[name].append(elapsed)
        changes = len(fake.state_changes())
        if changes != 4 * total:
            raise AssertionError(f"expected {4 * total} failovers, the fake saw {changes}")
        sizes = _zip_figures(ours_zip, bare_zip)

    def ratios(name: str, basis: str) -> list[float]:
        return [a / b for a, b in zip(times[name], times[basis], strict=True)]

    def ms(name: str) -> str:
        return f"{statistics.median(times[name]) * 1000:.0f} ms"

    return [
        Figure(
            "cold-packaged",
            f"the zip on python3.10, failover, fresh process to result, with bytecode ({rounds} rounds)",
            ratios("ours", "bare"),
            1.15,
            ours=ms("ours"),
            bare=ms("bare"),
        ),
        Figure(
            "cold-packaged-no-pyc",
            "the same zip without its .pyc (as built before), vs the bare SDK with bytecode",
            ratios("ours-source", "bare"),
            None,
            ours=ms("ours-source"),
            bare=ms("bare"),
        ),
        Figure(
            "cold-packaged-pyc-gain",
            "the zip without .pyc / with .pyc: what bytecode saves every cold start",
            ratios("ours-source", "ours"),
            None,
            ours=ms("ours-source"),
            bare=ms("ours"),
            notes=[
                "the bare SDK without / with its .pyc, for comparison: "
                f"{statistics.median(ratios('bare-source', 'bare')):.2f}x "
                f"({ms('bare-source')} vs {ms('bare')})"
            ],
        ),
        *sizes,
    ]
