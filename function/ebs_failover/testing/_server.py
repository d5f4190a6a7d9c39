"""Mount the fake EBS on a real socket: a small HTTP server on 127.0.0.1.

Point the SDK at it with ``Config(endpoint="127.0.0.1:PORT", protocol="http")``.
Besides the EBS API on ``/``, it answers control calls under ``/_fake/``
(moto's ``/moto-api/``):

=============================  ===============================================
``POST /_fake/reset``          forget everything (only ``testing`` stays)
``POST /_fake/seed``           body: a seed document (see ``FakeEbs.load_seed``)
``POST /_fake/faults``         body: ``{"kind": "error"|"stall"|"drop", "action": …, …}``
``POST /_fake/transitions``    body: ``{"status": "failovering", "progression": …, "times": N}``
``POST /_fake/advance``        body: ``{"resource_id": …}`` (or ``{}`` for all)
``GET  /_fake/calls``          the recorded calls
``GET  /_fake/pairs``          every pair, as seen from its primary region
=============================  ===============================================
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._service import FakeEbs
from ._wire import WireRequest

__all__ = ["FakeEbsServer"]

_CONTROL = "/_fake/"


class _Listener(ThreadingHTTPServer):
    # socketserver's backlog of 5 makes a burst of concurrent clients wait out SYN retries.
    request_queue_size = 128


class FakeEbsServer:
    """A :class:`FakeEbs` served over HTTP; a context manager, or ``serve_forever()``."""

    def __init__(self, fake: FakeEbs | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake if fake is not None else FakeEbs()
        self._stopping = threading.Event()
        self._httpd = _Listener((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def endpoint(self) -> str:
        """``host:port``, the SDK's ``Config.endpoint``."""
        host = self._httpd.server_address[0]
        return f"{host.decode() if isinstance(host, bytes) else host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def start(self) -> FakeEbsServer:
        # A short poll interval: shutdown() waits for the loop to notice.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-ebs", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeEbsServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- control API ---------------------------------------------------------

    def control(self, verb: str, payload: dict[str, Any]) -> Any:
        fake = self.fake
        if verb == "reset":
            fake.reset()
            return {"reset": True}
        if verb == "seed":
            return {"ReplicaPairIds": fake.load_seed(payload)}
        if verb == "faults":
            kind = payload.pop("kind", "error")
            action = payload.pop("action")
            if kind == "error":
                fault = fake.faults.error(action, payload.pop("status"), payload.pop("code"), **payload)
            elif kind == "stall":
                fault = fake.faults.stall(action, **payload)
            elif kind == "drop":
                fault = fake.faults.drop(action, **payload)
            else:
                raise ValueError(f"kind must be error, stall or drop, not {kind!r}")
            return asdict(fault)
        if verb == "transitions":
            fake.transitions.set(payload.pop("status"), **payload)
            return {"ok": True}
        if verb == "advance":
            done = sum(fake.backend(a).advance(payload.get("resource_id")) for a in fake.accounts())
            return {"advanced": done}
        raise KeyError(verb)

    def inspect(self, verb: str) -> Any:
        fake = self.fake
        if verb == "calls":
            return [{k: v for k, v in asdict(c).items() if k != "headers"} for c in fake.calls]
        if verb == "pairs":
            return [
                pair.to_api(pair.source_region)
                for account in fake.accounts()
                for pair in fake.backend(account).pairs.values()
            ]
        raise KeyError(verb)


def _handler_for(server: FakeEbsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "fake-ebs"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the call log
            pass

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path.startswith(_CONTROL):
                self._control(self.path[len(_CONTROL) :].split("?")[0], body)
                return
            host = self.headers.get("Host") or server.endpoint
            request = WireRequest.build(self.command, f"http://{host}{self.path}", dict(self.headers), body)
            answer = server.fake.handle(request, transport="server")
            if answer.fault is not None:
                if answer.fault.kind == "stall":
                    server._stopping.wait(answer.fault.seconds)
                self._drop()
                return
            assert answer.response is not None
            self._send(answer.response.status, answer.response.headers, answer.response.body)

        def _control(self, verb: str, body: bytes) -> None:
            try:
                if self.command == "GET":
                    result = server.inspect(verb)
                else:
                    result = server.control(verb, json.loads(body or b"{}"))
            except KeyError as missing:
                self._send_json(
                    404 if self.command == "GET" else 400, {"error": f"unknown or missing {missing}"}
                )
            except (ValueError, TypeError) as error:
                self._send_json(400, {"error": str(error)})
            else:
                self._send_json(200, result)

        def _send_json(self, status: int, payload: Any) -> None:
            self._send(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    return Handler
