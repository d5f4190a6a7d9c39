"""The InvokeFunction protocol as the fake speaks it: routing FC 3.0 and 2.0 paths, the result's
encoding, the error body."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ebs_failover.testing.fc.models import (
    FC2_PATH,
    FC3_PATH,
    FcError,
    Route,
)

__all__ = ["claimed_key", "encode_result", "error_json", "new_request_id", "route_of"]


def route_of(method: str, path: str) -> Route | None:
    """Which invoke a request is, from its method and path (None: neither API's invoke)."""
    if method != "POST":
        return None
    parts = urlsplit(path)
    resource = unquote(parts.path)
    if match := FC3_PATH.match(resource):
        qualifier = parse_qs(parts.query).get("qualifier", [None])[0]
        return Route("3.0", match["function"], None, qualifier)
    if match := FC2_PATH.match(resource):
        return Route("2.0", match["function"], match["service"], match["qualifier"])
    return None


def encode_result(result: Any) -> bytes:
    if isinstance(result, bytes):
        return result
    if isinstance(result, str):
        return result.encode("utf-8")
    return json.dumps(result, ensure_ascii=False).encode("utf-8")


def claimed_key(authorization: str) -> str | None:
    """The AccessKeyId an ``Authorization`` header claims, ACS3 or FC 2.0's (verified or not)."""
    scheme, _, rest = authorization.partition(" ")
    if scheme == "FC":
        return rest.partition(":")[0] or None
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        if name == "Credential":
            return value or None
    return None


def error_json(api: str | None, error: FcError, request_id: str) -> bytes:
    if api == "2.0":
        return json.dumps({"ErrorCode": error.code, "ErrorMessage": error.message}).encode()
    return json.dumps({"Code": error.code, "Message": error.message, "RequestId": request_id}).encode()


def new_request_id() -> str:
    """A request id shaped like FC 3.0's (``1-64e70cf1-5cbef92ea8fc8c42899cf5d1``)."""
    return f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
