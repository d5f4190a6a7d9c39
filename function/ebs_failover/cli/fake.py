"""``ebs-failover fake-ebs serve`` and ``fake-oss serve``: a fake on a socket, for the SDK (or a deployed
tool) to call."""

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


def run_serve_oss(args: argparse.Namespace) -> int:
    from ebs_failover.testing import FakeOss, FakeOssServer

    fake = FakeOss()
    for key, secret in args.credential:
        fake.register_credential(key, secret)
    try:
        for name in args.bucket:
            fake.create_bucket(name)
    except ValueError as error:
        print(f"ebs-failover: {error}", file=sys.stderr)
        return EXIT_FAILED
    try:
        server = FakeOssServer(fake, host=args.host, port=args.port)
    except OSError as error:
        print(f"ebs-failover: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return EXIT_FAILED
    keys = ", ".join(["testing", *(key for key, _ in args.credential)])
    buckets = ", ".join(fake.backend.bucket_names()) or "none"
    print(f"fake OSS listening on {server.endpoint} (access keys: {keys}; buckets: {buckets})", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return EXIT_OK
