"""``ebs-failover remote-invoke``: invoke the deployed function through FC's API, 3.0 or 2.0.

Which API. template.yml deploys an FC 3.0 function (``ALIYUN::FC3::Function``), which has no service:
"Services are no longer used in Function Compute [3.0]. Functions become first-level entities"
(https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/product-overview/feature-updates-in-function-compute-3).
FC 3.0's invoke is ``POST /2023-03-30/functions/{functionName}/invocations`` with the version or alias
in the ``qualifier`` query parameter (https://alibabacloud.com/help/en/functioncompute/fc-3-0/developer-reference/
api-fc-2023-03-30-invokefunction). FC 2.0's (``aliyun-fc2``) is
``POST /2016-08-15/services/{service}[.qualifier]/functions/{function}/invocations``: it needs a service
name. The same page says 2.0's "original services and functions" keep working and "can still be invoked
as expected"; nothing we could read says the 2.0 API reaches a function created through the 3.0 API,
under a default service or any other name (the page's section on compatibility rules could not be read
in full). So the 2.0 API cannot be relied on for this function, and:

* no ``--service``: FC 3.0 through its official SDK ``alibabacloud_fc20230330`` (``InvokeFunction``,
  signed ACS3-HMAC-SHA256 by ``alibabacloud-tea-openapi``), ``--function NAME [--qualifier Q]``;
* ``--service S``: FC 2.0 through ``fc2.Client``, for a function deployed as a 2.0 service, as before.

Both use the same endpoint, ``https://<account-id>.<region>.fc.aliyuncs.com`` (FC 3.0's endpoints page,
https://alibabacloud.com/help/en/functioncompute/fc-3-0/developer-reference/fc-endpoints; the 3.0 SDK's
own regional default, ``fcv3.<region>.aliyuncs.com``, is never used: the endpoint is always given).

Task ids. An asynchronous invocation carries a task id, ``ebsfo-`` + SHA-256 of the event bytes
(``--task-id`` overrides it): FC 3.0's header ``x-fc-async-task-id`` (``InvokeFunctionHeaders.
x_fc_async_task_id`` in the SDK), FC 2.0's ``X-Fc-Stateful-Async-Invocation-Id``; the same rule for
both: a letter or ``_`` first, then ``[A-Za-z0-9_-]``, at most 128 characters. FC rejects a repeated id
"as a duplicate submission ... and an error 409 is returned" (https://www.alibabacloud.com/help/en/fc/
task-deduplication, a 2.0 page; for 3.0 the 409 is assumed, and its error code is not documented: any
409 of an async invoke is reported as a duplicate). Both docs say the task-id feature must be enabled
beforehand (async task mode); what FC does with the id on a function without it is unverified.

Retries. Neither client may submit an asynchronous invoke twice on its own:

* ``fc2`` sends through a ``requests`` session mounted with urllib3 ``Retry(total=5, backoff_factor=1,
  status_forcelist=(500, 502, 504))``. urllib3 retries a *status* (500/502/504) or a *read* error only
  for the methods in ``Retry.DEFAULT_ALLOWED_METHODS`` (GET, PUT, DELETE, HEAD, OPTIONS, TRACE): an
  invoke is a POST, so a 5xx or a lost answer is not retried (tests/test_cli.py counts the calls).
  Connect errors are retried, and a request that never got through the handshake was never submitted.
  urllib3 also retries, whatever the method, an error it counts as "other", such as a TLS error; one
  that strikes after the request went out resends it. That stays safe (the task id makes FC refuse the
  second submission of an async invoke, the ClientTokens a second failover), but the command may then
  report a 409 "duplicate" for a submission FC accepted: its request id is in FC's console.
* ``alibabacloud-tea-openapi`` 0.4's ``do_request`` loops on ``Config.retry_options`` (darabonba
  ``RetryOptions``; None retries nothing), not on ``RuntimeOptions.autoretry``/``max_attempts``, which it
  no longer reads; darabonba's ``requests`` adapter has urllib3's default of no retries. We set
  ``RetryOptions(retryable=False)`` (and ``autoretry=False, max_attempts=1``, should a version read them
  again) so that the 3.0 call is one HTTP request whatever the defaults become: a retry would also
  resend the request from its stream, which the first attempt has already read to the end, so a
  retried invoke would carry an empty event. A lost answer is reported, and running the same command
  again is safe: the task id makes FC refuse a second submission (409), and a synchronous re-run reuses
  the event's ClientTokens.

Secrets. ``fc2`` logs failed requests, with their Authorization and security-token headers, on the root
logger; darabonba logs every request's headers on its own stderr handler when ``DEBUG=sdk``. Logging is
disabled for the call. Error lines carry FC's code, message and request id, never a header.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ebs_failover.errors import CliError
from ebs_failover.outcomes import FAILURES

from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    event_name,
    note,
    read_event,
    refused,
    refused_credentials,
    sdk_logging_silenced,
)

TASK_ID_PREFIX = "ebsfo-"
#: FC's rule for an async task id (2.0 and 3.0): a letter or underscore first, [A-Za-z0-9_-], at most 128.
_TASK_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")
#: FC 3.0's InvokeFunction API version (the path's first segment and ``x-acs-version``).
FC3_API_VERSION = "2023-03-30"


def async_task_id(raw: bytes) -> str:
    """The async task id of an event: the same bytes, the same id (70 characters)."""
    return TASK_ID_PREFIX + hashlib.sha256(raw).hexdigest()


def default_endpoint(region: str, account_id: str) -> str:
    """FC's public endpoint of an account in a region (the same for the 2.0 and the 3.0 API)."""
    return f"https://{account_id}.{region}.fc.aliyuncs.com"


@dataclass(frozen=True)
class _Credentials:
    key_id: str
    secret: str
    token: str

    def __repr__(self) -> str:  # never the secret or the token
        return f"_Credentials(key_id={self.key_id!r})"


@dataclass(frozen=True)
class _Result:
    """What FC answered an invoke that did not fail: its status, request id and body."""

    status: int
    request_id: str
    body: bytes


def run_remote_invoke(args: argparse.Namespace) -> int:
    raw = read_event(args.event)
    from ebs_failover.triggers import MAX_EVENT_BYTES

    if len(raw) > MAX_EVENT_BYTES:  # read_event stops one byte past the limit: never send a cut event
        raise CliError(
            f"{event_name(args.event)}: longer than {MAX_EVENT_BYTES} bytes, the most the function accepts: "
            "not sent",
            EXIT_USAGE,
        )
    credentials = _credentials()
    endpoint = _endpoint(args)
    task_id = _task_id(args, raw)
    if args.service:
        target = f"{args.service}{'.' + args.qualifier if args.qualifier else ''}/{args.function}"
        result = _invoke_fc2(args, raw, credentials, endpoint, task_id, target)
    else:
        target = f"{args.function}{':' + args.qualifier if args.qualifier else ''}"
        result = _invoke_fc3(args, raw, credentials, endpoint, task_id, target)
    if args.async_:
        print(result.request_id)
        note(f"submitted {target} asynchronously, task id {task_id}")
        return EXIT_OK
    text = result.body.decode("utf-8", "replace")
    print(text, end="" if text.endswith("\n") else "\n")
    return EXIT_FAILED if _outcome(result.body) in FAILURES else EXIT_OK


def _credentials() -> _Credentials:
    key_id = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID", "").strip()
    secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "").strip()
    token = os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN", "").strip()
    if not key_id or not secret:
        raise CliError(
            "remote-invoke needs credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and "
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN for an STS token)",
            EXIT_USAGE,
        )
    return _Credentials(key_id, secret, token)


def _endpoint(args: argparse.Namespace) -> str:
    if args.endpoint:
        return str(args.endpoint)
    region = args.region or os.environ.get("ALIBABA_CLOUD_REGION_ID")
    account_id = args.account_id or os.environ.get("ALIBABA_CLOUD_ACCOUNT_ID")
    if not region or not account_id:
        raise CliError(
            "remote-invoke needs the FC endpoint: pass --endpoint URL, or --region (or "
            "ALIBABA_CLOUD_REGION_ID) and --account-id (or ALIBABA_CLOUD_ACCOUNT_ID)",
            EXIT_USAGE,
        )
    return default_endpoint(region, account_id)


def _task_id(args: argparse.Namespace, raw: bytes) -> str | None:
    if not args.async_:
        if args.task_id:
            raise CliError("--task-id applies to --async invocations only", EXIT_USAGE)
        return None
    task_id: str = args.task_id or async_task_id(raw)
    if not _TASK_ID.match(task_id):
        raise CliError(
            f"--task-id {task_id!r}: expected a letter or _ first, then letters, digits, _ or -, "
            "at most 128 characters",
            EXIT_USAGE,
        )
    return task_id


# -- FC 3.0 (alibabacloud_fc20230330) -------------------------------------------------------------


def split_endpoint(endpoint: str) -> tuple[str, str]:
    """``(protocol, host[:port])`` of an endpoint URL; a bare host is https."""
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
        raise CliError(
            f"--endpoint {endpoint!r}: expected https://HOST[:PORT] (http:// for a local fake)", EXIT_USAGE
        )
    return parts.scheme, parts.netloc


def _invoke_fc3(
    args: argparse.Namespace,
    raw: bytes,
    credentials: _Credentials,
    endpoint: str,
    task_id: str | None,
    target: str,
) -> _Result:
    protocol, host = split_endpoint(endpoint)
    try:
        from alibabacloud_fc20230330 import models as fc3_models
        from alibabacloud_fc20230330.client import Client
    except ImportError:
        raise CliError(
            "remote-invoke needs the alibabacloud-fc20230330 package: pip install 'ebs-failover[cli]'",
            EXIT_FAILED,
        ) from None
    from alibabacloud_tea_openapi.utils_models import Config
    from darabonba.exceptions import ResponseException
    from darabonba.policy.retry import RetryOptions
    from darabonba.runtime import RuntimeOptions

    timeout_ms = args.timeout * 1000
    config = Config(
        access_key_id=credentials.key_id,
        access_key_secret=credentials.secret,
        security_token=credentials.token or None,
        endpoint=host,
        protocol=protocol,
        region_id=args.region or os.environ.get("ALIBABA_CLOUD_REGION_ID") or None,
        read_timeout=timeout_ms,
        connect_timeout=timeout_ms,
        retry_options=RetryOptions({"retryable": False}),  # one HTTP request: see the module docstring
    )
    headers = fc3_models.InvokeFunctionHeaders(
        x_fc_invocation_type="Async" if args.async_ else "Sync",
        x_fc_log_type="None",
        x_fc_async_task_id=task_id,
    )
    request = fc3_models.InvokeFunctionRequest(body=io.BytesIO(raw), qualifier=args.qualifier or None)
    runtime = RuntimeOptions(
        autoretry=False, max_attempts=1, read_timeout=timeout_ms, connect_timeout=timeout_ms
    )
    with sdk_logging_silenced():
        try:
            client = Client(config)
            response = client.invoke_function_with_options(args.function, request, headers, runtime)
            body = _read(response.body)
        except ResponseException as error:  # FC answered 4xx/5xx: the SDK raised Client/ServerException
            raise _fc3_error(error, target, task_id) from None
        except Exception as error:  # the SDK wraps transport errors (and a non-JSON error) in several types
            raise CliError(_describe_transport(error, target, endpoint), EXIT_FAILED) from None
    response_headers = {str(k).lower(): str(v) for k, v in (response.headers or {}).items()}
    request_id = response_headers.get("x-fc-request-id") or "(no x-fc-request-id)"
    if response_headers.get("x-fc-error-type"):
        raise CliError(_function_error(_json_object(body), target, request_id), EXIT_FAILED)
    return _Result(int(response.status_code or 0), request_id, body)


def _read(body: Any) -> bytes:
    """The response body as bytes: the SDK gives a readable stream (``binary``), or bytes."""
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    data = body.read()
    return data if isinstance(data, bytes) else str(data).encode("utf-8")


def _fc3_error(error: Any, target: str, task_id: str | None) -> CliError:
    """One line for a tea-openapi ``ResponseException``: FC 3.0's Code, Message and RequestId; exit 2 when
    FC refused the credentials, else 1."""
    status = getattr(error, "status_code", None)
    data = getattr(error, "data", None)
    details: Mapping[str, Any] = data if isinstance(data, dict) else {}
    request_id = details.get("RequestId") or details.get("requestId") or "unknown"
    if details.get("errorType") or details.get("errorMessage"):  # the function's error, on a 4xx/5xx
        return CliError(_function_error(details, target, str(request_id)), EXIT_FAILED)
    code = details.get("Code") or details.get("code") or "error"
    message = details.get("Message") or details.get("message") or ""
    if status == 409 and task_id is not None:
        return CliError(_duplicate(task_id, status, code, message, request_id), EXIT_FAILED)
    return _answered(status, str(code), message, target, request_id)


def _answered(status: Any, code: str, message: Any, target: str, request_id: Any) -> CliError:
    """FC's error answer ``code``: exit 2 when it refused the credentials (nothing else would fix it)."""
    why = refused_credentials(code)
    if why is not None:
        return refused(f"FC answered {status} for {target} (request id {request_id})", code, why)
    return CliError(
        f"FC answered {status} {code} for {target}: {message} (request id {request_id})", EXIT_FAILED
    )


#: How tea-openapi's JSON reader fails on an error answer that is not JSON (a gateway's HTML page).
_NOT_JSON = "Failed to parse the value as json format"


def _describe_transport(error: BaseException, target: str, endpoint: str) -> str:
    """One line for an invoke that got no usable answer (connection refused, timeout, a non-JSON error)."""
    inner = getattr(error, "inner_exception", None)
    if isinstance(inner, BaseException) and _NOT_JSON in str(inner):
        # An answer came back, but not FC's JSON (the SDK keeps neither its status nor its headers).
        return (
            f"{endpoint} answered the invoke of {target} with an error that is not FC's JSON (a proxy or "
            "gateway in front of FC?); whether the function ran is not known: running the same command "
            "again is safe (the task id of an async invoke, the ClientTokens of a failover)"
        )
    kind = type(inner).__name__ if isinstance(inner, BaseException) else type(error).__name__
    return (
        f"cannot invoke {target} at {endpoint}: {kind} (no answer was read; running the same command "
        "again is safe: an async invoke's task id makes FC refuse a second submission)"
    )


# -- FC 2.0 (fc2) -----------------------------------------------------------------------------------


def _invoke_fc2(
    args: argparse.Namespace,
    raw: bytes,
    credentials: _Credentials,
    endpoint: str,
    task_id: str | None,
    target: str,
) -> _Result:
    headers = {"x-fc-invocation-type": "Async" if args.async_ else "Sync"}
    if task_id is not None:
        headers["x-fc-stateful-async-invocation-id"] = task_id
    try:
        import fc2
    except ImportError:
        raise CliError(
            "remote-invoke --service needs the aliyun-fc2 package: pip install 'ebs-failover[cli]'",
            EXIT_FAILED,
        ) from None
    import requests

    client = fc2.Client(
        endpoint=endpoint,
        accessKeyID=credentials.key_id,
        accessKeySecret=credentials.secret,
        securityToken=credentials.token,
        Timeout=args.timeout,
    )
    with sdk_logging_silenced():
        try:
            response = client.invoke_function(
                args.service, args.function, payload=raw, headers=headers, qualifier=args.qualifier
            )
        except fc2.FcError as error:
            raise _fc2_error(error, target, task_id) from None
        except requests.exceptions.JSONDecodeError:  # fc2 decodes every error answer as JSON
            raise CliError(f"FC answered {target} with an error that is not JSON", EXIT_FAILED) from None
        except requests.RequestException as error:
            raise CliError(
                f"cannot invoke {target} at {endpoint}: {type(error).__name__}", EXIT_FAILED
            ) from None
    request_id = response.headers.get("x-fc-request-id") or "(no x-fc-request-id)"
    body: bytes = response.data or b""
    return _Result(202 if args.async_ else 200, request_id, body)


def _fc2_error(error: Any, target: str, task_id: str | None) -> CliError:
    """One line for an ``fc2.FcError``: FC's error code and message, or the function's own error; exit 2
    when FC refused the credentials, else 1."""
    status = getattr(error, "status_code", None)
    details = _json_object(error.message)
    request_id = details.get("RequestId") or getattr(error, "request_id", "") or "unknown"
    if isinstance(status, int) and status < 400:  # FC answered, but the function raised (x-fc-error-type)
        return CliError(_function_error(details, target, str(request_id)), EXIT_FAILED)
    code = details.get("ErrorCode") or getattr(error, "err_code", "") or "error"
    message = details.get("ErrorMessage") or ""
    if status == 409 and task_id is not None:
        return CliError(_duplicate(task_id, status, code, message, request_id), EXIT_FAILED)
    return _answered(status, str(code), message, target, request_id)


# -- shared ---------------------------------------------------------------------------------------


def _function_error(details: Mapping[str, Any], target: str, request_id: str) -> str:
    """The function raised (``x-fc-error-type``): its ``errorType`` and ``errorMessage``."""
    kind = details.get("errorType") or details.get("ErrorType") or "an error"
    message = details.get("errorMessage") or details.get("ErrorMessage") or ""
    return f"the function {target} raised {kind}: {message} (request id {request_id})"


def _duplicate(task_id: str, status: int, code: Any, message: Any, request_id: Any) -> str:
    return (
        f"FC refused async task id {task_id} as a duplicate ({status} {code}: {message}): this event "
        f"was already submitted; pass --task-id to submit it again (request id {request_id})"
    )


def _json_object(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _outcome(body: bytes) -> str | None:
    """The ``data.outcome`` of the function's result, if the body is one."""
    result = _json_object(body)
    data = result.get("data")
    outcome = data.get("outcome") if isinstance(data, dict) else None
    return outcome if isinstance(outcome, str) else None
