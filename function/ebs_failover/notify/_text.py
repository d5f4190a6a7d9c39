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

from collections.abc import Mapping
from typing import Any

from ebs_failover import redact
from ebs_failover.results import ResultView, TargetView

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
    result = ResultView(event)
    outcome = _value(result.outcome, 40) or "unknown"
    mark = _MARKS.get(outcome, "📣")
    if outcome.startswith("drill_"):  # a drill runs in both modes: the mode says nothing of it
        return f"{mark} EBS drill: {outcome}"
    dry = " (dry run)" if result.dry_run and outcome != "dry_run" else ""
    return f"{mark} EBS failover: {outcome}{dry}"


def markdown(event: dict[str, Any], *, limit: int = DEFAULT_LIMIT) -> tuple[str, str]:
    """``(title, text)``: the text Markdown, at most ``limit`` UTF-8 bytes."""
    result = ResultView(event)
    head, foot = f"### {title(event)}", "\n\n".join(_foot(result))
    about = "\n\n".join(_about(result))
    targets = result.targets
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


def _target(target: TargetView) -> str:
    """One target on one line."""
    ident = _value(target.target_id, 80) or "?"
    parts = [_value(target.outcome, 40) or "?"]
    before, after = _value(target.status_before, 40), _value(target.status_after, 40)
    if before and after:
        parts.append(f"{before} → {after}")
    elif before or after:  # only what was seen: a status not looked at is not shown
        parts.append(f"was {before}" if before else f"now {after}")
    if target.verified is not None:
        parts.append("verified" if target.verified else "NOT verified")
    if target.reports_data_loss:
        parts.append(f"data loss {data_loss(target.data_loss_seconds)}")
    if target.drill is not None:
        parts.extend(_drill(target.drill))
    if target.error_code:
        parts.append(f"error {_value(target.error_code, 80)}")
    if target.request_id:
        parts.append(f"request id `{_value(target.request_id, 80)}`")
    if target.hint:
        parts.append(f"hint: {_value(target.hint, _VALUE_LIMIT)}")
    return f"- **{ident}**: " + " · ".join(parts)


def _drill(report: Mapping[str, Any]) -> list[str]:
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


def _about(result: ResultView) -> list[str]:
    """The reason, the trigger, the region and the error, those that are set."""
    lines = []
    if result.reason:
        lines.append(f"**Reason:** {_value(result.reason, _VALUE_LIMIT)}")
    if result.trigger_identity:
        lines.append(f"**Trigger:** {_value(result.trigger_identity, 200)}")
    if result.region:
        lines.append(f"**Region:** {_value(result.region, 40)}")
    if result.error:
        shown = ", ".join(f"{_value(k, 40)}={_value(v, 120)}" for k, v in list(result.error.items())[:4])
        lines.append(f"**Error:** {shown}")
    return lines


def _foot(result: ResultView) -> list[str]:
    """Where to look further: the function and the result's id and time."""
    lines = []
    if result.source:
        lines.append(f"Function: `{_value(result.source, 200)}`")
    shown = " · ".join(_value(value, 80) for value in (result.id, result.time) if value)
    if shown:
        lines.append(f"Result: `{shown}`")
    return lines


def _more(count: int) -> str:
    return f"… {count} more target{'s' if count != 1 else ''}"


def _value(value: Any, limit: int) -> str:
    """A value on one line, shortened, with the characters that would break a line's Markdown tamed."""
    if value is None:
        return ""
    text = redact.one_line(str(value)).replace("`", "'")
    return redact.REDACTOR.scrub_text(redact.shorten(text, limit))


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` UTF-8 bytes, never cutting a character in two."""
    if _size(text) <= limit:
        return text
    return text.encode("utf-8")[: max(limit - _size(redact.CUT), 0)].decode("utf-8", "ignore") + redact.CUT
