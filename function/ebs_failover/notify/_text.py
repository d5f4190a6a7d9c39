"""The result as a person reads it in a chat room: a title and a short Markdown text.

What comes first is what the on-call person needs at a glance: the outcome (and whether it was a dry
run), then each target on one line (pair or group id, outcome, status before → after, whether the
failover was seen done, the data lost in human units, EBS's RequestId, the hint), then the reason,
the trigger, the region and the error, and last the function and the result's id (to find the log
line and the full event).

**Always within the robot's limit.** Robots bound a message's size (DingTalk 20 000 bytes of request,
Lark 20 KB, WeCom 4096 bytes of ``markdown.content``: each module's ``MAX_BYTES``). When the whole text
would not fit (``fits``), :func:`markdown` sends a summary instead: every outcome counted, every target
that needs a person named (:mod:`ebs_failover.notify._summary`), as many targets in full as then fit
(those needing a person first, ``… N more targets``), and where the whole result is (the ``result``
log line with the result's id). The head and the foot are never dropped.

**Text from outside is inert.** Every value that came from an event (an alert's name, a reason, a hint
quoting EBS, the trigger's identity, an error) is put on one line, shortened, scrubbed (a chat room is
the widest audience the result has) and escaped for the robot's Markdown (:data:`FLAVOURS`): no value
can make bold text, a link, an image, a mention, a heading or a code span. Lark's card Markdown takes
HTML entities (``&#42;``); DingTalk and WeCom document no escape at all, so there the characters that
open Markdown are replaced by their full-width forms (U+FF0A for ``*``, U+FF3B for ``[``), which no
renderer reads as syntax. Either way the slashes of ``://`` are replaced too (full-width, or ``&#47;``), so
that no address is made a link either. A
value inside a code span (a request id, the result's id) only has its backticks and angle brackets
replaced. An ``_`` between two letters or digits is left as it is (``failed_over``): no Markdown
reads an underscore inside a word as emphasis.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ebs_failover import redact
from ebs_failover.notify import _summary
from ebs_failover.results import ResultView, TargetView

__all__ = ["DEFAULT_LIMIT", "FLAVOURS", "data_loss", "escape", "markdown", "title"]

#: Bytes of text a message keeps when its channel gives no ``fits`` (the command line's print): under
#: DingTalk's and Lark's ~20 KB, with room for the JSON around it.
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

#: An ``_`` that could open or close emphasis: one not between two letters or digits.
_LONE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
#: DingTalk and WeCom: the characters that open Markdown (or HTML: ``<font>``, WeCom's ``<@user>``) as
#: their full-width forms (U+FF01 to U+FF5E mirror ASCII); a backslash too, so that none escapes the
#: syntax around the value.
_FULL_WIDTH = str.maketrans({char: chr(ord(char) + 0xFEE0) for char in "*[]<>~#|\\"} | {"`": "'"})
_WIDE_UNDERSCORE, _WIDE_SLASH = chr(0xFF3F), chr(0xFF0F)
_WIDE_ANGLES = str.maketrans({char: chr(ord(char) + 0xFEE0) for char in "<>"})
#: Lark: HTML entities, which its card Markdown decodes (``&`` first, so that none is read twice).
_ENTITIES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "*": "&#42;",
        "[": "&#91;",
        "]": "&#93;",
        "~": "&#126;",
        "#": "&#35;",
        "|": "&#124;",
        "\\": "&#92;",
        "`": "'",
    }
)


def _full_width(text: str) -> str:
    text = _LONE_UNDERSCORE.sub(_WIDE_UNDERSCORE, text.translate(_FULL_WIDTH))
    return text.replace("://", ":" + _WIDE_SLASH * 2)


def _entities(text: str) -> str:
    text = _LONE_UNDERSCORE.sub("&#95;", text.translate(_ENTITIES))
    return text.replace("://", ":&#47;&#47;")


#: How a value from outside is shown: ``(value, limit) -> text``.
_Value = Callable[[Any, int], str]

#: Each robot's escape of a value from outside (see the module's docstring).
FLAVOURS: dict[str, Callable[[str], str]] = {
    "dingtalk": _full_width,
    "wecom": _full_width,
    "lark": _entities,
}


def escape(text: str, flavour: str = "dingtalk") -> str:
    """``text`` inert in ``flavour``'s Markdown: it renders as the characters it is, never as syntax."""
    return FLAVOURS[flavour](text)


def title(event: dict[str, Any]) -> str:
    """``EBS failover: failed_over`` (``(dry run)`` added when it was one); ``EBS drill: drill_passed``.

    Plain text (a chat list, a card's header): only the outcome comes from the event, on one line, short."""
    return _title(ResultView(event), lambda outcome: _plain(outcome, 40))


def _title(result: ResultView, show: Callable[[str | None], str]) -> str:
    """The title, its outcome shown by ``show`` (plain, or escaped for a Markdown heading)."""
    outcome = result.outcome or "unknown"
    mark = _MARKS.get(outcome, "📣")
    if outcome.startswith("drill_"):  # a drill runs in both modes: the mode says nothing of it
        return f"{mark} EBS drill: {show(outcome)}"
    dry = " (dry run)" if result.dry_run and outcome != "dry_run" else ""
    return f"{mark} EBS failover: {show(outcome)}{dry}"


def markdown(
    event: dict[str, Any],
    *,
    limit: int = DEFAULT_LIMIT,
    flavour: str = "dingtalk",
    fits: Callable[[str], bool] | None = None,
) -> tuple[str, str]:
    """``(title, text)``: the whole text when ``fits`` it (by default: at most ``limit`` UTF-8 bytes), else
    the summary (see the module's docstring); in the last resort, cut to ``limit`` bytes."""
    fitting = fits or (lambda text: _size(text) <= limit)
    shown = _Shown(ResultView(event), FLAVOURS[flavour])
    whole = shown.whole()
    if fitting(whole):
        return redact.REDACTOR.scrub_text(title(event)), whole
    text = shown.summary(fitting)
    return redact.REDACTOR.scrub_text(title(event)), text if fitting(text) else _cut(text, limit)


class _Shown:
    """One result's text in one flavour: its fixed parts rendered once, the targets' lines on demand."""

    def __init__(self, result: ResultView, escape: Callable[[str], str]) -> None:
        self.result, self.escape = result, escape
        self.head = "### " + _title(result, lambda outcome: self.value(outcome, 40))
        self.about = "\n\n".join(_about(result, self.value))
        self.foot = "\n\n".join(_foot(result))

    def value(self, value: Any, limit: int) -> str:
        """A value from outside: one line, shortened, scrubbed, then escaped (a secret is found whole)."""
        return self.escape(_plain(value, limit))

    def whole(self) -> str:
        """Every target on its line."""
        targets = self.result.targets
        lines = (
            [f"**Targets ({len(targets)}):**", *(_target(t, self.value) for t in targets)] if targets else []
        )
        return self.join(["\n".join(lines)])

    def summary(self, fits: Callable[[str], bool]) -> str:
        """The summary naming as many targets needing a person, then showing as many targets, as fit."""
        found = _summary.digest(self.result.raw)
        needing = {id(target.raw) for target in found.needing}
        first = [*found.needing, *(t for t in self.result.targets if id(t.raw) not in needing)]
        names = [f"{self.value(t.target_id, 80)} ({self.value(t.outcome, 40)})" for t in found.needing]
        lines = [_target(target, self.value) for target in first]  # rendered once, measured many times
        named = _most(len(names), lambda n: fits(self.summarised(found, names[:n], lines[:0])))
        shown = _most(len(lines), lambda n: fits(self.summarised(found, names[:named], lines[:n])))
        return self.summarised(found, names[:named], lines[:shown])

    def summarised(self, found: _summary.Digest, names: list[str], lines: list[str]) -> str:
        """The summary text naming ``names`` (of the targets needing a person) and showing ``lines``."""
        counts = " · ".join(f"{self.value(outcome, 40)} {count}" for outcome, count in found.counts)
        parts = [f"**Summary:** {found.total} targets, too many for one message: {counts}"]
        if found.batch_counts:
            events = sum(count for _, count in found.batch_counts)
            batch = " · ".join(f"{self.value(outcome, 40)} {count}" for outcome, count in found.batch_counts)
            parts.append(f"**Batch:** {events} events: {batch}")
        if found.needing:
            listed = ", ".join(names)
            if len(names) < len(found.needing):  # even the names are too many: the rest are in the log
                listed += (
                    f"{', ' if names else ''}… {len(found.needing) - len(names)} more in the whole result"
                )
            parts.append(f"**Need a person ({len(found.needing)}):** {listed}")
        more = [_more(found.total - len(lines))] if len(lines) < found.total else []
        parts.append("\n".join([f"**Targets ({found.total}):**", *lines, *more]))
        where = f"`{_code(self.result.id, 80)}`"
        return self.join(
            parts, f"The whole result: the function's log, its `result` line whose result.id is {where}"
        )

    def join(self, middle: list[str], last: str = "") -> str:
        text = "\n\n".join(part for part in (self.head, *middle, self.about, self.foot, last) if part)
        return redact.REDACTOR.scrub_text(text)


def _most(count: int, fits: Callable[[int], bool]) -> int:
    """The largest ``n`` in 0..``count`` that ``fits`` (which holds for every smaller one), 0 if none."""
    low, high = 0, count
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


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


def _target(target: TargetView, value: _Value) -> str:
    """One target on one line."""
    ident = value(target.target_id, 80) or "?"
    parts = [value(target.outcome, 40) or "?"]
    before, after = value(target.status_before, 40), value(target.status_after, 40)
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
        parts.append(f"error {value(target.error_code, 80)}")
    if target.request_id:
        parts.append(f"request id `{_code(target.request_id, 80)}`")
    if target.hint:
        parts.append(f"hint: {value(target.hint, _VALUE_LIMIT)}")
    return f"- **{ident}**: " + " · ".join(parts)


def _drill(report: Mapping[str, Any]) -> list[str]:
    """A drill's report, the parts that are known: the drill, what it restored, how long, the clean-up."""
    parts = [f"drill `{_code(report.get('drill_id'), 80)}`"] if report.get("drill_id") else []
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
    if report.get("clear_command") and report.get("cleared") is not True:
        # A command a person copies is never shortened (the hint around it may be).
        parts.append(f"clean up with `{_code(report['clear_command'], 1000)}`")
    return parts


def _about(result: ResultView, value: _Value) -> list[str]:
    """The reason, the trigger, the region and the error, those that are set."""
    lines = []
    if result.reason:
        lines.append(f"**Reason:** {value(result.reason, _VALUE_LIMIT)}")
    if result.trigger_identity:
        lines.append(f"**Trigger:** {value(result.trigger_identity, 200)}")
    if result.region:
        lines.append(f"**Region:** {value(result.region, 40)}")
    if result.error:
        shown = ", ".join(f"{value(k, 40)}={value(v, 120)}" for k, v in list(result.error.items())[:4])
        lines.append(f"**Error:** {shown}")
    return lines


def _foot(result: ResultView) -> list[str]:
    """Where to look further: the function and the result's id and time."""
    lines = []
    if result.source:
        lines.append(f"Function: `{_code(result.source, 200)}`")
    shown = " · ".join(_code(value, 80) for value in (result.id, result.time) if value)
    if shown:
        lines.append(f"Result: `{shown}`")
    return lines


def _more(count: int) -> str:
    return f"… {count} more target{'s' if count != 1 else ''}"


def _plain(value: Any, limit: int) -> str:
    """A value on one line, shortened and scrubbed; its backticks as quotes (no code span ends early)."""
    if value is None:
        return ""
    text = redact.one_line(str(value)).replace("`", "'")
    return redact.REDACTOR.scrub_text(redact.shorten(text, limit))


def _code(value: Any, limit: int) -> str:
    """A value inside a code span, where Markdown is not read: plain, its angle brackets full-width (a
    robot may still read a tag there)."""
    return _plain(value, limit).translate(_WIDE_ANGLES)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` UTF-8 bytes, never cutting a character in two."""
    if _size(text) <= limit:
        return text
    return text.encode("utf-8")[: max(limit - _size(redact.CUT), 0)].decode("utf-8", "ignore") + redact.CUT
