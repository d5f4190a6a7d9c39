"""What the HTTP channels share: one POST without retries, the rate window, and the entries they return.

Every entry is ``{"channel", "ok": True, …}`` or ``{"channel", "ok": False, "code", "error"}``, its
message on one line, shortened and scrubbed through :data:`ebs_failover.redact.REDACTOR`, which learns
the channel's URL and secret first (a robot's URL holds its token). No message is ever built from a
``requests`` exception's text: it quotes the request's path, which holds the token in a form the
redactor may not know (the path alone, or the query with the signature appended).

The POST goes out once: a notification is cheap to lose compared to an invocation that hangs, and the
handler turns an undelivered result a person needs into an FC async retry. It is made by a
:class:`requests.Session` with ``trust_env=False``: ``HTTP(S)_PROXY`` and ``~/.netrc`` play no part
(a loopback fake must be reached directly, and a robot's token must go nowhere else). Redirects are not
followed: a robot never redirects, and the body must not follow one elsewhere. ``timeout`` bounds the
connect and each read (``requests``' meaning), not the whole exchange: an endpoint that trickles its
answer a byte at a time could take longer; the robots answer a few hundred bytes at once.
"""

from __future__ import annotations

import collections
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ebs_failover import redact
from ebs_failover.errors import DeliveryFailed
from ebs_failover.notify.channels import Channel

__all__ = ["MAX_ERROR_LENGTH", "Answer", "RateWindow", "attempt", "failed", "http_error", "post"]

#: How much of an error message an entry keeps.
MAX_ERROR_LENGTH = 300
_USER_AGENT = "ebs-failover"


@dataclass(frozen=True)
class Answer:
    """What the endpoint answered: the HTTP status and the body."""

    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON; None when it is not JSON."""
        import json

        try:
            return json.loads(self.body)
        except ValueError:  # UnicodeDecodeError included
            return None


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
    """POST ``body`` once; raises :class:`~ebs_failover.errors.DeliveryFailed` (``Timeout`` or
    ``NetworkError``) when no answer came."""
    import requests

    sent = {"User-Agent": _USER_AGENT, **headers}
    with requests.Session() as session:
        session.trust_env = False
        try:
            response = session.post(url, data=body, headers=sent, timeout=timeout, allow_redirects=False)
        except requests.Timeout:  # ConnectTimeout too (it is also a ConnectionError)
            raise DeliveryFailed("Timeout", f"no answer within {timeout:g} s") from None
        except requests.RequestException as error:
            raise DeliveryFailed("NetworkError", _reason(error)) from None
        return Answer(response.status_code, response.content)


def http_error(answer: Answer) -> DeliveryFailed:
    """A non-2xx answer as a failure naming its status (and what the body says, when it is short)."""
    text = answer.body.decode("utf-8", "replace").strip()
    detail = f": {text}" if text and len(text) <= MAX_ERROR_LENGTH else ""
    return DeliveryFailed("HttpError", f"HTTP {answer.status}{detail}", status=answer.status)


def attempt(channel: Channel, send: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``send()``'s entry, or its failure's; never raises (a bug in a channel is an entry too)."""
    redact.REDACTOR.register(channel.secrets)
    try:
        entry = send()
    except DeliveryFailed as failure:
        return failed(channel, failure.code, failure.message, **failure.details)
    except Exception as error:  # the dispatcher must get an entry, whatever broke
        return failed(channel, type(error).__name__, "the delivery broke before an answer was read")
    return {"channel": channel.label, "ok": True, **entry}


def failed(channel: Channel, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """A failure entry, its message on one line, shortened and scrubbed."""
    redact.REDACTOR.register(channel.secrets)
    shown = redact.REDACTOR.scrub_text(redact.shorten(redact.one_line(message), MAX_ERROR_LENGTH))
    return {"channel": channel.label, "ok": False, "code": code, "error": shown, **extra}


def _reason(error: BaseException) -> str:
    """Why no answer came, from the first OS error in the chain (``Connection refused``), never a URL."""
    seen: set[int] = set()
    pending: list[Any] = [error]
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return str(current.strerror)
        pending.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        pending.extend(current.args)
    return f"{type(error).__name__}: the connection failed before an answer"


class RateWindow:
    """At most ``limit`` sends per ``seconds`` per key, a sliding window; thread-safe.

    Keys are the SHA-256 of the robot's URL: the window holds no token.
    """

    def __init__(self, limit: int, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.seconds, self.clock = limit, seconds, clock
        self._sent: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, url: str) -> bool:
        """Count one send to ``url`` and say yes, or say no (the window is full) and count nothing."""
        key = hashlib.sha256(url.encode()).hexdigest()
        now = self.clock()
        with self._lock:
            sent = self._sent.setdefault(key, collections.deque())
            while sent and sent[0] <= now - self.seconds:
                sent.popleft()
            if len(sent) >= self.limit:
                return False
            sent.append(now)
            return True

    def clear(self) -> None:
        """Forget every send (tests)."""
        with self._lock:
            self._sent.clear()


def read_errcode(answer: Answer, service: str, rate_limited: frozenset[int]) -> dict[str, Any]:
    """A DingTalk- or WeCom-style reply, ``{"errcode", "errmsg"}``: ``{}`` for errcode 0, else
    :class:`~ebs_failover.errors.DeliveryFailed` with ``RateLimited`` or ``<service>.<errcode>``."""
    if not answer.ok:
        raise http_error(answer)
    reply = answer.json()
    if not isinstance(reply, dict) or not isinstance(reply.get("errcode"), int):
        raise DeliveryFailed(
            "HttpError", f"HTTP {answer.status} without {service}'s errcode", status=answer.status
        )
    errcode, errmsg = reply["errcode"], str(reply.get("errmsg") or "")
    if errcode == 0:
        return {}
    if errcode in rate_limited:
        raise DeliveryFailed("RateLimited", f"{service} {errcode}: {errmsg}")
    raise DeliveryFailed(f"{service}.{errcode}", errmsg or f"{service} refused the message")


def send_to_robot(
    channel: Channel,
    url: str,
    message: dict[str, Any],
    *,
    window: RateWindow,
    timeout: float,
    service: str,
    rate_limited: frozenset[int],
) -> dict[str, Any]:
    """One message to a DingTalk- or WeCom-style robot at ``url`` (``channel.url``, signed or not), within
    its per-minute ``window``; its errcode reply read by :func:`read_errcode`."""
    if not window.take(str(channel.url)):
        raise DeliveryFailed(
            "RateLimited", f"{window.limit} messages a minute already sent to this robot: not sent"
        )
    body = json.dumps(message, ensure_ascii=False).encode("utf-8")
    answer = post(url, body, {"Content-Type": "application/json; charset=utf-8"}, timeout)
    return read_errcode(answer, service, rate_limited)
