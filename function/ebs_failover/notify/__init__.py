"""Tell: where the result event goes, the channels ``NOTIFY_TARGETS`` names.

:mod:`.channels` parses them (pure). :func:`publish` delivers the result to
every channel whose filter wants its outcome, the channels side by side (each
within ``Where.timeout``), and reports each one's fate; it never raises for a
channel that failed. The handler decides what an undelivered result means
(:class:`NotifyError` is what it raises so that FC's async retry tells again).

One module per kind of channel (``mns``, ``dingtalk``, ``lark``, ``wecom``,
``eventbridge``, ``webhook``), each imported only when it has something to
deliver: a cold start that has nothing to tell pays nothing for any of them.
Every module's ``deliver(event, channel, where)`` returns ``{"channel", "ok":
True, …}`` or ``{"channel", "ok": False, "code", "error"}`` and never raises.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ebs_failover.errors import NotifyError

from .channels import Channel, Where, parse_channels
from .mns import DEFAULT_TIMEOUT, default_endpoint, message_body, message_tag

__all__ = [
    "DEFAULT_TIMEOUT",
    "Channel",
    "NotifyError",
    "Where",
    "default_endpoint",
    "message_body",
    "message_tag",
    "parse_channels",
    "publish",
]


def publish(event: dict[str, Any], channels: Sequence[Channel], where: Where) -> list[dict[str, Any]]:
    """Deliver ``event`` to every channel that wants its outcome; one entry per such channel, in order.

    The MNS topics share one client (one connection), the other channels one delivery each; all of
    them at once, so that a dead channel costs its timeout once, not once per channel after it.
    """
    outcome = str(event.get("data", {}).get("outcome"))
    wanted = [channel for channel in channels if channel.wants(outcome)]
    if not wanted:
        return []
    topics = [channel for channel in wanted if channel.kind == "mns"]
    jobs: list[tuple[list[Channel], Any]] = []
    if topics:
        jobs.append((topics, lambda: _to_topics(event, topics, where)))
    for channel in wanted:
        if channel.kind != "mns":
            jobs.append(([channel], _deliverer(event, channel, where)))
    with ThreadPoolExecutor(len(jobs), thread_name_prefix="ebs-failover-notify") as pool:
        futures = [(names, pool.submit(job)) for names, job in jobs]
        entries: dict[str, dict[str, Any]] = {}
        for names, future in futures:
            try:
                done = future.result()
            except Exception as error:  # a bug in one channel must not lose the others' entries
                done = [_failed(c.label, type(error).__name__, "the channel's delivery broke") for c in names]
            for entry in done:
                entries[entry["channel"]] = entry
    return [entries.get(c.label) or _failed(c.label, "NotDelivered", "no answer recorded") for c in wanted]


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
    )


def _deliverer(event: dict[str, Any], channel: Channel, where: Where) -> Any:
    def deliver() -> list[dict[str, Any]]:
        module = importlib.import_module(f"{__name__}.{channel.kind}")
        return [module.deliver(event, channel, where)]

    return deliver


def _failed(label: str, code: str, message: str) -> dict[str, Any]:
    return {"channel": label, "ok": False, "code": code, "error": message}
