"""A fake Function Compute invoke API on 127.0.0.1: FC 3.0's and FC 2.0's, for their official SDKs.

``ebs-failover remote-invoke`` reaches an FC 3.0 function through ``alibabacloud_fc20230330`` and an FC 2.0
service's function through ``fc2``; this fake answers both, exactly as those SDKs send::

    with FakeFcServer() as fc:
        fc.add_function("ebs-failover", handler=lambda call: {"data": {"outcome": "dry_run"}})
        fc.add_function("failover", service="ebs", result=b"{}")        # an FC 2.0 service's function
        ebs-failover remote-invoke EVENT --function ebs-failover --endpoint <fc.url>
        fc.invocations                   # [FcInvocation(api="3.0", function=…, payload=…, task_id=…), …]
        fc.tasks                         # the accepted async tasks, by (function, task id)

FC 3.0: ``POST /2023-03-30/functions/{name}/invocations[?qualifier=Q]``, signed ACS3-HMAC-SHA256 (verified
by the fake EBS's own :func:`~ebs_failover.testing._auth.verify_acs3`: canonical request, STS token,
clock, nonce), ``x-acs-action: InvokeFunction``, ``x-acs-version: 2023-03-30``, headers
``x-fc-invocation-type`` (``Sync``/``Async``), ``x-fc-async-task-id``, the event as the body
(https://alibabacloud.com/help/en/functioncompute/fc-3-0/developer-reference/api-fc-2023-03-30-invokefunction).
Errors are FC 3.0's ``{"Code", "Message", "RequestId"}`` (its ``Error`` structure, example
``FunctionNotFound``: https://help.aliyun.com/zh/functioncompute/fc/developer-reference/api-fc-2023-03-30-struct-error).

FC 2.0: ``POST /2016-08-15/services/{service}[.qualifier]/functions/{name}/invocations``, signed
``FC <AccessKeyId>:<base64 HMAC-SHA256>`` over the method, Content-MD5, Content-Type, Date, the sorted
``x-fc-*`` headers and the path (fc2's ``Auth.sign_request``), ``x-fc-security-token`` for STS, the task id
in ``x-fc-stateful-async-invocation-id``. Errors are ``{"ErrorCode", "ErrorMessage"}``, the names fc2 reads.

A synchronous invoke runs the function's ``handler`` (given the :class:`FcInvocation`; it may run the real
``ebs_failover.handler`` against a fake EBS) or answers its canned ``result``: 200 with the result as the
body (bytes as they are, str as UTF-8, anything else as JSON) and ``x-fc-request-id``. A handler that
raises is FC's function error: 200, ``x-fc-error-type: UnhandledInvocationError``, body
``{"errorMessage", "errorType", "stackTrace"}`` (fc-runtime.md §4). An asynchronous invoke is recorded in
:attr:`FakeFcServer.tasks` (not run) and answered 202 with ``x-fc-request-id`` and the task id.

Checks, in order:

=============================================  =======  ===============================================
a :meth:`~FakeFcServer.fail_next` fault        any      that code
not one of the two invoke paths, or not POST   404      ``PathNotSupported``
3.0: another x-acs-action or x-acs-version    400      ``InvalidAction`` / ``InvalidVersion``
3.0: the ACS3 signature (gateway checks)      400/403  ``IncompleteSignature``, ``SignatureDoesNotMatch``…
2.0: bad ``Authorization``, unknown key, skew  403      ``SignatureNotMatch``, ``InvalidAccessKeyID``
STS token missing or different                 400/403  ``InvalidSecurityToken[.*]``
``x-fc-invocation-type`` not Sync or Async     400      ``InvalidArgument``
unknown function (2.0: its service first)      404      ``FunctionNotFound`` (2.0: ``ServiceNotFound``)
unknown qualifier                              404      ``AliasNotFound``
a task id breaking FC's rule                   400      ``InvalidArgument``
async: the function's task id seen before      409      :data:`DUPLICATE_TASK_CODE`
=============================================  =======  ===============================================

What is assumed, not documented: that an FC 3.0 function is not reachable through the 2.0 path (nor a 2.0
service's function through the 3.0 path); FC 3.0's 409 for a repeated task id (documented for 2.0) and
its code; the messages; the scope of task-id de-duplication (per function here); the 200 status of a
function error; that FC 3.0 checks ``x-acs-action``/``x-acs-version``; the 3.0 gateway's codes for a bad
signature (the fake EBS's); the checks' order; ``AliasNotFound`` for a 3.0 qualifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from ebs_failover.testing._core.auth import Credential, CredentialStore, verify_acs3
from ebs_failover.testing._core.errors import ApiError
from ebs_failover.testing._core.http import FailsOnDemand, InjectedFaults, LocalServer, QuietHandler
from ebs_failover.testing.fc.models import (
    CLOCK_SKEW_SECONDS,
    DUPLICATE_TASK_CODE,
    FC2_API_VERSION,
    FC3_API_VERSION,
    TASK_ID,
    FcCall,
    FcError,
    FcFunctionSpec,
    FcInvocation,
    Handler,
    Route,
)
from ebs_failover.testing.fc.responses import claimed_key, encode_result, error_json, new_request_id, route_of

__all__ = [
    "DUPLICATE_TASK_CODE",
    "FC2_API_VERSION",
    "FC3_API_VERSION",
    "FakeFcServer",
    "FcCall",
    "FcError",
    "FcFunctionSpec",
    "FcInvocation",
]


class FakeFcServer(FailsOnDemand, LocalServer):
    """FC's invoke API served over HTTP on 127.0.0.1; a context manager.

    Accepts ``testing``/``testing`` until told otherwise (:meth:`register_credential`). State:
    :attr:`invocations` (accepted, in order), :attr:`tasks` (async, by ``(function key, task id)``) and
    :attr:`calls` (every request).
    """

    FAIL_CODE = "ResourceThrottled"
    thread_name = "fake-fc"

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, clock: Callable[[], float] = time.time
    ) -> None:
        self.clock = clock
        self.invocations: list[FcInvocation] = []
        self.tasks: dict[tuple[str, str], FcInvocation] = {}
        self.calls: list[FcCall] = []
        self._functions: dict[tuple[str | None, str], FcFunctionSpec] = {}
        self._credentials = CredentialStore()
        self._faults = InjectedFaults()
        self._lock = threading.Lock()
        self.register_credential("testing", "testing")
        super().__init__(_handler_for(self), host, port)

    @property
    def endpoint(self) -> str:
        """``http://host:port``: what ``remote-invoke --endpoint`` (and ``fc2.Client``) take."""
        return self.url

    # -- state and faults ----------------------------------------------------

    def add_function(
        self,
        name: str,
        handler: Handler | None = None,
        *,
        result: Any = None,
        service: str | None = None,
        qualifiers: Iterable[str] = ("LATEST",),
    ) -> FcFunctionSpec:
        """Deploy ``name``: an FC 3.0 function, or with ``service`` a function of that FC 2.0 service.

        A synchronous invoke runs ``handler`` if given, else answers ``result`` (default ``{}``).
        """
        spec = FcFunctionSpec(name, service, handler, {} if result is None else result, frozenset(qualifiers))
        with self._lock:
            self._functions[(service, name)] = spec
        return spec

    def _injected_errors(self) -> InjectedFaults:
        return self._faults

    def register_credential(self, access_key_id: str, secret: str, security_token: str | None = None) -> None:
        """Accept this AccessKey; with ``security_token``, only requests carrying that token."""
        self._credentials.register(Credential(access_key_id, secret, security_token=security_token))

    # -- the API -------------------------------------------------------------

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: ``(status, headers, body)``; records it in :attr:`calls`.

        ``headers`` must have lower-case names. Raises nothing: errors are answers.
        """
        request_id = new_request_id()
        route = route_of(method, path)
        api = route.api if route else None
        task_header = "x-fc-async-task-id" if api == "3.0" else "x-fc-stateful-async-invocation-id"
        invocation_type = headers.get("x-fc-invocation-type")
        task_id = headers.get(task_header)
        access_key_id = claimed_key(headers.get("authorization", ""))
        answer_headers = {"x-fc-request-id": request_id}
        code: str | None = None
        try:
            self._take_fault()
            if route is None:
                raise FcError(
                    404, "PathNotSupported", f"'{method}' against '{urlsplit(path).path}' is not supported"
                )
            access_key_id = self._authenticate(route, method, path, headers, body)
            status, extra, answer = self._invoke(route, headers, body, request_id, access_key_id)
            answer_headers.update(extra)
        except FcError as error:
            status, code = error.status, error.code
            answer_headers["Content-Type"] = "application/json"
            answer = error_json(api, error, request_id)
        self._record(
            FcCall(
                method,
                path,
                api,
                route.function if route else None,
                route.service if route else None,
                route.qualifier if route else None,
                invocation_type,
                task_id,
                access_key_id,
                status,
                code,
                request_id,
            )
        )
        return status, answer_headers, answer

    def _record(self, call: FcCall) -> None:
        with self._lock:
            self.calls.append(call)

    def _take_fault(self) -> None:
        fault = self._faults.take()
        if fault is not None:
            raise FcError(fault.status, fault.code, fault.message)

    def _authenticate(
        self, route: Route, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> str:
        if route.api == "2.0":
            return self._verify_fc2(method, path, headers)
        if headers.get("x-acs-version") != FC3_API_VERSION:
            raise FcError(400, "InvalidVersion", "Specified parameter Version is not valid.")
        if headers.get("x-acs-action") != "InvokeFunction":
            raise FcError(400, "InvalidAction", "Specified action is not valid.")
        try:
            credential = verify_acs3(method, path, headers, body, self._credentials, self.clock)
        except ApiError as refused:  # the gateway's checks, shared with the fake EBS
            raise FcError(refused.status, refused.code, refused.message) from None
        return credential.access_key_id

    def _verify_fc2(self, method: str, path: str, headers: Mapping[str, str]) -> str:
        """FC 2.0's signature (fc2 ``Auth.sign_request``), its STS token and its 15-minute clock."""
        scheme, _, value = headers.get("authorization", "").partition(" ")
        key_id, _, signature = value.partition(":")
        if scheme != "FC" or not key_id or not signature:
            raise FcError(403, "SignatureNotMatch", "The request has no valid FC Authorization header.")
        credential = self._credentials.get(key_id)
        if credential is None:
            raise FcError(403, "InvalidAccessKeyID", f"invalid access key ID '{key_id}'")
        canonical = "".join(
            f"{name}:{headers[name]}\n" for name in sorted(n for n in headers if n.startswith("x-fc-"))
        )
        to_sign = "\n".join(
            [
                method.upper(),
                headers.get("content-md5", ""),
                headers.get("content-type", ""),
                headers.get("date", ""),
                canonical + unquote(urlsplit(path).path),
            ]
        )
        digest = hmac.new(credential.access_key_secret.encode(), to_sign.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), signature):
            raise FcError(
                403,
                "SignatureNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your access key and signing method",
            )
        sent, expected = headers.get("x-fc-security-token"), credential.security_token
        if expected is None and sent is not None:
            raise FcError(
                403, "InvalidSecurityToken", "A security token was sent with a permanent AccessKey."
            )
        if expected is not None and (
            sent is None or not hmac.compare_digest(sent.encode(), expected.encode())
        ):
            raise FcError(403, "InvalidSecurityToken", "The security token is missing or invalid.")
        try:
            sent_at = parsedate_to_datetime(headers.get("date", "")).timestamp()
        except (TypeError, ValueError):
            raise FcError(403, "SignatureNotMatch", "The Date header is missing or malformed.") from None
        if abs(self.clock() - sent_at) > CLOCK_SKEW_SECONDS:
            raise FcError(
                403, "SignatureNotMatch", "The request's Date is more than 15 minutes from FC's clock."
            )
        return key_id

    def _invoke(
        self, route: Route, headers: Mapping[str, str], body: bytes, request_id: str, access_key_id: str
    ) -> tuple[int, dict[str, str], bytes]:
        invocation_type = headers.get("x-fc-invocation-type") or "Sync"
        if invocation_type not in ("Sync", "Async"):
            raise FcError(400, "InvalidArgument", f"x-fc-invocation-type {invocation_type!r}: Sync or Async")
        spec = self._function(route)
        qualifier = route.qualifier or "LATEST"
        if qualifier not in spec.qualifiers:
            owner = f"service '{route.service}'" if route.service else f"function '{route.function}'"
            raise FcError(404, "AliasNotFound", f"alias '{qualifier}' of {owner} does not exist")
        task_header = "x-fc-async-task-id" if route.api == "3.0" else "x-fc-stateful-async-invocation-id"
        task_id = headers.get(task_header)
        if task_id is not None and not TASK_ID.match(task_id):
            raise FcError(400, "InvalidArgument", f"{task_header} {task_id!r} breaks the naming rule")
        invocation = FcInvocation(
            route.api,
            route.function,
            route.service,
            route.qualifier,
            invocation_type,
            task_id if invocation_type == "Async" else None,
            body,
            request_id,
            access_key_id,
        )
        if invocation_type == "Async":
            key = (
                f"{route.service}/{route.function}" if route.service else route.function,
                task_id or request_id,
            )
            with self._lock:
                if key in self.tasks:
                    raise FcError(409, DUPLICATE_TASK_CODE, f"async task '{key[1]}' already exists")
                self.tasks[key] = invocation
                self.invocations.append(invocation)
            return 202, {task_header: key[1]}, b""
        with self._lock:
            self.invocations.append(invocation)
        try:
            result = spec.handler(invocation) if spec.handler is not None else spec.result
        except Exception as error:  # the function raised: FC's function error, not an API error
            raised = {"errorMessage": str(error), "errorType": type(error).__name__, "stackTrace": []}
            return (
                200,
                {"x-fc-error-type": "UnhandledInvocationError", "Content-Type": "application/json"},
                json.dumps(raised).encode(),
            )
        return 200, {"Content-Type": "application/octet-stream"}, encode_result(result)

    def _function(self, route: Route) -> FcFunctionSpec:
        with self._lock:
            spec = self._functions.get((route.service, route.function))
            service_known = route.service is None or any(s == route.service for s, _ in self._functions)
        if spec is not None:
            return spec
        if not service_known:
            raise FcError(404, "ServiceNotFound", f"service '{route.service}' does not exist")
        raise FcError(404, "FunctionNotFound", f"function '{route.function}' does not exist")


def _handler_for(server: FakeFcServer) -> type[QuietHandler]:
    class Handler(QuietHandler):
        server_version = "fake-fc"
        protocol_version = "HTTP/1.1"  # the SDKs' requests sessions keep connections alive
        timeout = 30

        def dispatch(self, body: bytes) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, answer_headers, answer = server.handle(self.command, self.path, headers, body)
            self.send(status, answer_headers, answer)

    return Handler
