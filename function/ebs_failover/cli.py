"""The ``ebs-failover`` command.

argparse, not click or typer: it is in the standard library and costs nothing
at import, and the command must start fast. Exit codes: 0 success, 1 the
command ran and failed, 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ebs-failover",
        description="Fail EBS async-replication pairs over on CloudMonitor alarms.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    fake = verbs.add_parser("fake-ebs", help="run the fake EBS service")
    fake_verbs = fake.add_subparsers(dest="fake_verb", metavar="VERB", required=True)
    serve = fake_verbs.add_parser(
        "serve",
        help="serve the fake EBS on 127.0.0.1",
        description="Serve the fake EBS API (credentials testing/testing) until interrupted. "
        "Point the SDK at it with endpoint HOST:PORT and protocol http.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port to bind (default: any free port)")
    serve.add_argument("--seed", metavar="FILE", help="JSON seed file of credentials and pairs to load")
    serve.add_argument(
        "--repeat-failover",
        choices=("accept", "deny"),
        default="accept",
        help="what a failover of an already failovered pair answers (default: accept)",
    )
    serve.set_defaults(run=_serve_fake_ebs)
    return parser


def _serve_fake_ebs(args: argparse.Namespace) -> int:
    from .testing import FakeEbs, FakeEbsServer

    fake = FakeEbs(repeat_failover=args.repeat_failover)
    if args.seed:
        try:
            pair_ids = fake.load_seed(args.seed)
        except (OSError, ValueError, KeyError) as error:
            print(f"ebs-failover: cannot load seed {args.seed}: {error}", file=sys.stderr)
            return EXIT_FAILED
        print(f"seeded pairs: {', '.join(pair_ids) or 'none'}", flush=True)
    try:
        server = FakeEbsServer(fake, host=args.host, port=args.port)
    except OSError as error:
        print(f"ebs-failover: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"fake EBS listening on {server.url} (credentials testing/testing)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
