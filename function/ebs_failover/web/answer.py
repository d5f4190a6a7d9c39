"""The answer to an FC HTTP-trigger request: ``statusCode``, ``headers``, ``body`` (FC 3.0's format).

The HTTP trigger is reachable by anyone who learns its URL, so what it answers is not the result: that
goes to the log and the channels. The caller gets a status and a short body:

* 200 ``{"outcome", "id"}`` for a callback the function handled (whatever its outcome: CloudMonitor
  retries anything else, and a retry would change nothing);
* 400 ``{"error": "rejected", "reason"}`` for input that is not a callback (the reason names the field and
  what was expected, masked like every reason);
* 401 ``{"error": "unauthorized"}`` without the right token, 403 ``{"error": "forbidden"}`` from an address
  outside ``CALLBACK_ALLOWED_IPS``: nothing more, no account, no function, no reason.

A transient failure or an undelivered result still raises (FC answers 5xx, and CloudMonitor retries).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["UNANSWERED", "response"]

#: Error codes of requests that did not authenticate: logged, never published, answered with nothing.
UNANSWERED = frozenset({"Unauthorized", "Forbidden"})
_HEADERS = {"Content-Type": "application/json"}


def response(result: dict[str, Any]) -> dict[str, Any]:
    """What the HTTP trigger's caller gets for ``result``."""
    data = result["data"]
    code = (data.get("error") or {}).get("code")
    if code == "Unauthorized":
        return _answer(401, {"error": "unauthorized"})
    if code == "Forbidden":
        return _answer(403, {"error": "forbidden"})
    if data["outcome"] == "rejected":
        return _answer(400, {"error": "rejected", "reason": data["reason"]})
    return _answer(200, {"outcome": data["outcome"], "id": result["id"]})


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": dict(_HEADERS), "body": json.dumps(body, ensure_ascii=False)}
