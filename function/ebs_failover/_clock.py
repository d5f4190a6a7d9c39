"""UTC timestamps as ISO 8601 text, for the result event and every log line.

The date and time of day are formatted once per second and only the fraction per call:
two timestamps are written on every invocation, and ``datetime.now(timezone.utc).isoformat()``
costs several times more than this, most of all right after an SDK call has pushed the
interpreter's caches out.
"""

from __future__ import annotations

import time

__all__ = ["iso_utc", "tenths"]

#: (unix second, its "YYYY-MM-DDTHH:MM:SS" text): replaced whole, so threads never see half of it.
_last_second: tuple[int, str] = (-1, "")


def iso_utc(now: float | None = None, *, digits: int = 3) -> str:
    """``now`` (unix seconds, default the current time) as ``YYYY-MM-DDTHH:MM:SS.fffZ``.

    ``digits``: 3 (milliseconds) or 6 (microseconds) of fraction. Like ``datetime``: a given time is
    rounded to the microsecond, and milliseconds are that truncated; the current time is read in
    nanoseconds and truncated to the microsecond. The fraction is written with
    ``str`` (its leading ``1`` cut), not a format spec: CPython's format-spec machinery is a lot of
    code for the CPU to fetch again after every SDK call.
    """
    global _last_second  # noqa: PLW0603 - the per-second cache is the point
    if now is None:
        # The clock's integer nanoseconds: no float arithmetic, and truncating "now" is as good.
        second, micro = divmod(time.time_ns() // 1000, 1_000_000)
    else:
        second, micro = divmod(round(now * 1_000_000), 1_000_000)
    cached = _last_second
    if cached[0] != second:
        cached = _last_second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    if digits == 6:
        return cached[1] + "." + str(1_000_000 + micro)[1:] + "Z"
    return cached[1] + "." + str(1_000 + micro // 1000)[1:] + "Z"


def tenths(value: float) -> float:
    """``value`` (a duration) rounded to one decimal, as ``round(value, 1)`` but for exact ties.

    ``round`` with a number of digits goes through a decimal string and back (``dtoa``,
    ``snprintf``, ``strtod``); scaling, rounding to an integer and scaling back does not. The two
    can differ only where ``value * 10`` lands exactly halfway between two integers, which no
    duration needs to care about.
    """
    return round(value * 10) / 10
