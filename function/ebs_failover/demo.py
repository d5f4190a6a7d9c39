"""``make demo``: replay ``events/`` through the real handler against the embedded fake EBS.

Live mode, the demo's ``events/config.json`` (FAILOVER_TARGETS and the fake's
seed pairs), one line per event (file, outcome, pair, ClientToken), then the
fake's final pair states. ``--logs`` also prints the handler's JSON log lines.
"""

from __future__ import annotations

import argparse
import io
import json
import os
from pathlib import Path
from typing import Any

NOT_EVENTS = frozenset({"config.json", "expected.json"})


def event_files(directory: Path) -> list[Path]:
    """The sample events of a directory, in name order."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.name not in NOT_EVENTS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ebs_failover.demo", description=__doc__)
    parser.add_argument(
        "directory", nargs="?", default="events", help="folder of sample events (default: events)"
    )
    parser.add_argument("--logs", action="store_true", help="print the handler's log lines too")
    args = parser.parse_args(argv)
    directory = Path(args.directory)
    setup = json.loads((directory / "config.json").read_text())
    from . import log
    from .handler import handler
    from .testing import PROXY_VARIABLES, FakeEbs, FcContext, MockEbs

    for name in PROXY_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(setup["env"])
    os.environ["FAILOVER_MODE"] = "live"

    lines = io.StringIO()
    log.configure(stream=lines)
    fake = FakeEbs(seed=1)
    fake.load_seed(setup["seed"])
    print(f"{'event':<44} {'outcome':<20} {'pair':<22} client token")
    with MockEbs(fake):
        for path in event_files(directory):
            _show(
                path.name,
                _invoke(handler, path.read_bytes(), FcContext(region=setup["env"]["FAILOVER_REGION"])),
            )
    print("\nfake EBS, final pair states:")
    for pair in fake.backend().pairs.values():
        route = f"{pair.source_region} -> {pair.destination_region}"
        print(f"  {pair.replica_pair_id:<22} {pair.status:<12} ({route})")
    print(f"failovers that changed state: {len(fake.state_changes())}")
    if args.logs:
        print("\n" + lines.getvalue(), end="")
    return 0


def _invoke(handler: Any, raw: bytes, context: Any) -> dict[str, Any] | str:
    try:
        result: dict[str, Any] = handler(raw, context)
    except Exception as error:  # the handler raises on purpose for FC to retry
        return f"raised {type(error).__name__}"
    return result


def _show(name: str, result: dict[str, Any] | str) -> None:
    if isinstance(result, str):
        print(f"{name:<44} {result}")
        return
    data = result["data"]
    targets = data["targets"] or [{}]
    for target in targets:
        pair = target.get("pair_id", "-")
        print(f"{name:<44} {data['outcome']:<20} {pair:<22} {target.get('client_token', '-')}")


if __name__ == "__main__":
    raise SystemExit(main())
