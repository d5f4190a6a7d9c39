"""Tell a DingTalk group through its custom robot (``dingtalk:<name>``), signed with its secret.

The request, as DingTalk's custom-robot document gives it (quoted by secondary sources, see
``fc-runtime.md`` §10 and ``dr-operations.md``)::

    POST <NOTIFY_<NAME>_URL>&timestamp=<ms>&sign=<sign>         (the URL holds ?access_token=…)
    Content-Type: application/json
    {"msgtype": "markdown", "markdown": {"title": "…", "text": "…"}}

``sign`` is the URL-encoded base64 of HMAC-SHA256 keyed with the secret (``SEC…``) over
``f"{timestamp}\\n{secret}"``, the timestamp in milliseconds (DingTalk refuses one more than an hour
from its clock). The answer is HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; any other ``errcode``
is a failure, coded ``DingTalk.<errcode>`` (``DingTalk.310000``: the signature or the timestamp,
``DingTalk.300001``: the token), except the over-limit ones, coded ``RateLimited``.

DingTalk takes at most 20 messages a minute from one robot, and throttles it for 10 minutes past that.
This process keeps its own sliding window per robot (:data:`RATE_WINDOW`): when it is full the message
is not sent and the entry is ``RateLimited``, so that the handler's retry (when no other channel took a
result a person needs) comes later instead of prolonging the throttling. Concurrent FC instances each
have their own window: theirs together may still exceed the limit, which DingTalk then answers.

The request body is at most :data:`MAX_BYTES` (DingTalk's answer to a larger one, as users quote it:
"body 大小不合法; 请保持大小在 20000bytes 以内"): a result whose whole text would make it larger is sent as
a summary (:mod:`ebs_failover.notify._text`). Values from the event are escaped for DingTalk's Markdown
(full-width forms: DingTalk documents no escape).

Not verified against DingTalk's own pages (read through secondary sources, or from memory): the
over-limit codes (``130101`` "send too fast", and ``90030`` "webhook over limit" as ``dr-operations.md``
cites), ``310000`` for a bad signature or timestamp, the 20 000-byte limit (quoted in a user's report,
not a DingTalk page), and whether DingTalk answers an HTTP status other than 200 for anything but an
outage. DingTalk announced in 2023 that custom robots would be
retired; users report group webhooks still working (``dr-operations.md``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import quote_plus

from ebs_failover.errors import DeliveryFailed
from ebs_failover.notify import _http, _text
from ebs_failover.notify.channels import Channel, Where

__all__ = ["MAX_BYTES", "RATE_LIMITED_CODES", "RATE_WINDOW", "deliver", "message", "sign", "signed_url"]

#: DingTalk's errcodes for a robot over its limit.
RATE_LIMITED_CODES = frozenset({130101, 90030})
#: 20 messages a minute per robot, counted in this process.
RATE_WINDOW = _http.RateWindow(limit=20, seconds=60)
#: The largest request body DingTalk takes, in bytes.
MAX_BYTES = 20000


def sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query parameter: URL-encoded base64 HMAC-SHA256(secret, ``"{timestamp}\\n{secret}"``)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def signed_url(url: str, secret: str | None, timestamp_ms: int) -> str:
    """The robot's URL with ``timestamp`` and ``sign`` appended (unchanged without a secret)."""
    if not secret:
        return url
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={sign(secret, timestamp_ms)}"


def message(event: dict[str, Any]) -> dict[str, Any]:
    """The JSON body: a Markdown message whose title is what the chat list shows, within :data:`MAX_BYTES`."""
    title = _text.title(event)

    def body(text: str) -> dict[str, Any]:
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}

    _, text = _text.markdown(
        event, flavour="dingtalk", fits=lambda text: len(_http.json_body(body(text))) <= MAX_BYTES
    )
    return body(text)


def deliver(event: dict[str, Any], channel: Channel, where: Where) -> dict[str, Any]:
    """Send the result to the robot; ``{"channel", "ok": True}`` or a failure entry. Never raises."""
    return _http.attempt(channel, lambda: _send(event, channel, where))


def _send(event: dict[str, Any], channel: Channel, where: Where) -> dict[str, Any]:
    if not channel.url:
        raise DeliveryFailed("MissingUrl", "the robot has no URL")
    return _http.send_to_robot(
        channel,
        signed_url(channel.url, channel.secret, int(time.time() * 1000)),
        message(event),
        window=RATE_WINDOW,
        timeout=where.left(),
        service="DingTalk",
        rate_limited=RATE_LIMITED_CODES,
        deadline=where.deadline,
    )
