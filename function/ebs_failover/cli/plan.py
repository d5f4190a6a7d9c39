"""``ebs-failover check``, ``token`` and ``schema``: parse and decide, no cloud call, no SDK import."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ebs_failover import results
from ebs_failover.errors import CliError
from ebs_failover.triggers import SCHEMA_DIR

if TYPE_CHECKING:
    from ebs_failover.config import Settings
    from ebs_failover.pipeline import Decision

from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    event_name,
    load_settings,
    masked,
    read_config,
    read_event,
    say,
    warn,
)

#: Stands in for the FC request id when a manual request without idempotencyKey is checked without one.
_PLACEHOLDER_REQUEST_ID = "REQUEST-ID-PLACEHOLDER"
_UNKNOWN_TOKEN = "(derived from the FC request id: pass --request-id)"

#: How ``check`` prints the outcomes of its own (what the function would do), in the words of the README's
#: outcome table (the result's outcomes); the others (dry_run, ignored, refused, rejected) are the table's.
#: ``--json`` keeps check's own: ``fail_over`` and ``drill``.
PRINTED_OUTCOMES = {
    "fail_over": "would fail over (live): failed_over if EBS accepts the Failover",
    "drill": "would drill: drill_passed if each drill executes and clears, else drill_failed",
}


@dataclass(frozen=True)
class Checked:
    """What the handler would decide for one event, without acting."""

    event: str
    mode: str
    region: str | None
    outcome: str  # rejected | ignored | refused | dry_run | fail_over | drill
    reason: str
    trigger: dict[str, Any] | None = None
    targets: list[dict[str, Any]] = field(default_factory=list)
    offending_field: str | None = None  # the field a rejected event got wrong
    needs_request_id: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "event": self.event,
            "outcome": self.outcome,
            "reason": self.reason,
            "mode": self.mode,
            "region": self.region,
            "trigger": self.trigger,
            "targets": self.targets,
        }
        if self.offending_field is not None:
            data["field"] = self.offending_field
        if self.needs_request_id:
            data["needs_request_id"] = True
        return data


def check_events(
    raw: bytes, name: str, request_id: str | None, settings: Settings | None = None
) -> list[Checked]:
    """Decode, parse and decide like the handler (same settings, same stages, same tokens), with no I/O:
    one :class:`Checked` for an event, one per event (``name[i]``) for an event-streaming batch, each
    decided and capped as the handler decides a batch. ``settings``: the environment's by default."""
    settings = settings if settings is not None else load_settings()
    from ebs_failover.pipeline import decide_batch
    from ebs_failover.triggers import Batch

    decoded = decode_or_rejection(raw)
    if isinstance(decoded, Batch):
        decisions = decide_batch(decoded, settings, time.time())
        return [_checked(d, f"{name}[{i}]", settings, False) for i, d in enumerate(decisions)]
    return [check_event(raw, name, request_id, settings)]


def decode_or_rejection(raw: bytes) -> object:
    """What the handler decodes ``raw`` to (a batch, or one payload), or ``raw`` itself when it is not a
    well-formed event: the single event's path then rejects it with the same words."""
    from ebs_failover.triggers import InvalidEvent, decode

    try:
        return decode(raw)
    except InvalidEvent:
        return raw


def check_event(raw: bytes, name: str, request_id: str | None, settings: Settings | None = None) -> Checked:
    """Parse and decide one event like the handler does (same settings, same stages, same tokens)."""
    settings = settings if settings is not None else load_settings()
    from ebs_failover.handler import decide_event

    decision = decide_event(raw, settings, request_id=request_id, now=time.time())
    needs_request_id = False
    if (
        decision.trigger is None
        and request_id is None
        and (decision.error or {}).get("field") == "idempotencyKey"
    ):
        # A manual request without idempotencyKey: its identity (and tokens) will be FC's request id.
        needs_request_id = True
        decision = decide_event(raw, settings, request_id=_PLACEHOLDER_REQUEST_ID, now=time.time())
    return _checked(decision, name, settings, needs_request_id)


def _checked(decision: Decision, name: str, settings: Settings, needs_request_id: bool) -> Checked:
    from ebs_failover.results import trigger_summary

    plan, trigger = decision.plan, decision.trigger
    if trigger is None:
        field_name = (decision.error or {}).get("field")
        return Checked(
            name, settings.mode, settings.region, "rejected", plan.reason, offending_field=field_name
        )
    summary = trigger_summary(trigger, resources_shown=len(trigger.resource_ids))
    if needs_request_id:
        summary["identity"] = "manual:(the FC request id)"
    if trigger.kind == "manual":
        summary.update(target_id=trigger.target_id, reason=trigger.reason)
    targets = [
        {
            "group_id" if target.is_group else "pair_id": target.target_id,
            "resource_id": target.resource_id,
            "client_token": None if needs_request_id else target.client_token,
        }
        for target in plan.targets
    ]
    # A drill runs in both modes (it changes nothing in production): its plan is a drill either way.
    acting = "drill" if plan.action == "drill" else "fail_over" if plan.live else "dry_run"
    # A stale trigger's targets are only looked at (a retry reports a failover done): refused otherwise.
    outcome = plan.outcome or ("refused" if plan.stale else acting)
    return Checked(
        name,
        settings.mode,
        settings.region,
        outcome,
        plan.reason,
        summary,
        targets,
        needs_request_id=needs_request_id,
    )


def settings_for(args: argparse.Namespace) -> Settings:
    """The settings ``check`` and ``token`` decide with, as ``invoke`` reads them: the environment's over
    ``--config FILE``'s (else ./events/config.json's, when it exists); which came from the file, and the
    settings' warnings, on stderr."""
    config = read_config(args.config, default=True)
    settings = load_settings(config)
    config.tell(config.defaults())
    warn(settings)
    return settings


def run_check(args: argparse.Namespace) -> int:
    name = event_name(args.event)
    raw = read_event(args.event)
    checked = check_events(raw, name, args.request_id, settings_for(args))
    if args.json:
        shown: Any = (
            checked[0].to_json()
            if len(checked) == 1 and checked[0].event == name
            else {
                "event": name,
                "batch": [one.to_json() for one in checked],
            }
        )
        print(masked(json.dumps(shown, indent=2, ensure_ascii=False)))
    else:
        for index, one in enumerate(checked):
            if index:
                print()
            _print_checked(one)
    rejected = [one for one in checked if one.outcome == "rejected"]
    for one in rejected:
        say(f"event rejected: {one.reason}" if len(checked) == 1 else f"{one.event} rejected: {one.reason}")
    return EXIT_FAILED if rejected else EXIT_OK


def _print_checked(checked: Checked) -> None:
    rows: list[tuple[str, str]] = [("event", checked.event)]
    trigger = checked.trigger
    if trigger is not None:
        rows += [
            ("kind", trigger["kind"]),
            ("identity", trigger["identity"]),
            ("state", trigger["state"]),
            ("level", trigger["level"] or "-"),
            ("resource ids", ", ".join(trigger["resource_ids"]) or "-"),
            ("rule", trigger["rule"] or "-"),
            ("event type", trigger["event_type"] or "-"),
        ]
        if trigger["kind"] == "manual":
            rows += [("target", trigger["target_id"] or "-"), ("reason", trigger["reason"] or "-")]
    rows += [
        ("mode", checked.mode),
        ("region", checked.region or "(the function's region)"),
        ("outcome", PRINTED_OUTCOMES.get(checked.outcome, checked.outcome)),
        ("why", checked.reason),
    ]
    for key, value in rows:
        print(masked(f"{key + ':':<14}{value}"))
    if checked.targets:
        print("targets:")
        for target in checked.targets:
            # Named by id, not through a resource: a drill of what is configured, or a manual request.
            named = "(configured)" if checked.outcome == "drill" else "(manual)"
            resource = f"({target['resource_id']})" if target["resource_id"] else named
            token = target["client_token"] or _UNKNOWN_TOKEN
            print(f"  {results.target_id(target):<24} {resource:<24} {token}")


def run_token(args: argparse.Namespace) -> int:
    raw = read_event(args.event)
    every = check_events(raw, event_name(args.event), args.request_id, settings_for(args))
    for checked in every:
        if checked.outcome == "rejected":
            raise CliError(f"event rejected: {checked.reason}", EXIT_FAILED)
        if checked.needs_request_id:
            raise CliError(
                "this manual request has no idempotencyKey, so its ClientToken is derived from the FC "
                "request id of the invocation: pass --request-id ID",
                EXIT_USAGE,
            )
    targets = [target for checked in every for target in checked.targets]
    if not targets:
        reasons = "; ".join(f"{c.outcome} ({c.reason})" for c in every)
        raise CliError(f"no ClientToken: the event is {reasons}", EXIT_FAILED)
    for target in targets:
        print(f"{results.target_id(target)} {target['client_token']}")
    return EXIT_OK


#: Not an event shape: the result event the function publishes (``schema result``).
RESULT = "result"


def shapes() -> list[str]:
    return sorted(path.stem for path in SCHEMA_DIR.glob("*.json"))


def _schema_path(name: str) -> Path:
    return results.SCHEMA_PATH if name == RESULT else SCHEMA_DIR / f"{name}.json"


def run_schema(args: argparse.Namespace) -> int:
    names = [*shapes(), RESULT]
    if args.shape is None:
        for name in names:
            try:
                title = json.loads(_schema_path(name).read_text(encoding="utf-8")).get("title", "")
            except ValueError:
                title = "(unreadable)"
            print(f"{name:<16}{title}")
        return EXIT_OK
    shape = args.shape.removesuffix(".json")
    if shape not in names:
        raise CliError(f"unknown shape {args.shape!r}; the shapes are: {', '.join(names)}", EXIT_USAGE)
    print(_schema_path(shape).read_text(encoding="utf-8"), end="")
    return EXIT_OK
