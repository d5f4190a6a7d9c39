"""``ebs-failover drill`` and ``drills``: rehearse on a clone of the secondary, and list the drills.

``drill [TARGET]`` runs the real handler on the manual request ``{"action": "drill", ...}`` (every
configured target without TARGET), against the embedded fake EBS (``invoke``'s seed and settings), or
``--live`` against the real endpoint, and prints the drill report as the channels would tell it
(``--json``: the whole result). A drill never fails over and changes nothing in production, so it runs
in dry-run mode too. ``--fake-fault`` makes the embedded fake's next drill end ``execute_failed`` or
its next clean-up ``clear_failed``, to see what a failed drill reports.

``drills TARGET`` lists the drills EBS holds for a pair or group (DescribePairDrills /
DescribeReplicaGroupDrills), newest first.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime, timezone
from typing import Any

from ebs_failover.errors import CliError
from ebs_failover.outcomes import FAILURES

from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    cloud_credentials,
    load_settings,
    refused,
    refused_credentials,
    sdk_logging_silenced,
)

#: The field a drill request names its target with, by the target's prefix.
_FIELDS = (("pair-", "replicaPairId"), ("pg-", "replicaGroupId"), ("d-", "resourceId"), ("i-", "resourceId"))


def drill_request(target: str | None, *, keep: bool, reason: str | None) -> dict[str, Any]:
    """The manual drill request for ``target`` (None: every configured target)."""
    request: dict[str, Any] = {"action": "drill"}
    if target is not None:
        field = next((name for prefix, name in _FIELDS if target.startswith(prefix)), None)
        if field is None:
            raise CliError(
                f"TARGET {target!r}: expected a pair (pair-…), a replica group (pg-…), a disk (d-…) or an "
                "instance (i-…)",
                EXIT_USAGE,
            )
        request[field] = target
    if keep:
        request["keep"] = True
    if reason:
        request["reason"] = reason
    return request


def run_drill(args: argparse.Namespace) -> int:
    from ebs_failover.notify import _text

    from .run import handle

    if args.fake_fault and args.live:
        raise CliError("--fake-fault applies to the embedded fake, not to --live", EXIT_USAGE)
    raw = json.dumps(drill_request(args.target, keep=args.keep, reason=args.reason)).encode()
    args.quiet = not args.logs

    def inject(fake: Any) -> None:
        if args.fake_fault:
            fake.drills.fail_next(args.fake_fault)

    try:
        result = handle(raw, args, prepare=inject)
    except CliError as error:  # FC would retry: the drill goes on, and the person needs its id
        if error.code != EXIT_FAILED:  # a usage error (no region, no credentials): no drill started
            raise
        where = "the result's log line (--logs) and `ebs-failover drills TARGET`" if args.live else "--logs"
        raise CliError(
            f"{error.message}; the drill's id and how to clear it are in {where}", error.code
        ) from None
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        _, text = _text.markdown(result)
        print(text)
        for line in clean_up_lines(result):
            print(line)
    return EXIT_FAILED if result["data"]["outcome"] in FAILURES else EXIT_OK


def clean_up_lines(result: dict[str, Any]) -> list[str]:
    """The clean-up command of each target's drill whose disks may remain, whole, on a line of its own:
    a person copies it (the report's hint is shortened to fit a chat message; the command never is)."""
    from ebs_failover import results

    lines = []
    for target in results.ResultView(result).targets:
        report = target.drill or {}
        command = report.get("clear_command")
        if isinstance(command, str) and command and report.get("cleared") is not True:
            lines += ["", f"To clear the drill disks of {target.target_id} (pay-as-you-go until cleared):"]
            lines.append(f"  {command}")
    return lines


def run_drills(args: argparse.Namespace) -> int:
    from ebs_failover.cloud import Budget, EbsClient
    from ebs_failover.errors import CloudCallError

    if not args.target.startswith(("pair-", "pg-")):
        raise CliError(
            f"TARGET {args.target!r}: expected a pair (pair-…) or a replica group (pg-…)", EXIT_USAGE
        )
    region = args.region or os.environ.get("FAILOVER_REGION")
    if not region:
        raise CliError("drills needs the standby region: pass --region or set FAILOVER_REGION", EXIT_USAGE)
    settings = load_settings()
    credentials = cloud_credentials("drills")
    client = EbsClient(region, credentials, endpoint=settings.ebs_endpoint, protocol=settings.ebs_protocol)
    try:
        with sdk_logging_silenced():
            drills = client.describe_drills(args.target, Budget(float(args.timeout)))
    except CloudCallError as error:
        why = refused_credentials(error.code)
        if why is not None and error.code is not None:
            where = settings.ebs_endpoint or f"EBS in {region}"
            raise refused(
                f"cannot list the drills of {args.target}: {where} refused", error.code, why
            ) from None
        raise CliError(
            f"cannot list the drills of {args.target}: {error.code or type(error).__name__}: {error.message}",
            EXIT_FAILED,
        ) from None
    if args.json:
        print(json.dumps(drills, indent=2, ensure_ascii=False))
        return EXIT_OK
    drills.sort(key=_started, reverse=True)
    print(f"{'drill':<28} {'status':<15} {'started (UTC)':<20} {'recovery point (UTC)':<20} disks")
    for entry in drills:
        disks = entry.get("PairsInfo") or [entry]
        shown = ", ".join(f"{d.get('DrillDiskId') or '-'} {d.get('DrillDiskStatus') or '?'}" for d in disks)
        print(
            f"{entry.get('DrillId')!s:<28} {entry.get('Status')!s:<15} {_when(entry.get('StartAt')):<20} "
            f"{_when(entry.get('RecoverPoint')):<20} {shown}"
        )
    if not drills:
        print(f"(no drill of {args.target} in {region})")
    return EXIT_OK


def _started(entry: dict[str, Any]) -> int:
    started = entry.get("StartAt")
    return started if isinstance(started, int) else 0


def _when(seconds: Any) -> str:
    if not isinstance(seconds, int) or seconds <= 0:
        return "-"
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
