"""Publish the result event to MNS topics with the ``aliyun-mns-sdk`` (import name ``mns``).

One channel is ``mns:<topic-name>``. The message body is the CloudEvent as
compact JSON (:func:`message_body`); its tag is the event's outcome
(:func:`message_tag`), so that a subscription can filter on it.

What the SDK does on the wire, and what this module does about it:

* ``PublishMessage`` is ``POST /topics/<topic>/messages`` with an XML body,
  signed ``Authorization: MNS <AccessKeyId>:<signature>``; an STS token goes in
  the ``security-token`` header (sent only when non-empty: ``None`` must never
  reach the SDK, which would put ``None`` in the header).
* The SDK's only retry: when a kept-alive connection is found closed
  (``BadStatusLine``) it sends the request once more on a new one. We add none:
  a notification is cheap to lose compared to an invocation that hangs, and the
  handler turns an undelivered ``failed_over`` into an FC async retry.
* The SDK's plain-HTTP connection has a 60 s socket timeout and its HTTPS one
  none at all (``http.client`` default: block forever). :func:`publish` sets
  ``timeout`` (default :data:`DEFAULT_TIMEOUT`) on both, for the connect, the
  TLS handshake and every read, so a dead endpoint costs about ``timeout`` per
  channel (per resolved address while connecting).
* ``http.client`` ignores ``HTTP(S)_PROXY``: the SDK never goes through a proxy.
* Given a ``deadline`` (``time.monotonic()``; :func:`ebs_failover.notify.publish` gives one), every
  topic's timeouts are what is left of it, no topic is tried after it, and a watchdog shuts the
  connection's socket down when it comes (its timeouts cut to nothing, for the SDK's retry): a topic
  that trickles its answer cannot keep the delivery past it (``Timeout``).

Size: a topic's message body is at most 64 KiB (:data:`MAX_BODY_BYTES`, MNS's ``MaximumMessageSize``
at its largest, the default). A result whose body would be larger is published as its summary
(:func:`ebs_failover.notify._summary.summary`: the same attributes, ``data`` counting every outcome and
naming every target that needs a person; the whole result is in the function's log, under its id).

A failure is reported as ``{"channel", "ok": False, "code", "error"}`` where
``code`` is MNS's error code (``TopicNotExist``, ``SignatureDoesNotMatch``…),
``NetworkError`` when no answer came back, or the SDK's client-side code
(``MessageTagInvalid``…). Neither the AccessKey secret nor the STS token ever
appears in a result or a failed delivery: messages are scrubbed of both.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ebs_failover import redact
from ebs_failover.cloud.credentials import Credentials
from ebs_failover.errors import DeliveryFailed
from ebs_failover.notify import _summary
from ebs_failover.redact import one_line, shorten

if TYPE_CHECKING:  # the SDK is imported lazily, when a message is published
    from mns.account import Account

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_BODY_BYTES",
    "MAX_TAG_LENGTH",
    "SCHEME",
    "default_endpoint",
    "message_body",
    "message_tag",
    "publish",
]

SCHEME = "mns"
#: Seconds for the connect, the TLS handshake and each read of one publish.
DEFAULT_TIMEOUT = 5.0
#: MNS refuses a MessageTag longer than this (the SDK checks it before sending).
MAX_TAG_LENGTH = 16
#: The largest message body a topic takes (``MaximumMessageSize``: 1 KiB to 64 KiB, 64 KiB by default).
MAX_BODY_BYTES = 65536
#: The timeout a connection's watchdog leaves it (seconds): whatever the SDK tries next fails at once.
_SPENT = 0.001
#: How much of an error message a result keeps.
_MAX_ERROR_LENGTH = 500


def _failure(channel: str, failed: DeliveryFailed) -> dict[str, Any]:
    """One channel's failure as an entry of :func:`publish`'s list (``request_id`` when MNS answered)."""
    return {"channel": channel, "ok": False, "code": failed.code, "error": failed.message, **failed.details}


def default_endpoint(account_id: str, region: str) -> str:
    """The public MNS endpoint of an account in a region."""
    return f"https://{account_id}.mns.{region}.aliyuncs.com"


def message_body(event: dict[str, Any]) -> str:
    """The JSON the subscribers receive: compact, keys in the event's order, ASCII only.

    ASCII because MNS carries the body inside XML, which cannot hold every character JSON can
    (a lone surrogate, U+FFFE): escaped, any text an alarm carries still reaches subscribers.
    """
    return json.dumps(event, ensure_ascii=True, separators=(",", ":"), default=str)


def message_tag(event: dict[str, Any]) -> str | None:
    """The event's outcome as an MNS tag (<= 16 characters: ``already_failed_over`` is ``already_done``)."""
    data = event.get("data")
    outcome = data.get("outcome") if isinstance(data, dict) else None
    if not isinstance(outcome, str) or not outcome:
        return None
    return _SHORT_TAGS.get(outcome, outcome)[:MAX_TAG_LENGTH]


#: Outcomes longer than an MNS tag may be, and the tag that stands for them.
_SHORT_TAGS = {"already_failed_over": "already_done"}


def publish(
    event: dict[str, Any],
    channels: Sequence[str],
    *,
    credentials: Credentials | None,
    region: str,
    account_id: str,
    endpoint: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float | None = None,
) -> list[dict[str, Any]]:
    """Publish the JSON-serialised CloudEvent ``event`` (its summary when larger than
    :data:`MAX_BODY_BYTES`) to every channel (``"mns:<topic>"``), all of them by ``deadline``, when given.

    Returns one dict per channel, in order: ``{"channel", "ok": True, "message_id"}``
    or ``{"channel", "ok": False, "code", "error"}`` (plus ``"request_id"`` when
    MNS answered with an error). Never raises for a channel failure: every
    channel is attempted even if an earlier one failed. The MNS endpoint is
    ``endpoint`` if given, else ``https://{account_id}.mns.{region}.aliyuncs.com``.
    """
    sent = _summary.fit(event, lambda fitted: len(message_body(fitted).encode("utf-8")) <= MAX_BODY_BYTES)
    body, tag = message_body(sent), message_tag(event)
    results: list[dict[str, Any]] = []
    account: Account | None = None
    watchdog: threading.Timer | None = None
    try:
        for channel in channels:
            try:
                topic = _topic_of(channel)
                left = timeout if deadline is None else min(timeout, deadline - time.monotonic())
                if left <= 0:
                    raise DeliveryFailed("Timeout", "no time left before the delivery's deadline: not sent")
                if account is None:
                    account = _account(
                        channel, credentials, _host(channel, endpoint, account_id, region), left
                    )
                    watchdog = _watchdog(account, deadline)
                _bound_socket(account, left)
                message_id = _publish_one(account, topic, body, tag, channel, credentials)
            except DeliveryFailed as failed:
                if deadline is not None and time.monotonic() >= deadline and failed.code == "NetworkError":
                    failed = DeliveryFailed("Timeout", f"no whole answer by the deadline ({failed.message})")
                results.append(_failure(channel, failed))
            else:
                results.append({"channel": channel, "ok": True, "message_id": message_id})
    finally:
        if watchdog is not None:
            watchdog.cancel()
        if account is not None:
            _close(account)
    return results


def _watchdog(account: Account, deadline: float | None) -> threading.Timer | None:
    """A timer that spends the account's connection at ``deadline`` (None without one)."""
    if deadline is None:
        return None
    timer = threading.Timer(max(deadline - time.monotonic(), 0.0), _spend, (account,))
    timer.daemon = True  # a timer must never keep the process alive
    timer.start()
    return timer


def _spend(account: Account) -> None:
    """The deadline: the connection's timeouts cut to nothing and its socket shut down, so that the read
    under way returns and the SDK's retry on a new connection fails at once."""
    with contextlib.suppress(Exception):  # best effort: the SDK's objects are not ours
        _bound_socket(account, _SPENT)
        sock = account.get_client().http.conn.sock
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)


def _bound_socket(account: Account, seconds: float) -> None:
    """The connection's timeouts (the next connect's, and the open socket's reads) set to ``seconds``."""
    connection = getattr(account.get_client().http, "conn", None)
    if connection is None:
        return
    connection.timeout = seconds  # HTTPS: http.client's connect() and the handshake
    if hasattr(connection, "connection_timeout"):
        connection.connection_timeout = seconds  # plain HTTP: the SDK's own connect()
    if connection.sock is not None:
        connection.sock.settimeout(seconds)


def _topic_of(channel: str) -> str:
    scheme, _, topic = channel.partition(":")
    if scheme != SCHEME or not topic:
        raise DeliveryFailed("UnsupportedChannel", "a channel is mns:<topic-name>")
    return topic


def _host(channel: str, endpoint: str | None, account_id: str, region: str) -> str:
    if endpoint:
        return endpoint if "://" in endpoint else f"https://{endpoint}"
    if not account_id or not region:
        raise DeliveryFailed("InvalidEndpoint", "no MNS endpoint: the account id or the region is unknown")
    return default_endpoint(account_id, region)


def _account(channel: str, credentials: Credentials | None, host: str, timeout: float) -> Account:
    if credentials is None:
        raise DeliveryFailed("MissingCredentials", "no credentials to sign MNS requests with")
    try:
        from mns.account import Account
    except ImportError:
        raise DeliveryFailed("MnsSdkMissing", "the aliyun-mns-sdk package is not installed") from None
    try:
        account = Account(
            host, credentials.access_key_id, credentials.access_key_secret, credentials.security_token or ""
        )
        _bound_time(account, timeout)
    except Exception as error:  # MNSClientParameterException: a host without http(s)://
        raise _error_of(error, credentials) from None
    return account


def _bound_time(account: Account, timeout: float) -> None:
    """Give both of the SDK's connection classes a socket timeout (see the module's docstring)."""
    client = account.get_client()
    client.set_connection_timeout(timeout)  # plain HTTP: a new connection whose connect() applies it
    connection = getattr(client.http, "conn", None)
    if connection is not None:
        connection.timeout = timeout  # HTTPS: http.client's connect() and the handshake use .timeout


def _close(account: Account) -> None:
    with contextlib.suppress(Exception):  # closing is best effort
        account.get_client().close_connection()


def _publish_one(
    account: Account, topic: str, body: str, tag: str | None, channel: str, credentials: Credentials | None
) -> str:
    """Publish one message; its MessageId, once MNS's MessageBodyMD5 matches the body sent."""
    from mns.topic import TopicMessage

    try:
        sent = account.get_topic(topic).publish_message(TopicMessage(body, tag or ""))
    except Exception as error:
        raise _error_of(error, credentials, request_id=_request_id(error)) from None
    expected = hashlib.md5(body.encode("utf-8")).hexdigest()
    if str(sent.message_body_md5).lower() != expected:
        raise DeliveryFailed(
            "MessageBodyMD5Mismatch", f"MNS stored a body whose MD5 is not {expected.upper()}"
        )
    return str(sent.message_id)


def _error_of(
    error: Exception, credentials: Credentials | None, *, request_id: str | None = None
) -> DeliveryFailed:
    """An SDK exception as a failed delivery: MNS's code, else NetworkError, else the exception's type."""
    from mns.mns_exception import MNSClientNetworkException, MNSExceptionBase

    if isinstance(error, MNSClientNetworkException) and error.type == "NetWorkException":
        code, message = "NetworkError", str(error.message)
    elif isinstance(error, MNSExceptionBase):
        code, message = str(error.type), str(error.message)
    else:
        code, message = type(error).__name__, str(error)
    return DeliveryFailed(code, _scrub(message, credentials), request_id=request_id)


def _request_id(error: Exception) -> str | None:
    request_id = getattr(error, "req_id", None)
    return str(request_id) if request_id else None


def _scrub(message: str, credentials: Credentials | None) -> str:
    """The message on one line, shortened, with the secret and the token masked should anything echo them."""
    if credentials is not None:
        redact.REDACTOR.register((credentials.access_key_secret, credentials.security_token))
    return redact.REDACTOR.scrub_text(shorten(one_line(message), _MAX_ERROR_LENGTH))
