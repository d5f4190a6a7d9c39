"""Put the result event on an EventBridge bus (``eventbridge:<bus>``) with the OpenAPI ``PutEvents``.

The SDK is ``alibabacloud-eventbridge20200401`` (the 2020-04-01 OpenAPI, on ``alibabacloud-tea-openapi``
like the EBS client), imported when the first event is delivered. Not the data-plane SDK
``alibabacloud-eventbridge``: every release of it (1.1.0 to 1.3.8, the last) requires
``alibabacloud_credentials<1.0.0`` while ``alibabacloud-tea-openapi`` 0.4.6, which the EBS SDK needs,
requires ``>=1.0.2``; pip cannot install both (``ResolutionImpossible``).

What goes on the wire: ``POST /`` signed ACS3-HMAC-SHA256 (``x-acs-action: PutEvents``,
``x-acs-version: 2020-04-01``), a form body with ``EventBusName`` and ``EventList``, the JSON list
of one event whose ``Id``, ``Source``, ``Type``, ``Subject``, ``Time``, ``DataContentType``,
``SpecVersion`` are the result CloudEvent's and whose ``Data`` is its ``data`` object unchanged.
The endpoint is ``EVENTBRIDGE_ENDPOINT`` when set, else the SDK's own for the region
(``eventbridge-console.<region>.aliyuncs.com``).

Size: PutEvents takes at most 256 KB (262 144 bytes) of events a call (EventBridge's "Calculate the size
of events published by PutEvents"). The one event is kept within :data:`MAX_BYTES` counted as its whole
``EventList`` item in compact JSON (more than EventBridge counts: keys and quotes too): a larger result
is put as its summary (:func:`ebs_failover.notify._summary.summary`: the same attributes, ``data``
counting every outcome and naming every target that needs a person; the whole result is in the log).

Time: the connect and every read are bounded by what is left of ``Where.timeout`` (from the start of
the publish), and a delivery that has none left is not started; the SDK's retries stay off (its
default), as for MNS: the handler turns an undelivered result a person needs into an FC async retry. The
SDK's socket is out of reach: an endpoint that trickles its answer could keep this delivery's thread
reading past the deadline, but not the publish, which reports the channel ``Timeout`` at the deadline.

A failure is ``{"channel", "ok": False, "code", "error"}`` (plus ``"request_id"`` when EventBridge
answered): ``code`` is EventBridge's (``EventBusNotExist``, ``SignatureDoesNotMatch``…),
``FailedEntry`` when the call succeeded but the event was refused (``entry_code``: the entry's
``ErrorCode``), ``Timeout`` when no answer came in time, ``NetworkError`` when none came at all.
Every message is scrubbed of the AccessKey secret and the STS token.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit

from ebs_failover import redact
from ebs_failover.cloud.credentials import Credentials
from ebs_failover.errors import DeliveryFailed
from ebs_failover.notify import _summary
from ebs_failover.notify.channels import Channel, Where
from ebs_failover.redact import one_line, shorten

__all__ = ["API_VERSION", "MAX_BYTES", "deliver", "entry"]

API_VERSION = "2020-04-01"
#: The largest ``EventList`` item put, in bytes of compact JSON (PutEvents' limit: 256 KB of events).
MAX_BYTES = 256 * 1024
#: How much of an error message a result keeps.
_MAX_ERROR_LENGTH = 500
#: The CloudEvent attributes PutEvents carries, and the names its EventList gives them.
_ATTRIBUTES = (
    ("id", "Id"),
    ("source", "Source"),
    ("type", "Type"),
    ("subject", "Subject"),
    ("time", "Time"),
    ("datacontenttype", "DataContentType"),
    ("specversion", "SpecVersion"),
    ("dataschema", "DataSchema"),
    ("data", "Data"),
)


def entry(event: dict[str, Any]) -> dict[str, Any]:
    """The ``EventList`` item for ``event``: its attributes under PutEvents' names, absent ones left out;
    the event's summary when the whole would exceed :data:`MAX_BYTES`."""
    fitted = _summary.fit(event, lambda sent: _summary.json_size(_item(sent)) <= MAX_BYTES)
    return _item(fitted)


def _item(event: dict[str, Any]) -> dict[str, Any]:
    return {name: event[key] for key, name in _ATTRIBUTES if event.get(key) is not None}


def deliver(event: dict[str, Any], channel: Channel, where: Where) -> dict[str, Any]:
    """Put ``event`` on the bus ``channel.name``; ``{"channel", "ok": True, "event_id", "request_id"}``.

    Never raises: a failure is an entry (see the module's docstring).
    """
    try:
        return _deliver(event, channel, where)
    except DeliveryFailed as failed:
        return _entry(channel, failed)
    except Exception as error:  # a bug or an SDK surprise stays this channel's failure
        return _entry(channel, _failure(type(error).__name__, str(error), where.credentials))


def _deliver(event: dict[str, Any], channel: Channel, where: Where) -> dict[str, Any]:
    credentials = where.credentials
    if credentials is None:
        raise _failure("MissingCredentials", "no credentials to sign EventBridge requests")
    try:
        from alibabacloud_eventbridge20200401 import models  # type: ignore[import-untyped]
    except ImportError:
        raise _failure("EventBridgeSdkMissing", "alibabacloud-eventbridge20200401 is not installed") from None
    if where.left() <= 0:
        raise _failure("Timeout", "no time left before the delivery's deadline: not sent")
    protocol, host = _endpoint(where.eventbridge_endpoint)
    client = _client(where.region, credentials, host, protocol)
    request = models.PutEventsRequest(
        event_bus_name=channel.name, event_list=[models.PutEventsRequestEventList().from_map(entry(event))]
    )
    try:
        response = client.put_events_with_options(request, _runtime(where.left()))
    except Exception as error:
        raise _sdk_failure(error, credentials) from None
    return _answered(channel, event, response.body, credentials)


def _endpoint(override: str | None) -> tuple[str, str | None]:
    """``(protocol, host)`` of ``EVENTBRIDGE_ENDPOINT`` (a host, or a URL for a fake); no host: the SDK's."""
    if not override:
        return "https", None
    if "://" not in override:
        return "https", override.rstrip("/")
    parts = urlsplit(override)
    return parts.scheme or "https", parts.netloc


@functools.lru_cache(maxsize=8)
def _client(region: str, credentials: Credentials, host: str | None, protocol: str) -> Any:
    """One client per region, credentials and endpoint, kept across warm invocations (a new STS token:
    a new client)."""
    from alibabacloud_eventbridge20200401.client import Client  # type: ignore[import-untyped]
    from alibabacloud_tea_openapi.utils_models import Config

    options: dict[str, Any] = {
        "region_id": region,
        "protocol": protocol,
        "access_key_id": credentials.access_key_id,
        "access_key_secret": credentials.access_key_secret,
        "security_token": credentials.security_token or None,
    }
    if host:
        options["endpoint"] = host
    return Client(Config(**options))


def _runtime(timeout: float) -> Any:
    from darabonba.runtime import RuntimeOptions

    milliseconds = max(int(timeout * 1000), 1)
    return RuntimeOptions(read_timeout=milliseconds, connect_timeout=milliseconds, autoretry=False)


def _answered(channel: Channel, event: dict[str, Any], body: Any, credentials: Credentials) -> dict[str, Any]:
    """The entry for a 2xx answer: ok, or the refusal it carries (a failed entry, an unsuccessful code)."""
    request_id = str(getattr(body, "request_id", None) or "")
    data = getattr(body, "data", None)
    entries = list(getattr(data, "entry_list", None) or [])
    failed = getattr(data, "failed_entry_count", None) or 0
    if failed:
        first = next((item for item in entries if getattr(item, "error_code", None)), None)
        code = str(getattr(first, "error_code", None) or "Unknown")
        message = f"{failed} event(s) refused: {code}: {getattr(first, 'error_message', None) or ''}"
        raise _failure("FailedEntry", message, credentials, request_id, entry_code=code)
    if getattr(body, "success", None) is False:
        code = str(getattr(body, "code", None) or "Unsuccessful")
        raise _failure(code, str(getattr(body, "message", "")), credentials, request_id)
    event_id = next((str(item.event_id) for item in entries if getattr(item, "event_id", None)), None)
    return {
        "channel": channel.label,
        "ok": True,
        "event_id": event_id or str(event.get("id")),
        "request_id": request_id,
    }


def _sdk_failure(error: Exception, credentials: Credentials) -> DeliveryFailed:
    """An SDK exception as a failed delivery: EventBridge's code, else Timeout or NetworkError, else its
    type."""
    code = getattr(error, "code", None)
    status = getattr(error, "status_code", None)
    if code not in (None, "None") and isinstance(status, int):
        data = getattr(error, "data", None)
        message = data.get("Message") if isinstance(data, dict) else None
        request_id = getattr(error, "request_id", None)
        return _failure(str(code), str(message or getattr(error, "message", "")), credentials, request_id)
    if _is_timeout(error):
        return _failure("Timeout", f"no answer within the timeout ({type(error).__name__})", credentials)
    return _failure("NetworkError", f"{type(error).__name__}: {error}", credentials)


def _is_timeout(error: BaseException) -> bool:
    """Whether ``error`` (or what it wraps) is a connect or read timeout."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TimeoutError) or "timeout" in type(current).__name__.lower():
            return True
        current = current.__cause__ or current.__context__
    return "timed out" in str(error).lower()


def _failure(
    code: str,
    message: str,
    credentials: Credentials | None = None,
    request_id: str | None = None,
    **details: Any,
) -> DeliveryFailed:
    """A failed delivery, its message scrubbed (``request_id`` when EventBridge answered)."""
    return DeliveryFailed(
        code, _scrub(message, credentials), request_id=str(request_id) if request_id else None, **details
    )


def _entry(channel: Channel, failed: DeliveryFailed) -> dict[str, Any]:
    """A failed delivery as the channel's entry."""
    return {
        "channel": channel.label,
        "ok": False,
        "code": failed.code,
        "error": failed.message,
        **failed.details,
    }


def _scrub(message: str, credentials: Credentials | None) -> str:
    """The message on one line, shortened, with the secret and the token masked should anything echo them."""
    if credentials is not None:
        redact.REDACTOR.register((credentials.access_key_secret, credentials.security_token))
    return redact.REDACTOR.scrub_text(shorten(one_line(message), _MAX_ERROR_LENGTH))
