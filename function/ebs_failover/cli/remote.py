"""``ebs-failover remote-invoke``: invoke the deployed function through the FC 2.0 API (``fc2.Client``).

Retries. ``fc2`` sends every request through a ``requests`` session mounted with urllib3
``Retry(total=5, backoff_factor=1, status_forcelist=(500, 502, 504))``. urllib3 retries a *status*
(500/502/504) or a *read* error only for the methods in ``Retry.DEFAULT_ALLOWED_METHODS`` (GET, PUT,
DELETE, HEAD, OPTIONS, TRACE): an invoke is a POST, so a 5xx or a lost answer is not retried and FC
sees the request once (tests/test_cli.py counts the calls). Only connect (and TLS) errors are retried,
and a request that never got through the handshake was never submitted. So no retry of fc2's can
double-submit today; but that rests on a urllib3 default, so an asynchronous invoke also carries a task id:
``X-Fc-Stateful-Async-Invocation-Id`` = ``ebsfo-`` + SHA-256 of the event bytes (``--task-id``
overrides it). FC rejects a repeated task id with 409 (task de-duplication), so neither a retry nor
an operator running the same command twice submits one event twice; the 409 is reported as such.
Connect retries stay on: they are safe and ride out a blip. Unverified: whether FC honours the id on a
function without stateful asynchronous invocation enabled (the reference does not say).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ebs_failover.errors import CliError
from ebs_failover.results import FAILURES

from ._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, note, read_event

TASK_ID_PREFIX = "ebsfo-"
#: FC's rule for a stateful async invocation id: a letter or underscore first, [A-Za-z0-9_-], at most 128.
_TASK_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")


def async_task_id(raw: bytes) -> str:
    """The async task id of an event: the same bytes, the same id (70 characters)."""
    return TASK_ID_PREFIX + hashlib.sha256(raw).hexdigest()


def default_endpoint(region: str, account_id: str) -> str:
    return f"https://{account_id}.{region}.fc.aliyuncs.com"


def run_remote_invoke(args: argparse.Namespace) -> int:
    raw = read_event(args.event)
    key_id = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID", "").strip()
    secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "").strip()
    token = os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN", "").strip()
    if not key_id or not secret:
        raise CliError(
            "remote-invoke needs credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and "
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN for an STS token)",
            EXIT_USAGE,
        )
    endpoint = args.endpoint
    if not endpoint:
        region = args.region or os.environ.get("ALIBABA_CLOUD_REGION_ID")
        account_id = args.account_id or os.environ.get("ALIBABA_CLOUD_ACCOUNT_ID")
        if not region or not account_id:
            raise CliError(
                "remote-invoke needs the FC endpoint: pass --endpoint URL, or --region (or "
                "ALIBABA_CLOUD_REGION_ID) and --account-id (or ALIBABA_CLOUD_ACCOUNT_ID)",
                EXIT_USAGE,
            )
        endpoint = default_endpoint(region, account_id)
    headers = {"x-fc-invocation-type": "Async" if args.async_ else "Sync"}
    task_id: str | None = None
    if args.async_:
        task_id = args.task_id or async_task_id(raw)
        if not _TASK_ID.match(task_id):
            raise CliError(
                f"--task-id {task_id!r}: expected a letter or _ first, then letters, digits, _ or -, "
                "at most 128 characters",
                EXIT_USAGE,
            )
        headers["x-fc-stateful-async-invocation-id"] = task_id
    elif args.task_id:
        raise CliError("--task-id applies to --async invocations only", EXIT_USAGE)

    try:
        import fc2
    except ImportError:
        raise CliError(
            "remote-invoke needs the aliyun-fc2 package: pip install 'ebs-failover[cli]'", EXIT_FAILED
        ) from None
    import requests

    client = fc2.Client(
        endpoint=endpoint,
        accessKeyID=key_id,
        accessKeySecret=secret,
        securityToken=token,
        Timeout=args.timeout,
    )
    target = f"{args.service}{'.' + args.qualifier if args.qualifier else ''}/{args.function}"
    with _fc2_logging_silenced():
        try:
            response = client.invoke_function(
                args.service, args.function, payload=raw, headers=headers, qualifier=args.qualifier
            )
        except fc2.FcError as error:
            raise CliError(_describe(error, target, task_id), EXIT_FAILED) from None
        except requests.exceptions.JSONDecodeError:  # fc2 decodes every error answer as JSON
            raise CliError(f"FC answered {target} with an error that is not JSON", EXIT_FAILED) from None
        except requests.RequestException as error:
            raise CliError(
                f"cannot invoke {target} at {endpoint}: {type(error).__name__}", EXIT_FAILED
            ) from None
    request_id = response.headers.get("x-fc-request-id") or "(no x-fc-request-id)"
    if args.async_:
        print(request_id)
        note(f"submitted {target} asynchronously, task id {task_id}")
        return EXIT_OK
    body: bytes = response.data or b""
    text = body.decode("utf-8", "replace")
    print(text, end="" if text.endswith("\n") else "\n")
    return EXIT_FAILED if _outcome(body) in FAILURES else EXIT_OK


def _outcome(body: bytes) -> str | None:
    """The ``data.outcome`` of the function's result, if the body is one."""
    try:
        result = json.loads(body)
    except ValueError:
        return None
    data = result.get("data") if isinstance(result, dict) else None
    outcome = data.get("outcome") if isinstance(data, dict) else None
    return outcome if isinstance(outcome, str) else None


def _describe(error: Any, target: str, task_id: str | None) -> str:
    """One line for an ``fc2.FcError``: FC's error code and message, or the function's own error."""
    status = getattr(error, "status_code", None)
    try:
        details = json.loads(error.message)
    except (TypeError, ValueError):
        details = {}
    if not isinstance(details, dict):
        details = {}
    request_id = details.get("RequestId") or getattr(error, "request_id", "") or "unknown"
    if isinstance(status, int) and status < 400:  # FC answered, but the function raised (x-fc-error-type)
        kind = details.get("errorType") or details.get("ErrorType") or "an error"
        message = details.get("errorMessage") or details.get("ErrorMessage") or ""
        return f"the function {target} raised {kind}: {message} (request id {request_id})"
    code = details.get("ErrorCode") or getattr(error, "err_code", "") or "error"
    message = details.get("ErrorMessage") or ""
    if status == 409 and task_id is not None:
        return (
            f"FC refused async task id {task_id} as a duplicate (409 {code}: {message}): this event "
            f"was already submitted; pass --task-id to submit it again (request id {request_id})"
        )
    return f"FC answered {status} {code} for {target}: {message} (request id {request_id})"


@contextmanager
def _fc2_logging_silenced() -> Iterator[None]:
    """fc2 logs failed requests, with their Authorization and security-token headers, on the root logger.

    Unconfigured, Python's last-resort handler would print them to stderr: silence logging for the call.
    """
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)
