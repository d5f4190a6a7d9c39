"""What the local fakes share: a threaded HTTP server on 127.0.0.1 and a quiet request handler."""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

__all__ = ["FailsOnDemand", "GoesDown", "PROXY_VARIABLES", "InjectedFaults", "LocalServer", "QuietHandler"]

#: darabonba hands these to requests explicitly (NO_PROXY does not help): a client of a local fake
#: must run without them.
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")

S = TypeVar("S", bound="LocalServer")


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's backlog of 5 makes a burst of concurrent clients wait out SYN retries.
    request_queue_size = 128


class ServiceError(Exception):
    """An error answer of a faked service: HTTP ``status``, ``code``, ``message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass
class InjectedFault:
    """The next ``times`` requests answer ``status`` ``code`` ``message``."""

    times: int
    status: int
    code: str
    message: str


class InjectedFaults:
    """The errors a fake server answers its next requests with (its ``fail_next``), in the order added,
    each for its number of requests, before any other check; thread-safe."""

    def __init__(self) -> None:
        self._faults: list[InjectedFault] = []
        self._lock = threading.Lock()

    def add(self, n: int, status: int, code: str, message: str) -> None:
        if n < 1:
            raise ValueError("n must be >= 1")
        with self._lock:
            self._faults.append(InjectedFault(n, status, code, message))

    def take(self) -> InjectedFault | None:
        """The fault the next request answers with (one of its times used up), or None."""
        with self._lock:
            for fault in self._faults:
                if fault.times > 0:
                    fault.times -= 1
                    return fault
            return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


class FailsOnDemand:
    """``fail_next``, the same for every fake on a socket: the next requests answer an error, before any
    other check. A service says where its :class:`InjectedFaults` are (:meth:`_injected_errors`) and names
    its own "try again later" answer in the class constants."""

    FAIL_STATUS = 503
    FAIL_CODE = "ServiceUnavailable"
    FAIL_MESSAGE = "The request has failed due to a temporary failure of the server."

    def _injected_errors(self) -> InjectedFaults:
        raise NotImplementedError

    def fail_next(
        self, n: int = 1, status: int | None = None, code: str | None = None, message: str | None = None
    ) -> None:
        """The next ``n`` requests answer this error (by default the service's own "try again later")."""
        self._injected_errors().add(
            n, status or self.FAIL_STATUS, code or self.FAIL_CODE, message or self.FAIL_MESSAGE
        )


class GoesDown:
    """``down`` and ``up``: from ``down()`` on, every request has its connection closed with no answer."""

    _down = False

    def down(self) -> None:
        """From now on every request has its connection closed with no answer."""
        self._down = True

    def up(self) -> None:
        """Answer requests again."""
        self._down = False

    @property
    def is_down(self) -> bool:
        return self._down


class LocalServer:
    """Serves ``handler`` on ``host:port`` (port 0: any free one) in a thread; a context manager."""

    thread_name = "fake-server"

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str, port: int) -> None:
        #: Set when the server stops: a handler holding an answer back (a stall) waits on it.
        self.stopping = threading.Event()
        self._httpd = _Listener((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def host_port(self) -> str:
        host = self._httpd.server_address[0]
        return f"{host.decode() if isinstance(host, bytes) else host}:{self.port}"

    @property
    def url(self) -> str:
        """``http://host:port``: how a client names the fake."""
        return f"http://{self.host_port}"

    def start(self: S) -> S:
        # A short poll interval: shutdown() waits for the loop to notice.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (the CLI's way)."""
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class QuietHandler(BaseHTTPRequestHandler):
    """Reads a GET or POST body, hands it to :meth:`dispatch`; logs nothing (tests read the call logs).

    A fake whose service takes other methods adds them (MNS: PUT, DELETE).
    """

    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.dispatch(self._body())

    def do_POST(self) -> None:
        self.dispatch(self._body())

    def dispatch(self, body: bytes) -> None:
        raise NotImplementedError

    def send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def drop(self) -> None:
        """Close the connection with no answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""
