"""``ebs-failover history`` and ``incident``: what the incident ledger (``LEDGER``) holds, read from OSS.

``history [TARGET] [--since WHEN]`` lists every incident, newest first (by its first record's time): its
targets, its decisions (which FC request claimed it, when it was done and with what outcome), the
Failovers EBS accepted (RequestId, data loss, recovery point), the verifications, and the news told to
each channel (or not: failed and unfinished tellings). ``incident ID`` shows one incident the same way,
then every record it holds in time order. ``--json`` prints the same as JSON.

Both read ``LEDGER`` / ``LEDGER_REGION`` / ``OSS_ENDPOINT`` as the function does, with the
``ALIBABA_CLOUD_*`` credentials; the bucket's region, when ``LEDGER_REGION`` is unset, is ``--region``,
else ``ALIBABA_CLOUD_REGION_ID``, else ``FAILOVER_REGION`` (the function's, the ledger's default).
The pseudo-incidents ``target:<id>`` (the index of each target's Failovers) are not incidents: never listed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ebs_failover.errors import CliError, LedgerError
from ebs_failover.notify._text import data_loss

from ._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, cloud_credentials, refused, refused_credentials

if TYPE_CHECKING:
    from ebs_failover.config import LedgerPlace
    from ebs_failover.ledger import Ledger, Record

#: The prefix of the pseudo-incidents that index Failovers by target (not incidents of their own).
INDEX_PREFIX = "target:"
#: Records read at once (one GET each): a ledger of a hundred incidents reads in seconds, not minutes.
_READERS = 8
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


# -- the verbs -----------------------------------------------------------------------------------------


def run_history(args: argparse.Namespace) -> int:
    target = _target(args.target)
    since = parse_since(args.since) if args.since else None
    ledger, where = open_from_environment(args.region)
    summaries = []
    for incident, records in _read_all(ledger, where).items():
        summary = summarise(incident, records)
        if _wanted(summary, records, target, since):
            summaries.append(summary)
    summaries.sort(key=lambda summary: str(summary["started"]), reverse=True)
    if args.json:
        print(json.dumps(summaries, indent=2, ensure_ascii=False))
        return EXIT_OK
    for number, summary in enumerate(summaries):
        print(("\n" if number else "") + "\n".join(text_block(summary)))
    if not summaries:
        print(f"(no incident{_filters(target, args.since)} in the ledger {where})")
    return EXIT_OK


def run_incident(args: argparse.Namespace) -> int:
    ledger, where = open_from_environment(args.region)
    records = _sorted(_guarded(where, lambda: ledger.records(args.id)))
    if not records:
        raise CliError(f"no incident {args.id!r} in the ledger {where}", EXIT_FAILED)
    summary = summarise(args.id, records)
    if args.json:
        whole = {**summary, "records": [record_json(record) for record in records]}
        print(json.dumps(whole, indent=2, ensure_ascii=False))
        return EXIT_OK
    print("\n".join(text_block(summary)))
    print(f"  records ({len(records)}, in time order):")
    for record in records:
        print("    " + record_line(record))
    return EXIT_OK


# -- the ledger ----------------------------------------------------------------------------------------


def open_from_environment(region: str | None) -> tuple[Ledger, str]:
    """The ledger ``LEDGER`` names (and its ``oss://`` name), with the ``ALIBABA_CLOUD_*`` credentials:
    exit 2 without ``LEDGER``, a region or credentials, 1 when it is badly set or cannot be opened."""
    place = _place()
    bucket_region = place.region or region or _environ("ALIBABA_CLOUD_REGION_ID", "FAILOVER_REGION")
    if not bucket_region:
        raise CliError(
            "the ledger bucket's region is not known: set LEDGER_REGION, or pass --region (or set "
            "ALIBABA_CLOUD_REGION_ID or FAILOVER_REGION)",
            EXIT_USAGE,
        )
    credentials = cloud_credentials("reading the ledger")
    where = f"oss://{place.bucket}/{place.prefix}"
    from ebs_failover.ledger import open_ledger

    try:
        return open_ledger(place, bucket_region, lambda: credentials), where
    except Exception as error:  # the SDK refused the endpoint, or is missing: one line, never a traceback
        raise CliError(
            f"cannot open the ledger {where}: {type(error).__name__}: {error}", EXIT_FAILED
        ) from None


def _place() -> LedgerPlace:
    from ebs_failover import config

    names = ("LEDGER", "LEDGER_REGION", "OSS_ENDPOINT")
    try:  # only the ledger's variables: another setting's mistake is not this command's
        place = config.load({name: os.environ[name] for name in names if name in os.environ}).ledger
    except config.ConfigError as error:
        raise CliError(f"bad configuration: {error}", EXIT_FAILED) from None
    if place is None:
        raise CliError(
            "no incident ledger: set LEDGER=oss://<bucket>[/<prefix>] (as the function's LEDGER), and "
            "OSS_ENDPOINT or LEDGER_REGION as needed",
            EXIT_USAGE,
        )
    return place


def _environ(*names: str) -> str | None:
    return next((value.strip() for name in names if (value := os.environ.get(name, "")).strip()), None)


def _read_all(ledger: Ledger, where: str) -> dict[str, list[Record]]:
    """Every incident's records, in time order: one List of the whole ledger, then the records read
    :data:`_READERS` at a time. The ``target:`` index is left out."""
    from ebs_failover.ledger import Record

    def keys_by_incident() -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for key in ledger.store.keys(ledger.prefix):
            parts = Record.parts(key, ledger.prefix)
            if parts is not None and not parts[0].startswith(INDEX_PREFIX):
                grouped.setdefault(parts[0], []).append(key)
        return grouped

    grouped = _guarded(where, keys_by_incident)
    keys = [key for listed in grouped.values() for key in listed]
    pool = ThreadPoolExecutor(max_workers=_READERS)
    try:
        read = dict(zip(keys, _guarded(where, lambda: list(pool.map(ledger.read, keys))), strict=True))
    finally:  # on an error, the reads not begun are dropped rather than each waiting out its timeout
        pool.shutdown(wait=False, cancel_futures=True)
    found = {
        incident: _sorted(record for key in listed if (record := read[key]) is not None)
        for incident, listed in grouped.items()
    }
    return {incident: records for incident, records in found.items() if records}


def _guarded(where: str, call: Callable[[], Any]) -> Any:
    """``call()``, a ledger error becoming one line: exit 2 when OSS refused the credentials, else 1."""
    try:
        return call()
    except LedgerError as error:
        why = refused_credentials(error.code)
        if why is not None and error.code is not None:
            raise refused(f"cannot read the ledger {where}: {error}", error.code, why) from None
        raise CliError(f"cannot read the ledger {where}: {error}", EXIT_FAILED) from None


def _sorted(records: Iterable[Record]) -> list[Record]:
    return sorted(records, key=lambda record: (record.at, record.kind, record.target, record.name))


# -- arguments -----------------------------------------------------------------------------------------


def _target(target: str | None) -> str | None:
    if target is not None and not target.startswith(("pair-", "pg-")):
        raise CliError(f"TARGET {target!r}: expected a pair (pair-…) or a replica group (pg-…)", EXIT_USAGE)
    return target


def parse_since(text: str, now: float | None = None) -> float:
    """``--since``: an ISO date or date-time (UTC unless it names an offset), or a duration back from
    ``now`` (``90m``, ``24h``, ``7d``, ``2w``); the Unix time it means. Exit 2 for anything else."""
    duration = _DURATION.match(text)
    if duration is not None:
        start = datetime.now(timezone.utc).timestamp() if now is None else now
        return start - int(duration.group(1)) * _UNITS[duration.group(2)]
    iso = text.strip()
    try:
        when = datetime.fromisoformat(iso[:-1] + "+00:00" if iso[-1:] in ("Z", "z") else iso)
    except ValueError:
        raise CliError(
            f"--since {text!r}: expected an ISO date or time (2024-06-01, 2024-06-01T08:00Z) or a duration "
            "(90m, 24h, 7d, 2w)",
            EXIT_USAGE,
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def _wanted(
    summary: Mapping[str, Any], records: Sequence[Record], target: str | None, since: float | None
) -> bool:
    """Whether an incident passes the filters: it names ``target`` (decided on it, or touched it), and it
    has a record at or after ``since`` (it began, or went on, since then)."""
    if target is not None and target not in summary["targets"]:
        return False
    return since is None or any(record.at >= since for record in records)


def _filters(target: str | None, since: str | None) -> str:
    return (f" of {target}" if target else "") + (f" since {since}" if since else "")


# -- the summary ---------------------------------------------------------------------------------------


def summarise(incident: str, records: Sequence[Record]) -> dict[str, Any]:
    """One incident as ``history --json`` prints it, from its records (in time order)."""
    decisions = _decisions(records)
    return {
        "incident": incident,
        "started": iso(records[0].at) if records else None,
        "last": iso(records[-1].at) if records else None,
        "targets": _targets(records),
        "outcomes": list(dict.fromkeys(d["outcome"] for d in decisions if d["outcome"] is not None)),
        "decisions": decisions,
        "failovers": [_failover(record) for record in records if record.kind == "failover"],
        "verifications": [_verified(record) for record in records if record.kind == "verified"],
        "drill_failures": [_drill_failure(record) for record in records if record.kind == "drill_failure"],
        "news": _news(records),
    }


def _targets(records: Sequence[Record]) -> list[str]:
    """The targets the incident decided on or touched: those its decisions name (a claim's list, a done
    record's summary by target), then those of its records."""
    named = (
        str(target)
        for record in records
        if record.kind == "decision" and isinstance(record.data.get("targets"), (list, dict))
        for target in record.data["targets"]
    )
    return list(dict.fromkeys([*named, *(record.target for record in records if record.target)]))


def _decisions(records: Sequence[Record]) -> list[dict[str, Any]]:
    """Each decision attempt: the claim (``<n>``: who, when, which targets) and its ``<n>/done``."""
    claims = {r.name: r for r in records if r.kind == "decision" and "/" not in r.name}
    dones = {r.name.split("/")[0]: r for r in records if r.kind == "decision" and r.name.endswith("/done")}
    found = []
    for attempt in sorted(claims.keys() | dones.keys(), key=_attempt_order):
        claim, done = claims.get(attempt), dones.get(attempt)
        first = claim or done
        found.append(
            {
                "attempt": int(attempt) if attempt.isdigit() else attempt,
                "by": first.by if first else "",
                "claimed_at": iso(claim.at) if claim else None,
                "targets": [str(t) for t in claim.data.get("targets") or ()] if claim else [],
                "done_at": iso(done.at) if done else None,
                "outcome": done.data.get("outcome") if done else None,
            }
        )
    return found


def _attempt_order(name: str) -> tuple[bool, int, str]:
    """Decision attempts in number order (``2`` before ``10``), any other name last."""
    return not name.isdigit(), len(name), name


def _failover(record: Record) -> dict[str, Any]:
    data = record.data
    return {
        "target": record.target,
        "at": iso(record.at),
        "by": record.by,
        "request_id": data.get("request_id"),
        "client_token": data.get("client_token"),
        "data_loss_seconds": data.get("data_loss_seconds"),
        "last_recover_point": _time_or_as_is(data.get("last_recover_point")),
        "status_before": data.get("status_before"),
    }


def _verified(record: Record) -> dict[str, Any]:
    return {
        "target": record.target,
        "at": iso(record.at),
        "by": record.by,
        "failover_seconds": record.data.get("failover_seconds"),
    }


def _drill_failure(record: Record) -> dict[str, Any]:
    return {"target": record.target, "at": iso(record.at), "by": record.by, "data": dict(record.data)}


@dataclass
class _Telling:
    """One piece of news to one channel, as its records tell it."""

    state: str
    channel: str
    claims: int = 0
    last_at: float = 0.0
    last_by: str = ""
    told: Record | None = None
    failures: list[Record] = field(default_factory=list)


def _news(records: Sequence[Record]) -> list[dict[str, Any]]:
    """Each piece of news for each channel: ``told`` (when, by whom), else ``failed`` (its last attempt
    failed: the next delivery tries again), else ``telling`` (claimed, neither told nor failed)."""
    tellings: dict[tuple[str, str], _Telling] = {}
    for record in records:
        if record.kind not in ("telling", "told", "tell_failed"):
            continue
        state, channel = _state_and_channel(record)
        telling = tellings.setdefault((state, channel), _Telling(state, channel))
        telling.last_at, telling.last_by = record.at, record.by
        if record.kind == "telling":
            telling.claims += 1
        elif record.kind == "told":
            telling.told = record
        else:
            telling.failures.append(record)
    return [_telling_json(telling) for telling in tellings.values()]


def _state_and_channel(record: Record) -> tuple[str, str]:
    """A telling record's news digest and channel: from its data, else from its name
    ``<state>/<channel>[/<n>]``."""
    state, channel = record.data.get("state"), record.data.get("channel")
    if isinstance(state, str) and isinstance(channel, str):
        return state, channel
    head, _, rest = record.name.partition("/")
    tail, _, attempt = rest.rpartition("/")
    numbered = attempt.isdigit() and record.kind != "told"  # a told record's name has no attempt
    return head, (tail if numbered else rest)


def _telling_json(telling: _Telling) -> dict[str, Any]:
    failures = telling.failures
    last_failed = bool(failures) and failures[-1].at >= telling.last_at
    status = "told" if telling.told else "failed" if last_failed else "telling"
    shown = telling.told or (failures[-1] if last_failed else None)
    return {
        "channel": telling.channel,
        "state": telling.state,
        "status": status,
        "at": iso(shown.at if shown else telling.last_at),
        "by": shown.by if shown else telling.last_by,
        "attempts": max(telling.claims, len(failures), 1 if telling.told else 0),
        "failures": [
            {"at": iso(r.at), "by": r.by, "attempt": _attempt(r.name), "code": r.data.get("code")}
            for r in failures
        ],
    }


def _attempt(name: str) -> int | None:
    last = name.rpartition("/")[2]
    return int(last) if last.isdigit() else None


# -- text ----------------------------------------------------------------------------------------------


def text_block(summary: Mapping[str, Any]) -> list[str]:
    """An incident as ``history`` prints it: a head line, its targets and outcomes, then its steps in
    time order."""
    outcomes = ", ".join(summary["outcomes"]) or _unfinished(summary["decisions"])
    lines = [
        f"incident {summary['incident']}",
        f"  started   {summary['started'] or '-'}, last record {summary['last'] or '-'}",
        f"  targets   {', '.join(summary['targets']) or '-'}",
        f"  outcome   {outcomes}",
    ]
    several = len({news["state"] for news in summary["news"]}) > 1
    steps = [
        *(_decision_step(d) for d in summary["decisions"] if d["claimed_at"] or d["done_at"]),
        *(_failover_step(f) for f in summary["failovers"]),
        *(_verified_step(v) for v in summary["verifications"]),
        *(_drill_failure_step(d) for d in summary["drill_failures"]),
        *(_news_step(n, several) for n in summary["news"]),
    ]
    lines.extend(f"  {at}  {text}" for at, text in sorted(steps, key=lambda step: step[0]))
    return lines


def _unfinished(decisions: Sequence[Mapping[str, Any]]) -> str:
    """The outcome line of an incident no decision has an outcome for yet."""
    if not decisions:
        return "- (no decision recorded)"
    last = decisions[-1]
    if last["done_at"]:
        return f"- (decision #{last['attempt']} done without an outcome)"
    return f"- (decision #{last['attempt']} claimed by FC request {last['by'] or '?'}, not done)"


def _decision_step(decision: Mapping[str, Any]) -> tuple[str, str]:
    targets = ", ".join(decision["targets"])
    text = f"decision #{decision['attempt']} by FC request {decision['by'] or '?'}" + (
        f" for {targets}" if targets else ""
    )
    if decision["done_at"]:
        text += f"; done {decision['done_at']}: {decision['outcome'] or '?'}"
    else:
        text += "; not done"
    return decision["claimed_at"] or decision["done_at"], text


def _failover_step(failover: Mapping[str, Any]) -> tuple[str, str]:
    loss = failover["data_loss_seconds"]
    parts = [f"RequestId {failover['request_id'] or '?'}"]
    parts.append(f"data loss {data_loss(loss)}" + (f" ({loss} s)" if isinstance(loss, (int, float)) else ""))
    if failover["last_recover_point"] is not None:
        parts.append(f"recovery point {failover['last_recover_point']}")
    if failover["status_before"]:
        parts.append(f"was {failover['status_before']}")
    return failover["at"], f"failover {failover['target']} by FC request {failover['by']}: {', '.join(parts)}"


def _verified_step(verified: Mapping[str, Any]) -> tuple[str, str]:
    seconds = verified["failover_seconds"]
    took = f" (failover took {_seconds(seconds)})" if isinstance(seconds, (int, float)) else ""
    return verified["at"], f"verified {verified['target']} failovered{took}"


def _drill_failure_step(failure: Mapping[str, Any]) -> tuple[str, str]:
    detail = json.dumps(failure["data"], ensure_ascii=False, sort_keys=True)
    return failure["at"], f"drill failed {failure['target'] or '-'}: {detail}"


def _news_step(news: Mapping[str, Any], several: bool) -> tuple[str, str]:
    which = f" [news {news['state']}]" if several else ""
    by = f"FC request {news['by']}"
    if news["status"] == "told":
        return news["at"], f"told {news['channel']}{which} ({by})"
    if news["status"] == "failed":
        codes = ", ".join(dict.fromkeys(str(f["code"]) for f in news["failures"] if f["code"])) or "no code"
        failed = f"{len(news['failures'])} failed attempt(s)"
        return news["at"], f"NOT told {news['channel']}{which}: {failed}, last by {by} ({codes})"
    return news["at"], f"telling {news['channel']}{which}: claimed by {by}, neither told nor failed"


def _seconds(seconds: float) -> str:
    """A duration: ``0.4 s`` under a minute, else in the two largest units (``3 min 5 s``)."""
    return f"{seconds:.1f} s" if seconds < 60 else data_loss(seconds)


def record_json(record: Record) -> dict[str, Any]:
    """A record as ``incident --json`` lists it (its time in ISO UTC, its data as written)."""
    return {
        "at": iso(record.at),
        "kind": record.kind,
        "name": record.name,
        "target": record.target,
        "by": record.by,
        "data": dict(record.data),
    }


def record_line(record: Record) -> str:
    """A record as ``incident`` lists it: time, kind[/name], target (``-``: the incident), by, data."""
    kind = f"{record.kind}/{record.name}" if record.name else record.kind
    data = json.dumps(dict(record.data), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return f"{iso(record.at)}  {kind:<28} {record.target or '-':<22} {record.by or '-':<20} {data}"


def iso(seconds: float) -> str:
    """A Unix time as ISO 8601 UTC, to the second: ``2024-06-01T08:00:00Z``."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time_or_as_is(value: Any) -> Any:
    """A Unix time in ISO UTC; anything else (None, a string) as it is."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return iso(value)
    return value
