"""A fake OSS for ``alibabacloud-oss-v2``, on 127.0.0.1 (:class:`FakeOssServer`) or mounted in-process
through ``responses`` (:class:`MockOss`), both over one :class:`~.responses.FakeOss`::

    with FakeOssServer(FakeOss(buckets=["ledger"])) as server:
        cfg = oss.config.load_default()
        cfg.region, cfg.endpoint = "cn-shanghai", server.endpoint       # an IP: path style
        cfg.credentials_provider = oss.credentials.StaticCredentialsProvider("testing", "testing")
        oss.Client(cfg).put_object(oss.PutObjectRequest(bucket="ledger", key="k", body=b"x",
                                                        forbid_overwrite=True))
        server.fake.objects("ledger")["k"].body                        # b"x"

    with MockOss(FakeOss(buckets=["ledger"])) as mock:                 # oss-*.aliyuncs.com reach the fake
        cfg.endpoint = "oss-cn-shanghai.aliyuncs.com"                   # virtual-hosted, https

What is checked and answered: :mod:`.responses`. Faults, both ways: ``fake.down()`` closes the connection
unanswered (in process: ``requests.ConnectionError``), ``fake.fail_next(...)`` answers an error,
``fake.latency`` delays each answer (in process, a latency over the client's read timeout is a
``requests.ReadTimeout`` after the request took effect, as a lost answer on a socket is).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ebs_failover.testing._core.http import LocalServer, QuietHandler
from ebs_failover.testing.oss.responses import FakeOss, OssAnswer

if TYPE_CHECKING:
    import requests
    import responses

__all__ = ["OSS_URL", "FakeOss", "FakeOssServer", "MockOss"]

#: The hosts :class:`MockOss` intercepts: ``[<bucket>.]oss-<region>[-internal].aliyuncs.com``.
OSS_URL = re.compile(r"^https?://([a-z0-9][a-z0-9-]*\.)?oss-[a-z0-9-]+\.aliyuncs\.com(:\d+)?/")
_LOOPBACK = re.compile(r"^https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?/")
_METHODS = ("GET", "HEAD", "PUT", "DELETE", "POST")


class FakeOssServer(LocalServer):
    """A :class:`FakeOss` served over HTTP/1.1 on ``host:port``; a context manager, or ``serve_forever()``."""

    thread_name = "fake-oss"

    def __init__(self, fake: FakeOss | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake if fake is not None else FakeOss()
        super().__init__(_handler_for(self), host, port)

    @property
    def endpoint(self) -> str:
        """``http://host:port``: the SDK's ``Config.endpoint`` (an IP endpoint makes it path style)."""
        return self.url


def _handler_for(server: FakeOssServer) -> type[QuietHandler]:
    class Handler(QuietHandler):
        server_version = "AliyunOSS"
        protocol_version = "HTTP/1.1"  # the SDK's session keeps connections alive
        timeout = 30  # an idle kept-alive connection ends here

        def do_GET(self) -> None:
            self.dispatch(self._read_body())

        def do_HEAD(self) -> None:
            self.dispatch(self._read_body())

        def do_PUT(self) -> None:
            self.dispatch(self._read_body())

        def do_DELETE(self) -> None:
            self.dispatch(self._read_body())

        def do_POST(self) -> None:
            self.dispatch(self._read_body())

        def dispatch(self, body: bytes) -> None:
            fake = server.fake
            if fake.latency > 0:
                server.stopping.wait(fake.latency)
            host = self.headers.get("Host") or server.host_port
            answer = fake.handle(self.command, f"http://{host}{self.path}", dict(self.headers), body)
            if answer is None:
                self.drop()
                return
            self._send(answer)

        def _send(self, answer: OssAnswer) -> None:
            # Not QuietHandler.send: a HEAD's Content-Length is the object's size, and the answer has its
            # own Date and Server.
            self.send_response_only(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                return self._body()
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()

    return Handler


class MockOss:
    """A :class:`FakeOss` mounted on ``requests`` through ``responses``: every request to
    ``[<bucket>.]oss-*.aliyuncs.com`` (``url``) reaches it; loopback passes through, any other host is
    refused by ``responses``.

    ``requests_mock`` joins a ``responses.RequestsMock`` the test already runs (for the fake EBS, say):
    starting and stopping it then stays the test's business. Leaves the environment alone: give the SDK
    ``testing``/``testing`` (or a registered credential) explicitly.
    """

    def __init__(
        self,
        fake: FakeOss | None = None,
        *,
        requests_mock: responses.RequestsMock | None = None,
        url: re.Pattern[str] = OSS_URL,
    ) -> None:
        self.fake = fake if fake is not None else FakeOss()
        self._external = requests_mock
        self._url = url
        self._mock: responses.RequestsMock | None = None
        self._histories: list[Any] = []
        self._depth = 0

    def start(self) -> MockOss:
        self._depth += 1
        if self._depth > 1:
            return self
        import responses  # only tests pay for it

        mock = self._external or responses.RequestsMock(assert_all_requests_are_fired=False)
        mounted = [mock.add_callback(method, self._url, callback=self._callback) for method in _METHODS]
        if self._external is None:
            mock.add_passthru(_LOOPBACK)
            mock.start()
            # responses keeps every request and answer; the fake's own log is enough (see MockEbs).
            self._histories = [mock.calls, *(response.calls for response in mounted)]
        self._mock = mock
        return self

    def stop(self) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        if self._mock is not None and self._external is None:
            self._mock.stop()
            self._mock.reset()
        self._mock = None
        self._histories = []

    def __enter__(self) -> MockOss:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _callback(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], Any]:
        import requests

        for history in self._histories:
            history.reset()
        fake = self.fake
        read_timeout = _read_timeout(getattr(request, "req_kwargs", {}).get("timeout"))
        timed_out = fake.latency > 0 and read_timeout is not None and fake.latency > read_timeout
        if fake.latency > 0:
            time.sleep(min(fake.latency, read_timeout) if read_timeout is not None else fake.latency)
        headers = {
            name: value if isinstance(value, str) else value.decode("latin-1")
            for name, value in request.headers.items()
        }
        answer = fake.handle(request.method or "GET", request.url or "", headers, _body_bytes(request.body))
        if answer is None:
            return (
                0,
                {},
                requests.exceptions.ConnectionError(f"fake OSS is down: {request.method} {request.url}"),
            )
        if timed_out:  # the request took effect, its answer is lost
            return 0, {}, requests.exceptions.ReadTimeout(f"fake OSS answered after {fake.latency} s")
        # A HEAD's Content-Length (the object's size) stays: urllib3 reads no body for a HEAD.
        return answer.status, dict(answer.headers), answer.body


def _read_timeout(timeout: Any) -> float | None:
    """The read timeout of ``requests``' ``timeout`` argument (a number, or ``(connect, read)``)."""
    if isinstance(timeout, tuple):
        timeout = timeout[1]
    return float(timeout) if isinstance(timeout, (int, float)) else None


def _body_bytes(body: Any) -> bytes:
    """A prepared request's body as bytes; iterating it also feeds the SDK's CRC-64 of what it sent."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "read"):
        data = body.read()
        return data.encode() if isinstance(data, str) else bytes(data)
    if isinstance(body, Iterable):
        return b"".join(part.encode() if isinstance(part, str) else bytes(part) for part in body)
    raise TypeError(f"cannot read a request body of type {type(body).__name__}")
