"""Tell a Lark (Feishu) group through its custom bot (``lark:<name>``), signed with its secret.

The request (``…/open-apis/bot/v2/hook/<token>``, on ``open.feishu.cn`` or ``open.larksuite.com``)::

    POST <NOTIFY_<NAME>_URL>
    Content-Type: application/json
    {"timestamp": "<s>", "sign": "<sign>", "msg_type": "interactive", "card": {…}}

Signing differs from DingTalk's: ``sign`` is the base64 of HMAC-SHA256 *keyed with*
``f"{timestamp}\\n{secret}"`` over an *empty* message, the timestamp in seconds (within an hour of
Lark's clock), both in the body. The message is an interactive card: its header the title (coloured
by outcome), its one element the Markdown text (:mod:`ebs_failover.notify._text`).

The answer is ``{"code": 0, "msg": "success", "data": {}}`` (bots made before 2020 answer
``{"StatusCode": 0, "StatusMessage": "success"}``; a reply carrying both is read by ``code``). Any other
code is a failure ``Lark.<code>`` (``Lark.19021``: "sign match fail or timestamp is not within one hour
from current time"), except ``11232`` ("frequency limited"), coded ``RateLimited``.

The request body is kept within :data:`MAX_BYTES` (20 KB: a custom bot's request limit as remembered from
Lark's guide; its cards may be 30 KB, the smaller is kept): a result whose whole card would be larger is sent
as a summary (:mod:`ebs_failover.notify._text`). Values from the event are escaped for the card's Markdown
with HTML entities (``&#42;``, ``&lt;``), which Lark's card Markdown decodes (from memory of its guide).

Verified (secondary sources, ``dr-operations.md``; the 19021 answer quoted in feiyu563/PrometheusAlert#422):
the signing and 19021. Not verified: the ``11232`` code and Lark's per-bot limit (about 100 a minute and
5 a second, from memory: no local window is kept, Lark's answer decides), the 20 KB request limit, the
entities, and how much Markdown a card's ``markdown`` element renders (a heading or a list it does not
render shows as text).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from ebs_failover.errors import DeliveryFailed
from ebs_failover.notify import _http, _text
from ebs_failover.notify.channels import Channel, Where

__all__ = ["MAX_BYTES", "RATE_LIMITED_CODES", "deliver", "message", "sign"]

#: Lark's codes for a bot over its limit.
RATE_LIMITED_CODES = frozenset({11232})
#: The largest request body this module sends, in bytes.
MAX_BYTES = 20 * 1024
#: The card header's colour for each outcome (Lark's template names).
_COLOURS = {"failed_over": "green", "already_failed_over": "turquoise", "failed": "red", "refused": "orange"}


def sign(secret: str, timestamp: int) -> str:
    """The body's ``sign``: base64 HMAC-SHA256 keyed with ``"{timestamp}\\n{secret}"`` over nothing."""
    return base64.b64encode(
        hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    ).decode()


def message(event: dict[str, Any], secret: str | None, timestamp: int) -> dict[str, Any]:
    """The JSON body: an interactive card, signed when the bot has a secret, within :data:`MAX_BYTES`."""
    title = _text.title(event)
    outcome = str((event.get("data") or {}).get("outcome"))

    def body(text: str) -> dict[str, Any]:
        return _card(title, _without_heading(text), outcome, secret, timestamp)

    _, text = _text.markdown(
        event, flavour="lark", fits=lambda text: len(_http.json_body(body(text))) <= MAX_BYTES
    )
    return body(text)


def _card(title: str, text: str, outcome: str, secret: str | None, timestamp: int) -> dict[str, Any]:
    card = {
        "config": {"wide_screen_mode": True},
        "header": {
            "title": {"tag": "plain_text", "content": title},
            "template": _COLOURS.get(outcome, "blue"),
        },
        "elements": [{"tag": "markdown", "content": text}],
    }
    body: dict[str, Any] = {"msg_type": "interactive", "card": card}
    if secret:
        body = {"timestamp": str(timestamp), "sign": sign(secret, timestamp), **body}
    return body


def _without_heading(text: str) -> str:
    """The text without its ``###`` heading: the card's header has it."""
    return text.split("\n\n", 1)[1] if text.startswith("### ") and "\n\n" in text else text


def deliver(event: dict[str, Any], channel: Channel, where: Where) -> dict[str, Any]:
    """Send the result to the bot; ``{"channel", "ok": True}`` or a failure entry. Never raises."""
    return _http.attempt(channel, lambda: _send(event, channel, where))


def _send(event: dict[str, Any], channel: Channel, where: Where) -> dict[str, Any]:
    if not channel.url:
        raise DeliveryFailed("MissingUrl", "the bot has no URL")
    body = _http.json_body(message(event, channel.secret, int(time.time())))
    headers = {"Content-Type": "application/json; charset=utf-8"}
    answer = _http.post(channel.url, body, headers, where.left(), deadline=where.deadline)
    return _read(answer)


def _read(answer: _http.Answer) -> dict[str, Any]:
    reply = answer.json()
    code = _code(reply)
    if code is None:  # not Lark's JSON: an outage or a proxy's page
        if not answer.ok:
            raise _http.http_error(answer)
        raise DeliveryFailed("HttpError", f"HTTP {answer.status} without Lark's code", status=answer.status)
    if code == 0 and answer.ok:
        return {}
    text = str(reply.get("msg") or reply.get("StatusMessage") or "")
    if code in RATE_LIMITED_CODES:
        raise DeliveryFailed("RateLimited", f"Lark {code}: {text}")
    if code == 0:  # a success code on an error status: trust the status
        raise _http.http_error(answer)
    raise DeliveryFailed(f"Lark.{code}", text or "Lark refused the message")


def _code(reply: Any) -> int | None:
    """The reply's ``code`` (or the older ``StatusCode``)."""
    if not isinstance(reply, dict):
        return None
    for key in ("code", "StatusCode"):
        if isinstance(reply.get(key), int) and not isinstance(reply.get(key), bool):
            return int(reply[key])
    return None
