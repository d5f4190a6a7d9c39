"""Figure 5, package size: what the function ships next to what the SDK alone ships.

Computed from the installed venv (``importlib.metadata``: each distribution's
RECORD, ``.pyc`` files left out since a deployment zip need not carry them),
no network. The runtime closure is ``ebs-failover``'s dependencies without
extras, followed transitively; the SDK closure is ``alibabacloud-ebs20210730``'s.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from ._common import FUNCTION, Figure

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requires(dist: metadata.Distribution) -> list[str]:
    names = []
    for requirement in dist.requires or []:
        try:
            from packaging.requirements import Requirement

            parsed = Requirement(requirement)
            if parsed.marker is not None and not parsed.marker.evaluate({"extra": ""}):
                continue
            names.append(parsed.name)
        except ImportError:  # packaging is a dev tool here; fall back to a rough reading
            if "extra ==" in requirement:
                continue
            match = _NAME.match(requirement)
            if match:
                names.append(match.group(1))
    return names


def closure(root: str, *, include_root: bool = True) -> dict[str, metadata.Distribution]:
    found: dict[str, metadata.Distribution] = {}
    todo = [root]
    while todo:
        name = _canonical(todo.pop())
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[name] = dist
        todo.extend(_requires(dist))
    if not include_root:
        found.pop(_canonical(root), None)
    return found


def dist_size(dist: metadata.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        if file.suffix == ".pyc" or ".dist-info" in str(file) or str(file).endswith(".pth"):
            continue
        path = Path(str(file.locate()))
        if path.is_file():
            total += path.stat().st_size
    return total


def tree_size(root: Path) -> int:
    return sum(
        p.stat().st_size
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not any(x.endswith(".egg-info") for x in p.parts)
    )


def run() -> tuple[list[Figure], list[tuple[str, int]]]:
    runtime = closure("ebs-failover", include_root=False)
    sdk = closure("alibabacloud-ebs20210730")
    rows: list[tuple[str, int]] = []
    for name in sorted(runtime, key=lambda n: (n not in sdk, n)):
        rows.append((("SDK: " if name in sdk else "ours: ") + name, dist_size(runtime[name])))
    sdk_total = sum(dist_size(d) for d in sdk.values())
    extra_total = sum(dist_size(d) for name, d in runtime.items() if name not in sdk)
    left_out = tree_size(FUNCTION / "ebs_failover" / "testing") + tree_size(FUNCTION / "ebs_failover" / "cli")
    function_total = tree_size(FUNCTION) - left_out
    rows.append(("function/ as shipped (without testing/ and cli/)", function_total))
    rows.append(("function/ebs_failover/testing and cli (left out of the FC zip)", left_out))
    ours_total = sdk_total + extra_total + function_total
    figure = Figure(
        "size",
        "deployed code: function/ + every runtime dependency, vs the SDK's own closure (no .pyc)",
        [ours_total / sdk_total],
        None,
        ours=f"{ours_total / 1e6:.1f} MB",
        bare=f"{sdk_total / 1e6:.1f} MB",
        notes=[
            f"function/ as shipped: {function_total / 1e3:.0f} kB "
            f"(the fake and the CLI, left out: {left_out / 1e3:.0f} kB)"
        ],
    )
    return [figure], rows
