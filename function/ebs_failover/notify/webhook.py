"""POST the result, as a CloudEvent, to any HTTPS endpoint (``webhook:<name>``).

The request (CloudEvents' structured mode over HTTP)::

    POST <NOTIFY_<NAME>_URL>
    Content-Type: application/cloudevents+json; charset=utf-8
    X-Ebs-Failover-Timestamp: 1718000000                      (only with NOTIFY_<NAME>_SECRET)
    X-Ebs-Failover-Signature: sha256=<hex>                    (only with NOTIFY_<NAME>_SECRET)

    {"specversion": "1.0", "id": "…", "type": "ebs-failover.v1.failed_over", …, "data": {…}}

The body is the event as compact UTF-8 JSON, exactly as signed, at most :data:`MAX_BYTES` (256 KiB: no
receiver documents a limit here, so a conservative one, what common gateways and EventBridge take): a larger
result is sent as its summary (:func:`ebs_failover.notify._summary.summary`: the same attributes, ``data``
counting every outcome and naming every target that needs a person; the whole result is in the log).

**For receivers: verifying the signature** (as Stripe's webhooks do). ``<hex>`` is the lower-case hex
HMAC-SHA256 keyed with the secret over ``f"{timestamp}.{body}"``, ``body`` the raw bytes received (do
not re-serialise the JSON: another serialisation signs differently)::

    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(f"sha256={expected}", signature) and abs(time.time() - int(timestamp)) <= 300

Refuse a timestamp far from your clock (5 minutes is Stripe's tolerance): it stops the replay of an old
request. The event's ``id`` is the same on FC's redelivery of an invocation only if the invocation is
the same; de-duplicate on ``data.targets[].client_token`` for what the function did.

Any 2xx is success (the entry names the status); another status is ``HttpError`` with the ``status``;
no whole answer within ``Where.timeout`` of the start of the publish (however slowly it trickles) is
``Timeout``, no connection ``NetworkError``. Redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from ebs_failover.errors import DeliveryFailed
from ebs_failover.notify import _http, _summary
from ebs_failover.notify.channels import Channel, Where

__all__ = [
    "CONTENT_TYPE",
    "MAX_BYTES",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "body_of",
    "deliver",
    "signature",
]

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
TIMESTAMP_HEADER = "X-Ebs-Failover-Timestamp"
SIGNATURE_HEADER = "X-Ebs-Failover-Signature"
#: The largest body sent, in bytes (a conservative choice: see the module's docstring).
MAX_BYTES = 256 * 1024


def body_of(event: dict[str, Any]) -> bytes:
    """The event as compact UTF-8 JSON (its summary when that would exceed :data:`MAX_BYTES`)."""
    return _compact(_summary.fit(event, lambda sent: len(_compact(sent)) <= MAX_BYTES))


def _compact(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, "{timestamp}." + body)>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def deliver(event: dict[str, Any], channel: Channel, where: Where) -> dict[str, Any]:
    """POST the event; ``{"channel", "ok": True, "status"}`` or a failure entry. Never raises."""
    return _http.attempt(channel, lambda: _send(event, channel, where))


def _send(event: dict[str, Any], channel: Channel, where: Where) -> dict[str, Any]:
    if not channel.url:
        raise DeliveryFailed("MissingUrl", "the webhook has no URL")
    body = body_of(event)
    headers = {"Content-Type": CONTENT_TYPE}
    if channel.secret:
        timestamp = int(time.time())
        headers[TIMESTAMP_HEADER] = str(timestamp)
        headers[SIGNATURE_HEADER] = signature(channel.secret, timestamp, body)
    answer = _http.post(channel.url, body, headers, where.left(), deadline=where.deadline)
    if not answer.ok:
        raise _http.http_error(answer)
    return {"status": answer.status}
