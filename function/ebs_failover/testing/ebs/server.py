"""Mount the fake EBS on a real socket: a small HTTP server on 127.0.0.1.

Point the SDK at it with ``Config(endpoint="127.0.0.1:PORT", protocol="http")``.
Besides the EBS API on ``/``, it answers control calls under ``/_fake/``
(moto's ``/moto-api/``):

=============================  ===============================================
``POST /_fake/reset``          forget everything (only ``testing`` stays)
``POST /_fake/seed``           body: a seed document (see ``FakeEbs.load_seed``)
``POST /_fake/faults``         body: ``{"kind": "error"|"stall"|"drop"|"trickle", "action": …, …}``
``POST /_fake/transitions``    body: ``{"status": "failovering", "progression": …, "times": N}``
``POST /_fake/advance``        body: ``{"resource_id": …}`` (or ``{}`` for all)
``POST /_fake/quota``          body: ``{"calls_per_second": N|null, "action": …, "retry_after": bool}``
``POST /_fake/drills``         body: ``{"fail": "execute_failed"|"clear_failed", "message": …, "times": N,
                               "disk_status": …, "target": …}`` and/or ``{"keep_cleared": bool}``
``GET  /_fake/calls``          the recorded calls
``GET  /_fake/pairs``          every pair, as seen from its primary region
``GET  /_fake/groups``         every group, as seen from its primary region
``GET  /_fake/drills``         every drill (cleared ones too): its Describe… entry, target, region, cleared
``GET  /_fake/stats``          ``{"in_flight", "max_in_flight", "throttled"}``: concurrency and quota
=============================  ===============================================
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from ebs_failover.testing._core.http import LocalServer, QuietHandler
from ebs_failover.testing.ebs.responses import WireRequest
from ebs_failover.testing.ebs.service import FakeEbs

__all__ = ["FakeEbsServer"]

_CONTROL = "/_fake/"


class FakeEbsServer(LocalServer):
    """A :class:`FakeEbs` served over HTTP; a context manager, or ``serve_forever()``."""

    thread_name = "fake-ebs"

    def __init__(self, fake: FakeEbs | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake if fake is not None else FakeEbs()
        super().__init__(_handler_for(self), host, port)

    @property
    def endpoint(self) -> str:
        """``host:port``, the SDK's ``Config.endpoint``."""
        return self.host_port

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
            elif kind == "trickle":
                fault = fake.faults.trickle(action, **payload)
            else:
                raise ValueError(f"kind must be error, stall, drop or trickle, not {kind!r}")
            return asdict(fault)
        if verb == "transitions":
            fake.transitions.set(payload.pop("status"), **payload)
            return {"ok": True}
        if verb == "quota":
            fake.set_quota(payload.pop("calls_per_second"), payload.pop("action", None))
            if "retry_after" in payload:
                fake.quotas.send_retry_after = bool(payload.pop("retry_after"))
            return {"ok": True}
        if verb == "drills":
            if "keep_cleared" in payload:
                fake.drills.keep_cleared = bool(payload.pop("keep_cleared"))
            if "fail" in payload:
                fake.drills.fail_next(payload.pop("fail"), **payload)
            return {"ok": True, "pending_failures": fake.drills.pending_failures()}
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
        if verb == "stats":
            return {
                "in_flight": fake.in_flight,
                "max_in_flight": fake.max_in_flight,
                "throttled": len(fake.throttled),
            }
        if verb == "drills":
            return [
                {
                    **drill.to_api(),
                    "Target": drill.target_id,
                    "RegionId": drill.region,
                    "Cleared": drill.cleared,
                }
                for drill in fake.drills.all()
            ]
        if verb == "groups":
            return [
                group.to_api(group.source_region_id)
                for account in fake.accounts()
                for group in fake.backend(account).groups.values()
            ]
        raise KeyError(verb)


def _handler_for(server: FakeEbsServer) -> type[QuietHandler]:
    class Handler(QuietHandler):
        server_version = "fake-ebs"

        def dispatch(self, body: bytes) -> None:
            if self.path.startswith(_CONTROL):
                self._control(self.path[len(_CONTROL) :].split("?")[0], body)
                return
            host = self.headers.get("Host") or server.endpoint
            request = WireRequest.build(self.command, f"http://{host}{self.path}", dict(self.headers), body)
            answer = server.fake.handle(request, transport="server")
            if answer.fault is not None and answer.fault.kind == "trickle" and answer.response is not None:
                self._trickle(
                    answer.response.status, answer.response.headers, answer.response.body, answer.fault
                )
                return
            if answer.fault is not None:
                if answer.fault.kind == "stall":
                    server.stopping.wait(answer.fault.seconds)
                self.drop()
                return
            assert answer.response is not None
            self.send(answer.response.status, answer.response.headers, answer.response.body)

        def _trickle(self, status: int, headers: dict[str, str], body: bytes, fault: Any) -> None:
            """The answer a byte at a time over ``fault.seconds``: no wait long enough for a read timeout."""
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            gap = fault.seconds / max(len(body), 1)
            for index in range(len(body)):
                self.wfile.write(body[index : index + 1])
                self.wfile.flush()
                if server.stopping.wait(gap):
                    return

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
            self.send(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())

    return Handler
