"""Tell: where the result event goes, the channels ``NOTIFY_TARGETS`` names.

:mod:`.channels` parses them (pure). :func:`publish` delivers the result to
every channel whose filter wants one of its outcomes (the invocation's, a
target's, a batch event's: :func:`~ebs_failover.notify._summary.outcomes_of`),
the channels side by side, and reports each one's fate; it never raises for a
channel that failed. The handler decides what an undelivered result means
(:class:`NotifyError` is what it raises so that FC's async retry tells again).

**One deadline.** Every channel's whole delivery (connect, send, every read,
the SDK's retry) ends ``Where.timeout`` seconds after publish starts: each
channel bounds its own exchange by that deadline (the HTTP ones and MNS shut
their socket down when it comes), and publish waits for none past it (and
:data:`GRACE` for a channel to report its own failure): a channel still at it
is reported ``Timeout`` and left behind, its thread ending on its own.

**Always within the channel's limit.** A result too large for a channel is sent
as a summary (every outcome counted, every target needing a person named, the
result's id for the whole of it in the log): :mod:`._summary`, :mod:`._text`.

One module per kind of channel (``mns``, ``dingtalk``, ``lark``, ``wecom``,
``eventbridge``, ``webhook``), each imported only when it has something to
deliver: a cold start that has nothing to tell pays nothing for any of them.
Every module's ``deliver(event, channel, where)`` returns ``{"channel", "ok":
True, …}`` or ``{"channel", "ok": False, "code", "error"}`` and never raises.
"""

from __future__ import annotations

import concurrent.futures
import importlib
from collections.abc import Callable, Sequence
from typing import Any

from ebs_failover.errors import NotifyError

from ._summary import outcomes_of
from .channels import Channel, Where, parse_channels
from .mns import DEFAULT_TIMEOUT, default_endpoint, message_body, message_tag

__all__ = [
    "DEFAULT_TIMEOUT",
    "GRACE",
    "Channel",
    "NotifyError",
    "Where",
    "default_endpoint",
    "message_body",
    "message_tag",
    "outcomes_of",
    "parse_channels",
    "publish",
]

#: Seconds publish waits past the deadline for a channel to report its own failure (its watchdog fired
#: at the deadline; its entry, with the channel's own words, is a moment away).
GRACE = 0.2


def publish(event: dict[str, Any], channels: Sequence[Channel], where: Where) -> list[dict[str, Any]]:
    """Deliver ``event`` to every channel that wants one of its outcomes; one entry per such channel, in
    order, all of them by ``where``'s deadline (``Where.timeout`` from now, unless it has one).

    The MNS topics share one client (one connection), the other channels one delivery each; all of
    them at once, so that a dead channel costs the deadline once, not once per channel after it.
    """
    where = where.started()
    seen = outcomes_of(event)
    wanted = [channel for channel in channels if channel.wants_any(seen)]
    if not wanted:
        return []
    topics = [channel for channel in wanted if channel.kind == "mns"]
    jobs: list[tuple[list[Channel], Callable[[], list[dict[str, Any]]]]] = []
    if topics:
        jobs.append((topics, lambda: _to_topics(event, topics, where)))
    for channel in wanted:
        if channel.kind != "mns":
            jobs.append(([channel], _deliverer(event, channel, where)))
    entries = _run(jobs, where)
    return [entries.get(c.label) or _failed(c.label, "NotDelivered", "no answer recorded") for c in wanted]


def _run(
    jobs: list[tuple[list[Channel], Callable[[], list[dict[str, Any]]]]], where: Where
) -> dict[str, dict[str, Any]]:
    """Every job's entries by channel label; a job not done by the deadline (and :data:`GRACE`) is
    ``Timeout`` for each of its channels, and is not waited for."""
    pool = concurrent.futures.ThreadPoolExecutor(len(jobs), thread_name_prefix="ebs-failover-notify")
    try:
        futures = [(names, pool.submit(job)) for names, job in jobs]
        concurrent.futures.wait([future for _, future in futures], timeout=where.left() + GRACE)
    finally:
        # Never wait for a job past the deadline: a channel still reading is left to end on its own.
        pool.shutdown(wait=False, cancel_futures=True)
    entries: dict[str, dict[str, Any]] = {}
    for names, future in futures:
        for entry in _entries_of(names, future, where):
            entries[entry["channel"]] = entry
    return entries


def _entries_of(
    names: list[Channel], future: concurrent.futures.Future[list[dict[str, Any]]], where: Where
) -> list[dict[str, Any]]:
    if not future.done():
        message = f"no whole delivery within {where.timeout:g} s: given up at the deadline"
        return [_failed(channel.label, "Timeout", message) for channel in names]
    try:
        return future.result()
    except Exception as error:  # a bug in one channel must not lose the others' entries
        return [_failed(c.label, type(error).__name__, "the channel's delivery broke") for c in names]


def _to_topics(event: dict[str, Any], topics: list[Channel], where: Where) -> list[dict[str, Any]]:
    from .mns import publish as publish_to_mns

    return publish_to_mns(
        event,
        [topic.label for topic in topics],
        credentials=where.credentials,
        region=where.region,
        account_id=where.account_id,
        endpoint=where.mns_endpoint,
        timeout=where.timeout,
        deadline=where.deadline,
    )


def _deliverer(event: dict[str, Any], channel: Channel, where: Where) -> Callable[[], list[dict[str, Any]]]:
    def deliver() -> list[dict[str, Any]]:
        module = importlib.import_module(f"{__name__}.{channel.kind}")
        return [module.deliver(event, channel, where)]

    return deliver


def _failed(label: str, code: str, message: str) -> dict[str, Any]:
    return {"channel": label, "ok": False, "code": code, "error": message}
