"""Fake chat robots (DingTalk, Lark, WeCom) and a webhook receiver on 127.0.0.1, for the channels' tests.

Each robot sits at its real path and checks what the real one checks, answering its real error bodies
(HTTP 200, as the robots do)::

    with FakeRobotServer() as robots:
        url = robots.add_dingtalk("T", secret="SECabc")       # NOTIFY_ONCALL_URL
        ...                                                   # deliver to it
        robots.received("dingtalk", "T")                      # [{"msgtype": "markdown", …}]

================  ====================================  ==========================================
robot             path                                  checks, in order (after the faults)
================  ====================================  ==========================================
DingTalk          ``/robot/send?access_token=T``         unknown token: 300001 "token is not exist";
                  ``&timestamp=<ms>&sign=<sign>``        with a secret: timestamp missing or more
                                                        than 1 h away: 310000 "invalid timestamp",
                                                        sign wrong: 310000 "sign not match";
                                                        body not JSON: 40035; no/unknown msgtype:
                                                        40035; over 20 000 bytes: 460101; over 20 a
                                                        minute: 130101 "send too fast"
Lark              ``/open-apis/bot/v2/hook/<token>``     unknown token: 19001; body not JSON: 9499
                                                        "Bad Request"; with a secret: timestamp (s)
                                                        more than 1 h away or sign wrong: 19021;
                                                        no msg_type: 19002; over 20 KB: 9499; over
                                                        the limit: 11232 "frequency limited"
WeCom             ``/cgi-bin/webhook/send?key=K``        unknown key: 93000 "invalid webhook url";
                                                        body not JSON: 40000; unknown msgtype:
                                                        40008; empty content: 44004; content over
                                                        4096 bytes: 40058; over 20 a minute: 45009
webhook           ``/hooks/<name>``                      unknown name: 404; with a secret: the
                                                        ``X-Ebs-Failover-Timestamp`` more than 5 min
                                                        away or the signature wrong: 401
================  ====================================  ==========================================

Faults, before any check: :meth:`~FakeRobotServer.down` (the connection is closed unanswered: a reset),
:meth:`~FakeRobotServer.fail_next` (an HTTP error status), :meth:`~FakeRobotServer.stall_next` (no answer
for a while: a client's timeout). Connection refused is a stopped server (or a port nothing listens on).
After the checks, :meth:`~FakeRobotServer.trickle_next`: the request is handled as usual, and its whole
answer (status line, headers, body) is sent one byte at a time, a pause before each: an endpoint that
never lets a per-read timeout fire, however long it takes.

The success bodies and 19021, 93000, 45009, 300001 are as public sources quote them; the other codes,
their texts, the order of the checks and the size limits are assumptions (see each channel's module).
Lark's limit defaults to 100 a minute (from memory, unverified), the others' to 20 (``rate_limits``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ebs_failover.testing._core.http import LocalServer, QuietHandler
from ebs_failover.testing.robots.models import (
    DEFAULT_LIMITS,
    HOOK_PATH,
    HOUR,
    KINDS,
    LARK_PATH,
    WEBHOOK_TOLERANCE,
    Refused,
    RobotCall,
    RobotFault,
)
from ebs_failover.testing.robots.responses import (
    RATE_LIMITED,
    SUCCESS,
    ding_refusal,
    lark_refusal,
    read_json,
    wecom_refusal,
)

__all__ = ["KINDS", "FakeRobotServer", "RobotCall"]


class FakeRobotServer(LocalServer):
    """DingTalk, Lark and WeCom robots and webhook receivers on 127.0.0.1; a context manager.

    Register each robot (``add_*``, which return the URL to configure), then read :meth:`received`
    (the decoded bodies it accepted, in order) and :attr:`calls` (every request, refused ones included).
    """

    thread_name = "fake-robots"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        rate_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.clock = clock
        self.rate_limits = {**DEFAULT_LIMITS, **(rate_limits or {})}
        self.calls: list[RobotCall] = []
        #: (kind, name) -> the robot's secret (None: no signing).
        self._robots: dict[tuple[str, str], str | None] = {}
        self._received: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._sent_at: dict[tuple[str, str], list[float]] = {}
        self._faults: list[RobotFault] = []
        self._down: set[str | None] = set()
        self._lock = threading.Lock()
        super().__init__(_handler_for(self), host, port)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host_port}"

    # -- robots ----------------------------------------------------------------

    def add_dingtalk(self, token: str, secret: str | None = None) -> str:
        """A DingTalk robot (signed when ``secret`` is given); its webhook URL."""
        self._add("dingtalk", token, secret)
        return self.dingtalk_url(token)

    def add_lark(self, token: str, secret: str | None = None) -> str:
        """A Lark bot (signed when ``secret`` is given); its webhook URL."""
        self._add("lark", token, secret)
        return self.lark_url(token)

    def add_wecom(self, key: str) -> str:
        """A WeCom group robot (WeCom robots have no signing); its webhook URL."""
        self._add("wecom", key, None)
        return self.wecom_url(key)

    def add_webhook(self, name: str, secret: str | None = None) -> str:
        """A webhook receiver (checking the signature when ``secret`` is given); its URL."""
        self._add("webhook", name, secret)
        return self.webhook_url(name)

    def dingtalk_url(self, token: str) -> str:
        return f"{self.endpoint}/robot/send?access_token={token}"

    def lark_url(self, token: str) -> str:
        return f"{self.endpoint}/open-apis/bot/v2/hook/{token}"

    def wecom_url(self, key: str) -> str:
        return f"{self.endpoint}/cgi-bin/webhook/send?key={key}"

    def webhook_url(self, name: str) -> str:
        return f"{self.endpoint}/hooks/{name}"

    def received(self, kind: str, name: str) -> list[dict[str, Any]]:
        """The JSON bodies robot ``name`` of ``kind`` accepted, in order (a copy)."""
        with self._lock:
            return list(self._received.get((kind, name), []))

    def _add(self, kind: str, name: str, secret: str | None) -> None:
        with self._lock:
            self._robots[(kind, name)] = secret
            self._received.setdefault((kind, name), [])

    # -- faults ----------------------------------------------------------------

    def down(self, kind: str | None = None) -> None:
        """From now on close the connection of every request (to ``kind``'s robots only, if given)."""
        with self._lock:
            self._down.add(kind)

    def up(self, kind: str | None = None) -> None:
        """Answer again (``None``: every robot; a kind: that kind, unless everything is down)."""
        with self._lock:
            if kind is None:
                self._down.clear()
            else:
                self._down.discard(kind)

    def is_down(self, kind: str | None) -> bool:
        with self._lock:
            return None in self._down or kind in self._down

    def fail_next(self, n: int = 1, status: int = 500, body: bytes = b"", *, kind: str | None = None) -> None:
        """The next ``n`` requests (to ``kind``'s robots, if given) answer ``status`` with ``body``."""
        self._fault(RobotFault(n, kind, status=status, body=body or f"HTTP {status}".encode()))

    def stall_next(self, seconds: float, n: int = 1, *, kind: str | None = None) -> None:
        """The next ``n`` requests wait ``seconds`` (or until the server stops) before they are handled.

        A client with a shorter timeout has gone: what the real robots then do is unknown; the fake
        handles the request as usual (the message may reach the room while the sender saw a timeout).
        """
        self._fault(RobotFault(n, kind, stall=seconds))

    def trickle_next(self, seconds_per_byte: float, n: int = 1, *, kind: str | None = None) -> None:
        """The next ``n`` requests (to ``kind``'s robots, if given) are handled as usual, and answered one
        byte every ``seconds_per_byte`` (until the client goes or the server stops)."""
        if seconds_per_byte <= 0:
            raise ValueError("seconds_per_byte must be > 0")
        self._fault(RobotFault(n, kind, trickle=seconds_per_byte))

    def _fault(self, fault: RobotFault) -> None:
        if fault.times < 1:
            raise ValueError("n must be >= 1")
        with self._lock:
            self._faults.append(fault)

    def take_fault(self, kind: str | None) -> RobotFault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.kind in (None, kind):
                    fault.times -= 1
                    return fault
            return None

    # -- the API -----------------------------------------------------------------

    def route(self, path: str) -> tuple[str | None, str | None]:
        """The robot a request path names: ``(kind, name)``, Nones when it is no robot's path."""
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        if parts.path == "/robot/send":
            return "dingtalk", (query.get("access_token") or [""])[0]
        if parts.path == "/cgi-bin/webhook/send":
            return "wecom", (query.get("key") or [""])[0]
        for kind, pattern in (("lark", LARK_PATH), ("webhook", HOOK_PATH)):
            matched = pattern.match(parts.path)
            if matched:
                return kind, unquote(matched.group(1))
        return None, None

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        """Answer one request (``headers`` with lower-case names): ``(status, JSON body)``; records it."""
        kind, name = self.route(path)
        code: int | None
        try:
            if kind is None or name is None or method != "POST":
                raise Refused(404, {"error": "not found"}, None)
            check = {"dingtalk": self._dingtalk, "lark": self._lark, "wecom": self._wecom}.get(kind)
            decoded = check(name, path, body) if check else self._webhook(name, headers, body)
            self._count(kind, name)
            with self._lock:
                self._received[(kind, name)].append(decoded)
            status, answer, code = 200, SUCCESS[kind], (None if kind == "webhook" else 0)
        except Refused as refused:
            status, answer, code = refused.status, refused.body, refused.code
        self.record(RobotCall(kind, name, status, code))
        return status, json.dumps(answer, ensure_ascii=False).encode()

    def record(self, call: RobotCall) -> None:
        with self._lock:
            self.calls.append(call)

    def _secret_of(self, kind: str, name: str, unknown: Refused) -> str | None:
        with self._lock:
            if (kind, name) not in self._robots:
                raise unknown
            return self._robots[(kind, name)]

    def _count(self, kind: str, name: str) -> None:
        """Refuse a message over the robot's limit a minute (only accepted messages count)."""
        limit = self.rate_limits.get(kind)
        if limit is None:
            return
        now = self.clock()
        with self._lock:
            sent = [at for at in self._sent_at.get((kind, name), []) if at > now - 60]
            if len(sent) >= limit:
                self._sent_at[(kind, name)] = sent
                raise RATE_LIMITED[kind]()
            self._sent_at[(kind, name)] = [*sent, now]

    def _dingtalk(self, token: str, path: str, body: bytes) -> dict[str, Any]:
        secret = self._secret_of("dingtalk", token, ding_refusal(300001, "token is not exist"))
        if secret is not None:
            query = parse_qs(urlsplit(path).query)
            timestamp, sign = (query.get("timestamp") or [""])[0], (query.get("sign") or [""])[0]
            if not timestamp.isdigit() or abs(self.clock() * 1000 - int(timestamp)) > HOUR * 1000:
                raise ding_refusal(310000, "invalid timestamp")
            digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
            # parse_qs already URL-decoded the sign: compare with the plain base64.
            if not hmac.compare_digest(base64.b64encode(digest).decode().encode(), sign.encode()):
                raise ding_refusal(310000, "sign not match")
        message = read_json(body, ding_refusal(40035, "缺少参数 json"))
        msgtype = message.get("msgtype")
        if msgtype not in {"text", "markdown", "link", "actionCard", "feedCard"} or not isinstance(
            message.get(msgtype), dict
        ):
            raise ding_refusal(40035, "缺少参数 msgtype")
        if len(body) > 20000:
            raise ding_refusal(460101, "message too long, exceed 20000 bytes")
        return message

    def _lark(self, token: str, path: str, body: bytes) -> dict[str, Any]:
        del path
        secret = self._secret_of(
            "lark", token, lark_refusal(19001, "param invalid: incoming webhook access token invalid")
        )
        message = read_json(body, lark_refusal(9499, "Bad Request"))
        if secret is not None:
            timestamp = str(message.get("timestamp", ""))
            key = f"{timestamp}\n{secret}".encode()
            expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
            fresh = timestamp.isdigit() and abs(self.clock() - int(timestamp)) <= HOUR
            if not fresh or not hmac.compare_digest(expected.encode(), str(message.get("sign", "")).encode()):
                raise lark_refusal(
                    19021, "sign match fail or timestamp is not within one hour from current time"
                )
        if not message.get("msg_type"):
            raise lark_refusal(19002, "params error, msg_type need")
        if len(body) > 20 * 1024:
            raise lark_refusal(9499, "Bad Request")
        return message

    def _wecom(self, key: str, path: str, body: bytes) -> dict[str, Any]:
        del path
        self._secret_of("wecom", key, wecom_refusal(93000, "invalid webhook url"))
        message = read_json(body, wecom_refusal(40000, "invalid json"))
        msgtype = message.get("msgtype")
        if msgtype not in {"text", "markdown", "image", "news", "file", "template_card"}:
            raise wecom_refusal(40008, "invalid message type")
        content = (
            (message.get(msgtype) or {}).get("content") if isinstance(message.get(msgtype), dict) else None
        )
        if msgtype in {"text", "markdown"} and not content:
            raise wecom_refusal(44004, "empty content")
        if msgtype == "markdown" and len(str(content).encode()) > 4096:
            raise wecom_refusal(40058, "markdown.content exceed max length 4096")
        return message

    def _webhook(self, name: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        secret = self._secret_of("webhook", name, Refused(404, {"error": "no such hook"}, None))
        if secret is not None:
            timestamp = headers.get("x-ebs-failover-timestamp", "")
            given = headers.get("x-ebs-failover-signature", "")
            digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
            fresh = timestamp.isdigit() and abs(self.clock() - int(timestamp)) <= WEBHOOK_TOLERANCE
            if not fresh or not hmac.compare_digest(f"sha256={digest}".encode(), given.encode()):
                raise Refused(401, {"error": "invalid signature"}, None)
        return read_json(body, Refused(400, {"error": "the body is not JSON"}, None))


def _handler_for(server: FakeRobotServer) -> type[QuietHandler]:
    class Handler(QuietHandler):
        server_version = "fake-robots"
        protocol_version = "HTTP/1.1"
        timeout = 30

        def dispatch(self, body: bytes) -> None:
            kind, name = server.route(self.path)
            fault = server.take_fault(kind)
            if fault is not None and fault.stall:
                server.stopping.wait(fault.stall)
                fault = None
            trickle = fault.trickle if fault is not None else 0.0
            if trickle:
                fault = None
            if server.is_down(kind):
                server.record(RobotCall(kind, name, None, None))
                self.drop()
                return
            if fault is not None:
                server.record(RobotCall(kind, name, fault.status, None))
                self.send(fault.status, {"Content-Type": "text/plain"}, fault.body)
                return
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, answer = server.handle(self.command, self.path, headers, body)
            if trickle:
                self.trickle(status, answer, trickle)
                return
            self.send(status, {"Content-Type": "application/json;charset=utf-8"}, answer)

        def trickle(self, status: int, answer: bytes, pause: float) -> None:
            """The whole answer, one byte after each ``pause``, until the client goes or the server stops."""
            self.close_connection = True
            head = (
                f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
                f"Content-Type: application/json;charset=utf-8\r\nContent-Length: {len(answer)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            for byte in head + answer:
                if server.stopping.wait(pause):
                    return
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:  # the client gave up: what a trickle is for
                    return

    return Handler
