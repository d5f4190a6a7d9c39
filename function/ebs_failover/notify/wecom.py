"""Tell a WeCom (企业微信) group through its group robot (``wecom:<name>``).

The request::

    POST <NOTIFY_<NAME>_URL>                        (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY)
    Content-Type: application/json
    {"msgtype": "markdown", "markdown": {"content": "…"}}

WeCom group robots have no signing: the ``key`` in the URL is the only credential, which is why the URL
is a secret (the redactor learns it) and nothing else is sent. ``markdown.content`` is at most 4096
bytes of UTF-8 (:data:`CONTENT_LIMIT`): a result whose whole text is longer is sent as a summary (every
outcome counted, every target needing a person named: :mod:`ebs_failover.notify._text`). Values from the
event are escaped for WeCom's Markdown (full-width forms: WeCom documents no escape; ``<`` too, which would
open its ``<font>`` and ``<@userid>``).

The answer is ``{"errcode": 0, "errmsg": "ok"}``; any other ``errcode`` is a failure ``WeCom.<errcode>``
(``WeCom.93000``: the key is not a robot's), except ``45009`` (over the limit), coded ``RateLimited``.
A robot takes at most 20 messages a minute: as for DingTalk, this process keeps a sliding window per
robot (:data:`RATE_WINDOW`) and sends nothing when it is full.

Read in secondary sources and code that quotes WeCom's document 91770 (not WeCom's page itself): the
URL, the body, the 4096-byte limit, the 20-a-minute limit, 93000 and 45009. Not verified: the exact
``errmsg`` texts, and the codes of a too-long or empty content (the fake answers 40058 and 44004).
"""

from __future__ import annotations

from typing import Any

from ebs_failover.errors import DeliveryFailed
from ebs_failover.notify import _http, _text
from ebs_failover.notify.channels import Channel, Where

__all__ = ["CONTENT_LIMIT", "RATE_LIMITED_CODES", "RATE_WINDOW", "deliver", "message"]

#: ``markdown.content``'s limit, in UTF-8 bytes.
CONTENT_LIMIT = 4096
#: WeCom's errcode for a robot (or an API) over its limit.
RATE_LIMITED_CODES = frozenset({45009})
#: 20 messages a minute per robot, counted in this process.
RATE_WINDOW = _http.RateWindow(limit=20, seconds=60)


def message(event: dict[str, Any]) -> dict[str, Any]:
    """The JSON body: a Markdown message within WeCom's 4096 bytes."""
    _, text = _text.markdown(event, limit=CONTENT_LIMIT, flavour="wecom")
    return {"msgtype": "markdown", "markdown": {"content": text}}


def deliver(event: dict[str, Any], channel: Channel, where: Where) -> dict[str, Any]:
    """Send the result to the robot; ``{"channel", "ok": True}`` or a failure entry. Never raises."""
    return _http.attempt(channel, lambda: _send(event, channel, where))


def _send(event: dict[str, Any], channel: Channel, where: Where) -> dict[str, Any]:
    if not channel.url:
        raise DeliveryFailed("MissingUrl", "the robot has no URL")
    return _http.send_to_robot(
        channel,
        channel.url,
        message(event),
        window=RATE_WINDOW,
        timeout=where.left(),
        service="WeCom",
        rate_limited=RATE_LIMITED_CODES,
        deadline=where.deadline,
    )
