"""UTC timestamps as ISO 8601 text, for the result event and every log line.

The date and time of day are formatted once per second and only the fraction per call:
two timestamps are written on every invocation, and ``datetime.now(timezone.utc).isoformat()``
costs several times more than this, most of all right after an SDK call has pushed the
interpreter's caches out.
"""

from __future__ import annotations

import time

__all__ = ["iso_utc"]

#: (unix second, its "YYYY-MM-DDTHH:MM:SS" text): replaced whole, so threads never see half of it.
_last_second: tuple[int, str] = (-1, "")


def iso_utc(now: float | None = None, *, digits: int = 3) -> str:
    """``now`` (unix seconds, default the current time) as ``YYYY-MM-DDTHH:MM:SS.fffZ``.

    ``digits``: 3 (milliseconds) or 6 (microseconds) of fraction. Like ``datetime``: the time is
    rounded to the microsecond, and milliseconds are that truncated.
    """
    global _last_second  # noqa: PLW0603 - the per-second cache is the point
    second, micro = divmod(round((time.time() if now is None else now) * 1_000_000), 1_000_000)
    cached = _last_second
    if cached[0] != second:
        cached = _last_second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    if digits == 6:
        return f"{cached[1]}.{micro:06d}Z"
    return f"{cached[1]}.{micro // 1000:03d}Z"
