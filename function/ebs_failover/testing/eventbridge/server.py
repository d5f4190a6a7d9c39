"""A fake EventBridge (the 2020-04-01 OpenAPI's ``PutEvents``) on 127.0.0.1, for its official SDK.

The SDK is ``alibabacloud-eventbridge20200401``. It speaks the one operation the function uses, exactly as
the SDK sends it::

    with FakeEventBridgeServer() as bridge:
        bridge.create_bus("ops")
        Client(Config(endpoint=bridge.endpoint, protocol="http", region_id="cn-hangzhou",
                      access_key_id="testing", access_key_secret="testing")).put_events(request)
        bridge.events["ops"]            # [ReceivedEvent(id=…, source=…, data={…}, …)]

The request is ``POST /`` signed ACS3-HMAC-SHA256 (verified by the same code as the fake EBS's,
:func:`~ebs_failover.testing._auth.verify_acs3`: the canonical request, the STS token, the clock,
the nonce), ``x-acs-action: PutEvents``, ``x-acs-version: 2020-04-01``, and a form body:
``EventBusName=<bus>&EventList=<the JSON list of events>``, each event
``{"Id", "Source", "Type", "Subject", "Time", "DataContentType", "SpecVersion", "Data"}``.
The answer is ``200`` with ``{"RequestId", "Code": "Success", "Message", "Success": true,
"Data": {"FailedEntryCount": 0, "EntryList": [{"EventId", "TraceId"}]}}``.

Checks, in order, each answering the JSON error ``{"RequestId", "HostId", "Code", "Message",
"Recommend"}``:

==============================================  ======  ====================================
the server is :meth:`~FakeEventBridgeServer.down`  —     connection closed, no answer
a :meth:`~FakeEventBridgeServer.stall`          —       no answer until it is released
a :meth:`~FakeEventBridgeServer.fail_next` fault  any   that code (``TooManyRequests``…)
not ``POST /`` / another action or version      400/404 ``InvalidVersion``, ``InvalidAction.NotFound``
the ACS3 signature (the gateway's checks)       400     ``IncompleteSignature``, ``InvalidTimeStamp.*``…
unknown AccessKeyId                             404     ``InvalidAccessKeyId.NotFound``
signature differs                               403     ``SignatureDoesNotMatch``
STS token missing or different                  400     ``InvalidSecurityToken.*``
no ``EventBusName`` / unreadable ``EventList``  400     ``MissingParameter`` / ``InvalidParameter``
unknown bus                                     404     ``EventBusNotExist``
an event without ``Id``/``Source``/``Type``     200     a failed entry (``FailedEntryCount``)
==============================================  ======  ====================================

:meth:`~FakeEventBridgeServer.fail_entries` makes the next events failed entries
(``ErrorCode``/``ErrorMessage``) in a 200 answer, as EventBridge reports an event it refused.
What is assumed, not documented: ``SignatureDoesNotMatch`` is 403 (EventBridge's error-code page)
where other gateways say 400; ``EventBusNotExist``'s status (404) and message; the failed entry's
codes; the checks' order.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from ebs_failover.testing._core.auth import Credential, CredentialStore, verify_acs3
from ebs_failover.testing._core.errors import ApiError
from ebs_failover.testing._core.http import FailsOnDemand, GoesDown, InjectedFaults, LocalServer, QuietHandler
from ebs_failover.testing.eventbridge.models import (
    ANSWER_OF,
    EVENTBRIDGE_VERSION,
    EventBridgeCall,
    EventBridgeError,
    Faults,
    ReceivedEvent,
)
from ebs_failover.testing.eventbridge.responses import (
    claimed_key,
    error_json,
    new_request_id,
    parse_event_list,
)

__all__ = [
    "EVENTBRIDGE_VERSION",
    "EventBridgeCall",
    "EventBridgeError",
    "FakeEventBridgeServer",
    "ReceivedEvent",
]


class FakeEventBridgeServer(FailsOnDemand, GoesDown, LocalServer):
    """EventBridge buses served over HTTP on 127.0.0.1; a context manager.

    Accepts ``testing``/``testing`` until told otherwise (:meth:`register_credential`). State:
    :attr:`events` (per bus, in order) and :attr:`calls` (every request, dropped ones included).
    """

    thread_name = "fake-eventbridge"

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, clock: Callable[[], float] = time.time
    ) -> None:
        self.clock = clock
        self.events: dict[str, list[ReceivedEvent]] = {}
        self.calls: list[EventBridgeCall] = []
        self._credentials = CredentialStore()
        self._faults = Faults()
        self._lock = threading.Lock()
        #: Set to let stalled requests go (they then answer normally); stopping the server sets it too.
        self.release = threading.Event()
        self.register_credential("testing", "testing")
        super().__init__(_handler_for(self), host, port)

    @property
    def endpoint(self) -> str:
        """``host:port``, the SDK's ``Config.endpoint`` (with ``protocol="http"``)."""
        return self.host_port

    # -- state and faults ----------------------------------------------------

    def create_bus(self, name: str) -> None:
        """Make ``name`` an event bus."""
        if not name or "/" in name:
            raise ValueError(f"invalid event bus name {name!r}")
        with self._lock:
            self.events.setdefault(name, [])

    def _injected_errors(self) -> InjectedFaults:
        return self._faults.errors

    def register_credential(self, access_key_id: str, secret: str, security_token: str | None = None) -> None:
        """Accept this AccessKey; with ``security_token``, only requests carrying that token."""
        self._credentials.register(Credential(access_key_id, secret, security_token=security_token))

    def fail_entries(
        self, code: str = "EventBusNotAvailable", message: str = "The event was refused."
    ) -> None:
        """The next event put is refused as a failed entry of a 200 answer."""
        with self._lock:
            self._faults.entries.append((code, message))

    def stall(self, n: int = 1) -> None:
        """The next ``n`` requests get no answer until :attr:`release` is set (or the server stops)."""
        with self._lock:
            self._faults.stalls += n

    def take_stall(self) -> bool:
        with self._lock:
            if self._faults.stalls > 0:
                self._faults.stalls -= 1
                return True
            return False

    # -- the API -------------------------------------------------------------

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        """Answer one request: ``(status, request id, JSON body)``; records it in :attr:`calls`.

        ``headers`` must have lower-case names. Raises nothing: errors are answers.
        """
        request_id = new_request_id()
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        bus = form.get("EventBusName")
        access_key_id = claimed_key(headers.get("authorization", ""))
        try:
            self._take_fault()
            self._check_operation(method, path, headers)
            try:
                verify_acs3(method, path, headers, body, self._credentials, self.clock)
            except ApiError as refused:  # the gateway's checks, shared with the fake EBS
                status, message = ANSWER_OF.get(refused.code, (refused.status, refused.message))
                raise EventBridgeError(status, refused.code, message) from None
            status, answer, code = 200, self._put(bus, form.get("EventList"), request_id), None
        except EventBridgeError as error:
            status, code = error.status, error.code
            answer = error_json(error, request_id, headers.get("host", ""))
        self._record(
            EventBridgeCall(
                method, path, headers.get("x-acs-action"), bus, access_key_id, status, code, request_id
            )
        )
        return status, request_id, answer

    def record_unanswered(self, method: str, path: str, headers: Mapping[str, str]) -> None:
        """Log a request whose connection was closed unanswered."""
        self._record(
            EventBridgeCall(
                method,
                path,
                headers.get("x-acs-action"),
                None,
                claimed_key(headers.get("authorization", "")),
                None,
                None,
                new_request_id(),
            )
        )

    def _record(self, call: EventBridgeCall) -> None:
        with self._lock:
            self.calls.append(call)

    def _take_fault(self) -> None:
        fault = self._faults.errors.take()
        if fault is not None:
            raise EventBridgeError(fault.status, fault.code, fault.message)

    @staticmethod
    def _check_operation(method: str, path: str, headers: Mapping[str, str]) -> None:
        if headers.get("x-acs-version") != EVENTBRIDGE_VERSION:
            raise EventBridgeError(400, "InvalidVersion", "Specified parameter Version is not valid.")
        if method != "POST" or path.partition("?")[0] != "/" or headers.get("x-acs-action") != "PutEvents":
            raise EventBridgeError(
                404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."
            )

    def _put(self, bus: str | None, event_list: str | None, request_id: str) -> bytes:
        if not bus:
            raise EventBridgeError(
                400, "MissingParameter", "The input parameter EventBusName that is mandatory is missing."
            )
        items = parse_event_list(event_list)
        with self._lock:
            if bus not in self.events:
                raise EventBridgeError(404, "EventBusNotExist", f"The event bus [{bus}] not existed!")
        results = [self._accept(bus, item) for item in items]
        failed = sum(1 for result in results if "ErrorCode" in result)
        return json.dumps(
            {
                "RequestId": request_id,
                "Code": "Success",
                "Message": "success",
                "Success": True,
                "Data": {"FailedEntryCount": failed, "EntryList": results},
            }
        ).encode()

    def _accept(self, bus: str, item: dict[str, Any]) -> dict[str, Any]:
        trace_id = uuid.uuid4().hex
        with self._lock:
            refused = self._faults.entries.pop(0) if self._faults.entries else None
        missing = [name for name in ("Id", "Source", "Type") if not item.get(name)]
        if refused is None and missing:
            refused = ("InvalidArgument", f"The event attribute {missing[0]} is required.")
        if refused is not None:
            return {
                "EventId": item.get("Id"),
                "TraceId": trace_id,
                "ErrorCode": refused[0],
                "ErrorMessage": refused[1],
            }
        received = ReceivedEvent(
            id=str(item["Id"]),
            source=str(item["Source"]),
            type=str(item["Type"]),
            subject=item.get("Subject"),
            time=item.get("Time"),
            datacontenttype=item.get("DataContentType"),
            specversion=item.get("SpecVersion"),
            data=item.get("Data"),
            event_id=str(item["Id"]),
        )
        with self._lock:
            self.events[bus].append(received)
        return {"EventId": received.event_id, "TraceId": trace_id}


def _handler_for(server: FakeEventBridgeServer) -> type[QuietHandler]:
    class Handler(QuietHandler):
        server_version = "fake-eventbridge"
        protocol_version = "HTTP/1.1"  # darabonba's requests session keeps connections alive
        timeout = 30

        def dispatch(self, body: bytes) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            if server.is_down:
                server.record_unanswered(self.command, self.path, headers)
                self.drop()
                return
            if server.take_stall():
                # Hold the answer back: the client's read timeout ends the wait, not the fake.
                while not (server.release.wait(0.05) or server.stopping.is_set()):
                    pass
                if server.stopping.is_set():
                    server.record_unanswered(self.command, self.path, headers)
                    self.drop()
                    return
            status, request_id, answer = server.handle(self.command, self.path, headers, body)
            # A client that gave up on a stalled answer has closed its end: nothing to tell it.
            with contextlib.suppress(OSError):
                self.send(
                    status,
                    {"Content-Type": "application/json;charset=utf-8", "x-acs-request-id": request_id},
                    answer,
                )

    return Handler
