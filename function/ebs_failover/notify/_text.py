"""The result as a person reads it in a chat room: a title and a short Markdown text.

What comes first is what the on-call person needs at a glance: the outcome (and whether it was a dry
run), then each target on one line (pair or group id, outcome, status before → after, whether the
failover was seen done, the data lost in human units, EBS's RequestId, the hint), then the reason,
the trigger, the region and the error, and last the function and the result's id (to find the log
line and the full event).

Robots bound a message's size (DingTalk and Lark about 20 KB for the request, WeCom 4096 bytes for a
``markdown.content``): :func:`markdown` keeps the text within ``limit`` UTF-8 bytes, dropping the
targets that do not fit (``… N more targets``) and never the head or the foot. Every value is put on
one line, shortened and scrubbed (the event is already scrubbed; a value quoted from outside is scrubbed
again here, since a chat room is the widest audience the result has).
"""

from __future__ import annotations

from typing import Any

from ebs_failover import redact

__all__ = ["DEFAULT_LIMIT", "data_loss", "markdown", "title"]

#: Bytes of text a robot message keeps by default: under DingTalk's and Lark's ~20 KB, with room for
#: the JSON around it.
DEFAULT_LIMIT = 16000
#: What a value from outside (a reason, a hint, an identity) keeps at most.
_VALUE_LIMIT = 300
_MARKS = {
    "failed_over": "✅",
    "already_failed_over": "☑️",
    "failed": "❌",
    "refused": "⛔",
    "dry_run": "🧪",
    "drill_passed": "🟢",
    "drill_failed": "🔴",
}


def title(event: dict[str, Any]) -> str:
    """``EBS failover: failed_over`` (``(dry run)`` added when it was one); ``EBS drill: drill_passed``."""
    data = _data(event)
    outcome = _value(data.get("outcome"), 40) or "unknown"
    mark = _MARKS.get(outcome, "📣")
    if outcome.startswith("drill_"):  # a drill runs in both modes: the mode says nothing of it
        return f"{mark} EBS drill: {outcome}"
    dry = " (dry run)" if data.get("dry_run") and outcome != "dry_run" else ""
    return f"{mark} EBS failover: {outcome}{dry}"


def markdown(event: dict[str, Any], *, limit: int = DEFAULT_LIMIT) -> tuple[str, str]:
    """``(title, text)``: the text Markdown, at most ``limit`` UTF-8 bytes."""
    data = _data(event)
    head, foot = f"### {title(event)}", "\n\n".join(_foot(event))
    about = "\n\n".join(_about(data))
    targets = [t for t in data.get("targets") or [] if isinstance(t, dict)]
    lines = [f"**Targets ({len(targets)}):**"] if targets else []
    fixed = f"{head}\n\n{about}\n\n{foot}"
    budget = limit - _size(fixed) - _size("\n\n") * 2 - _size(_more(len(targets)))
    for shown, target in enumerate(targets):
        line = _target(target)
        if _size("\n".join([*lines, line])) > budget:
            lines.append(_more(len(targets) - shown))
            break
        lines.append(line)
    text = "\n\n".join(part for part in (head, "\n".join(lines), about, foot) if part)
    return redact.REDACTOR.scrub_text(title(event)), _cut(redact.REDACTOR.scrub_text(text), limit)


def data_loss(seconds: Any) -> str:
    """``data_loss_seconds`` in human units: ``none``, ``42 s``, ``3 min 5 s``, ``2 h 3 min``, ``1 d 2 h``."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return "unknown"
    whole = round(seconds)
    if whole <= 0:
        return "none" if seconds <= 0 else "under 1 s"
    units = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
    parts = []
    for name, size in units:
        if whole >= size:
            parts.append(f"{whole // size} {name}")
            whole %= size
    return " ".join(parts[:2])  # the two largest units: a person wants the order of magnitude


def _target(target: dict[str, Any]) -> str:
    """One target on one line."""
    ident = _value(target.get("pair_id") or target.get("group_id"), 80) or "?"
    parts = [_value(target.get("outcome"), 40) or "?"]
    before, after = _value(target.get("status_before"), 40), _value(target.get("status_after"), 40)
    if before and after:
        parts.append(f"{before} → {after}")
    elif before or after:  # only what was seen: a status not looked at is not shown
        parts.append(f"was {before}" if before else f"now {after}")
    verified = target.get("verified")
    if verified is not None:
        parts.append("verified" if verified else "NOT verified")
    if "data_loss_seconds" in target:
        parts.append(f"data loss {data_loss(target.get('data_loss_seconds'))}")
    report = target.get("drill")
    if isinstance(report, dict):
        parts.extend(_drill(report))
    if target.get("error_code"):
        parts.append(f"error {_value(target['error_code'], 80)}")
    if target.get("request_id"):
        parts.append(f"request id `{_value(target['request_id'], 80)}`")
    if target.get("hint"):
        parts.append(f"hint: {_value(target['hint'], _VALUE_LIMIT)}")
    return f"- **{ident}**: " + " · ".join(parts)


def _drill(report: dict[str, Any]) -> list[str]:
    """A drill's report, the parts that are known: the drill, what it restored, how long, the clean-up."""
    parts = [f"drill `{_value(report.get('drill_id'), 80)}`"] if report.get("drill_id") else []
    if "recover_point_age_seconds" in report:
        age = report["recover_point_age_seconds"]
        parts.append(f"restored a point {data_loss(age)} old" if age else "restored a point from this second")
    if "seconds_to_executed" in report:
        parts.append(f"executed in {data_loss(report['seconds_to_executed'])}")
    if report.get("cleared") is True:
        parts.append("cleared")
    elif "cleared" in report:  # kept on request, or a clean-up that did not finish: the disks may remain
        parts.append("kept (not cleared)" if report.get("kept") else "NOT cleared")
    if report.get("last_passed_drill_at") is not None and "since_last_passed_drill_seconds" in report:
        parts.append(f"last passed drill {data_loss(report['since_last_passed_drill_seconds'])} ago")
    return parts


def _about(data: dict[str, Any]) -> list[str]:
    """The reason, the trigger, the region and the error, those that are set."""
    lines = []
    if data.get("reason"):
        lines.append(f"**Reason:** {_value(data['reason'], _VALUE_LIMIT)}")
    trigger = data.get("trigger")
    if isinstance(trigger, dict) and trigger.get("identity"):
        lines.append(f"**Trigger:** {_value(trigger['identity'], 200)}")
    if data.get("region"):
        lines.append(f"**Region:** {_value(data['region'], 40)}")
    error = data.get("error")
    if isinstance(error, dict) and error:
        shown = ", ".join(f"{_value(k, 40)}={_value(v, 120)}" for k, v in list(error.items())[:4])
        lines.append(f"**Error:** {shown}")
    return lines


def _foot(event: dict[str, Any]) -> list[str]:
    """Where to look further: the function and the result's id and time."""
    lines = []
    if event.get("source"):
        lines.append(f"Function: `{_value(event['source'], 200)}`")
    result = " · ".join(_value(event.get(k), 80) for k in ("id", "time") if event.get(k))
    if result:
        lines.append(f"Result: `{result}`")
    return lines


def _more(count: int) -> str:
    return f"… {count} more target{'s' if count != 1 else ''}"


def _value(value: Any, limit: int) -> str:
    """A value on one line, shortened, with the characters that would break a line's Markdown tamed."""
    if value is None:
        return ""
    text = redact.one_line(str(value)).replace("`", "'")
    return redact.REDACTOR.scrub_text(redact.shorten(text, limit))


def _data(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    return data if isinstance(data, dict) else {}


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` UTF-8 bytes, never cutting a character in two."""
    if _size(text) <= limit:
        return text
    return text.encode("utf-8")[: max(limit - _size(redact.CUT), 0)].decode("utf-8", "ignore") + redact.CUT
