"""``ebs-failover fake-ebs serve``: the fake EBS on a socket, for the SDK (or a deployed tool) to call."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from ._common import EXIT_FAILED, EXIT_OK, load_json, seed_of


def run_serve(args: argparse.Namespace) -> int:
    from ebs_failover.testing import FakeEbs, FakeEbsServer

    if args.latency < 0 or (args.quota is not None and args.quota < 0):
        print("ebs-failover: --latency and --quota must not be negative", file=sys.stderr)
        return EXIT_FAILED
    fake = FakeEbs(repeat_failover=args.repeat_failover, latency=args.latency, quota=args.quota)
    if args.seed:
        # A seed file, or a config file like events/config.json (its "seed"), as for invoke --seed.
        path = Path(args.seed)
        seed = seed_of(load_json(path, "seed"), path)
        try:
            pair_ids = fake.load_seed(seed)
        except (ValueError, KeyError, TypeError) as error:
            print(f"ebs-failover: cannot load seed {args.seed}: {error}", file=sys.stderr)
            return EXIT_FAILED
        groups = ", ".join(fake.backend().groups)
        print(
            f"seeded pairs: {', '.join(pair_ids) or 'none'}" + (f"; groups: {groups}" if groups else ""),
            flush=True,
        )
    try:
        server = FakeEbsServer(fake, host=args.host, port=args.port)
    except OSError as error:
        print(f"ebs-failover: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"fake EBS listening on {server.url} (credentials testing/testing)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return EXIT_OK
