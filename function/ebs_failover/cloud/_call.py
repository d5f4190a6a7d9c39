"""One cloud call: its turn under the pacing, its deadline, and its failure reduced to one error class.

Every service client (:mod:`.ebs` today; OSS, OOS and CloudMonitor next) sends its
RPC calls through :func:`call_rpc`, so that each call:

1. waits for its turn from the invocation's :class:`~.pacing.Pacer` (no turn
   within the :class:`Budget`: :class:`~ebs_failover.errors.OutOfTime`, nothing sent);
2. is bounded by the budget as a whole, not only per byte: the SDK's timeouts
   bound each wait for a byte, so the call runs on a thread of its own and is
   given up at the deadline (``RequestTimeout``);
3. fails with a :class:`~ebs_failover.errors.EbsError` whatever the SDK raised
   (its code, HTTP status, RequestId, message and ``x-acs-retry-after``), or
   ``NetworkError`` when no answer came.

Retries are one layer up (:mod:`.retry`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ebs_failover.errors import EbsError, OutOfTime

from .pacing import Pacer

__all__ = ["Budget", "call_rpc"]

_MAX_READ_TIMEOUT_MS = 10_000
_CONNECT_TIMEOUT_MS = 5_000
#: Connections kept per host: one for every call in flight (FAILOVER_CONCURRENCY is at most 100); the
#: SDK's default pool of 10 would open and drop a connection per call beyond it.
_POOL_SIZE = 100


class Budget:
    """The invocation's time: the function timeout less a safety margin."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.deadline = clock() + max(seconds, 0.0)

    def remaining(self) -> float:
        return max(self.deadline - self._clock(), 0.0)

    def remaining_ms(self) -> int:
        """Whole milliseconds left (a call's timeout is counted in them): 0 means no call fits."""
        return int(self.remaining() * 1000)


def call_rpc(
    client: Any,
    operation: Any,
    action: str,
    query: Mapping[str, str],
    budget: Budget,
    pacer: Pacer | None = None,
) -> dict[str, Any]:
    """The response body of ``client.call_api(operation, query)`` (an SDK client of darabonba's generic
    call), or :class:`EbsError`; :class:`OutOfTime` when the budget leaves no turn or no time for it."""
    from alibabacloud_tea_openapi.utils_models import OpenApiRequest
    from darabonba.runtime import RuntimeOptions

    if pacer is not None and not pacer.wait(action, budget.deadline):
        raise OutOfTime("no turn within the time budget (FAILOVER_CALLS_PER_SECOND)", action=action)
    remaining_ms = budget.remaining_ms()
    if remaining_ms <= 0:
        raise OutOfTime("no time left in the invocation", action=action)
    timeout_ms = min(remaining_ms, _MAX_READ_TIMEOUT_MS)
    runtime = RuntimeOptions(
        read_timeout=timeout_ms,
        connect_timeout=min(_CONNECT_TIMEOUT_MS, timeout_ms),
        max_idle_conns=_POOL_SIZE,
    )
    request = OpenApiRequest(query=dict(query))
    # Given up at the deadline (the thread ends when the socket does; a Failover it completes is idempotent).
    call = _Call(lambda: client.call_api(operation, request, runtime))
    try:
        response = call.result(timeout_ms / 1000)
    except TimeoutError:
        raise EbsError(
            "RequestTimeout", None, "no whole answer within the time budget", None, action=action
        ) from None
    except Exception as error:  # the SDK raises many classes; reduce them to one
        raise _classify(error, action) from None
    body = response.get("body") if isinstance(response, dict) else None
    return body if isinstance(body, dict) else {}


class _Call(threading.Thread):
    """One SDK call on a daemon thread, so that waiting for it can end at a deadline."""

    def __init__(self, function: Callable[[], Any]) -> None:
        super().__init__(daemon=True, name="ebs-call")
        self._function = function
        self._outcome: tuple[bool, Any] | None = None
        self.start()

    def run(self) -> None:
        try:
            self._outcome = (True, self._function())
        except BaseException as error:  # handed to the waiting thread, raised there
            self._outcome = (False, error)

    def result(self, timeout: float) -> Any:
        self.join(timeout)
        if self._outcome is None:
            raise TimeoutError
        ok, value = self._outcome
        if not ok:
            raise value
        return value


def _classify(error: Exception, action: str) -> EbsError:
    code = getattr(error, "code", None)
    status = getattr(error, "status_code", None)
    request_id = getattr(error, "request_id", None)
    if code in (None, "None") or not isinstance(status, int):
        return EbsError("NetworkError", None, type(error).__name__, None, action=action)
    data = getattr(error, "data", None) or {}
    message = str(data.get("Message", "")) if isinstance(data, Mapping) else ""
    retry_after_ms = getattr(error, "retry_after", None)  # ThrottlingException only
    retry_after = retry_after_ms / 1000 if isinstance(retry_after_ms, int) and retry_after_ms > 0 else None
    request = str(request_id) if request_id else None
    return EbsError(str(code), status, message, request, retry_after, action=action)
