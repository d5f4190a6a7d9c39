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
followed: a robot never redirects, and the body must not follow one elsewhere.

**One deadline for the whole exchange.** ``requests``' own timeout bounds the connect and each read, not
the exchange: an endpoint that trickles its answer a byte at a time would keep the delivery going for as
long as it likes. :func:`post` takes a ``deadline`` (``time.monotonic()``) as well: a watchdog shuts the
connection's socket down when it comes, which ends whatever read or write is under way (a failure coded
``Timeout``), and no request starts after it. The sockets are found through the connection class the
session's pools use (:func:`_watched_adapter`), which tells the watch of each socket it opens.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ebs_failover import redact
from ebs_failover.errors import DeliveryFailed
from ebs_failover.notify.channels import Channel

__all__ = ["MAX_ERROR_LENGTH", "Answer", "RateWindow", "attempt", "failed", "http_error", "json_body", "post"]

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


def post(
    url: str, body: bytes, headers: Mapping[str, str], timeout: float, *, deadline: float | None = None
) -> Answer:
    """POST ``body`` once, the whole exchange over by ``deadline`` (``time.monotonic()``; default: ``timeout``
    seconds from now); raises :class:`~ebs_failover.errors.DeliveryFailed` (``Timeout`` or
    ``NetworkError``) when no whole answer came."""
    import requests

    end = time.monotonic() + timeout if deadline is None else deadline
    left = end - time.monotonic()
    if left <= 0:
        raise DeliveryFailed("Timeout", "no time left before the delivery's deadline: not sent")
    sent = {"User-Agent": _USER_AGENT, **headers}
    watch = _Watch()
    timer = threading.Timer(left, watch.expire)
    timer.daemon = True  # a timer must never keep the process alive
    with requests.Session() as session, _watching(watch):
        session.trust_env = False
        adapter = _watched_adapter()()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        timer.start()
        try:
            response = session.post(
                url, data=body, headers=sent, timeout=min(timeout, left), allow_redirects=False
            )
            return Answer(response.status_code, response.content)
        except requests.RequestException as error:  # Timeout and ConnectTimeout included
            if watch.expired or isinstance(error, requests.Timeout):
                raise DeliveryFailed(
                    "Timeout", f"no whole answer within {min(timeout, left):.3g} s"
                ) from None
            raise DeliveryFailed("NetworkError", _reason(error)) from None
        finally:
            timer.cancel()


class _Watch:
    """The sockets of one exchange, shut down when its deadline comes (:meth:`expire`); thread-safe."""

    def __init__(self) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def hold(self, sock: socket.socket | None) -> None:
        """Watch ``sock`` (shut it down at once when the deadline has passed)."""
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def expire(self) -> None:
        """The deadline: every socket shut down, both ways (a blocked read returns, a write fails)."""
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed already, or detached by the TLS wrapper (its own is held)
        sock.shutdown(socket.SHUT_RDWR)


_WATCHES = threading.local()


@contextlib.contextmanager
def _watching(watch: _Watch) -> Any:
    """Make ``watch`` the one the connections this thread opens tell of their sockets."""
    _WATCHES.current = watch
    try:
        yield watch
    finally:
        _WATCHES.current = None


def _held(sock: socket.socket | None) -> None:
    watch = getattr(_WATCHES, "current", None)
    if isinstance(watch, _Watch):
        watch.hold(sock)


@functools.cache
def _watched_adapter() -> type[Any]:
    """A ``requests`` adapter whose pools' connections tell this thread's watch of every socket they open
    (the raw one when it connects, and the TLS one once wrapped); built once, on the first POST."""
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Plain(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            _held(sock)
            return sock

    class Tls(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            _held(sock)  # the handshake's reads are bounded too
            return sock

        def connect(self) -> None:
            super().connect()
            _held(self.sock)

    class PlainPool(HTTPConnectionPool):
        ConnectionCls = Plain

    class TlsPool(HTTPSConnectionPool):
        ConnectionCls = Tls

    class Watched(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": PlainPool, "https": TlsPool}

    return Watched


def json_body(message: Mapping[str, Any]) -> bytes:
    """A robot's JSON body, as it is sent (UTF-8, non-ASCII as it is): what its size limit counts."""
    return json.dumps(message, ensure_ascii=False).encode("utf-8")


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
    deadline: float | None = None,
) -> dict[str, Any]:
    """One message to a DingTalk- or WeCom-style robot at ``url`` (``channel.url``, signed or not), within
    its per-minute ``window`` and by ``deadline``; its errcode reply read by :func:`read_errcode`."""
    if not window.take(str(channel.url)):
        raise DeliveryFailed(
            "RateLimited", f"{window.limit} messages a minute already sent to this robot: not sent"
        )
    headers = {"Content-Type": "application/json; charset=utf-8"}
    answer = post(url, json_body(message), headers, timeout, deadline=deadline)
    return read_errcode(answer, service, rate_limited)
