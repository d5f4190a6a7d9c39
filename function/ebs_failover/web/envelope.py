"""The FC 3.0 HTTP trigger's envelope, read once: is this an HTTP request, and which one.

FC passes an HTTP-trigger request as a JSON envelope (``version``, ``rawPath``, ``body``,
``isBase64Encoded``, ``headers``, ``queryParameters``, ``requestContext.http``: ``method``, ``path``,
``sourceIp``). Its caller expects an HTTP answer (:mod:`.answer`), whatever the body holds; the body
itself is parsed as an event by :mod:`ebs_failover.triggers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ebs_failover.triggers import Payload, is_http_envelope

__all__ = ["Request", "is_http_request", "request_of"]


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP-trigger request as routing needs it (names of headers lower-cased; a multi-valued query
    parameter or header joined with ``","``)."""

    method: str
    #: The decoded path (``requestContext.http.path``; ``rawPath`` is still URL-encoded), ``/`` if absent.
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    source_ip: str | None = None


def is_http_request(payload: Payload) -> bool:
    """Whether the decoded event is an HTTP-trigger envelope (so its caller expects an HTTP answer)."""
    return not payload.form and is_http_envelope(payload.data)


def request_of(payload: Payload) -> Request | None:
    """The request an HTTP-trigger envelope describes, or None when ``payload`` is not one. Lenient: a
    field of the wrong type reads as absent (the event's own parse says what is wrong with it)."""
    if not is_http_request(payload):
        return None
    data = payload.data
    context = _mapping(data.get("requestContext"))
    http = _mapping(context.get("http"))
    path = http.get("path") if isinstance(http.get("path"), str) else data.get("rawPath")
    method = http.get("method")
    source_ip = http.get("sourceIp")
    return Request(
        method=method.upper() if isinstance(method, str) else "POST",
        path=path if isinstance(path, str) and path else "/",
        query=_texts(data.get("queryParameters"), lower=False),
        headers=_texts(data.get("headers"), lower=True),
        source_ip=source_ip if isinstance(source_ip, str) and source_ip else None,
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _texts(value: Any, *, lower: bool) -> dict[str, str]:
    items = _mapping(value).items()
    return {
        (key.lower() if lower else key): ",".join(map(str, item)) if isinstance(item, list) else str(item)
        for key, item in items
    }
