"""Act: look at a pair, fail it over with its ClientToken, classify what EBS said.

The only module that talks to EBS. The SDK (and tenacity) are imported when
the first client is built, so an ignored or rejected event never pays for
them. There is one retry layer, here: the SDK's own retries stay off (its
default), and transient failures (5xx, ``RequestTimeout``, throttling, network
faults) are retried with exponential backoff and jitter, always with the same
ClientToken, within the invocation's time budget. When the budget runs out on
a transient failure, :class:`TransientFailure` is raised so that FC's async
retry delivers the event again (the same token makes that safe).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from .credentials import Credentials
from .errors import EbsError, TransientFailure
from .policy import Target

__all__ = ["Budget", "EbsClient", "EbsError", "TargetResult", "TransientFailure", "client_for", "fail_over"]

T = TypeVar("T")

#: Statuses in which failing over cannot help: the outcome is ``refused``.
_HOPELESS = frozenset({"invalid", "deleted", "deleting", "delete_failed", "creating", "create_failed"})
_DONE = frozenset({"failovered", "failovering"})
_MAX_READ_TIMEOUT_MS = 10_000
_CONNECT_TIMEOUT_MS = 5_000

#: What to tell the operator about an error code that retrying will not fix.
HINTS: dict[str, tuple[str, str]] = {
    "Forbidden": ("failed", "the function's RAM role lacks ebs:FailoverDiskReplicaPair on this pair"),
    "Forbidden.Action": (
        "failed",
        "grant the function's RAM role ebs:FailoverDiskReplicaPair and ebs:DescribeDiskReplicaPairs",
    ),
    "OperationDenied.OperateNotAllowedForPrimary": (
        "failed",
        "FAILOVER_REGION must be the standby region (the pair's DestinationRegion), not the primary's",
    ),
    "OperationDenied.OperateNotAllowedForStandby": (
        "failed",
        "EBS refused the call on the secondary site; check the pair's regions and FAILOVER_REGION",
    ),
    "OperationDenied": ("refused", "EBS does not allow a failover of this pair now; check it in the console"),
    "NoSuchResource": (
        "failed",
        "the pair does not exist in FAILOVER_REGION; check FAILOVER_TARGETS and the region",
    ),
    "IdempotentParameterMismatch": (
        "failed",
        "the ClientToken was used with other parameters; report this as a bug",
    ),
    "InvalidAccessKeyId.NotFound": ("failed", "the credentials are unknown to Alibaba Cloud"),
    "SignatureDoesNotMatch": ("failed", "the credentials' secret is wrong"),
    "InvalidSecurityToken.Expired": ("failed", "the STS token has expired"),
    "InvalidSecurityToken.MismatchWithAccessKey": (
        "failed",
        "the STS token does not belong to the AccessKey",
    ),
    "InvalidSecurityToken.Malformed": ("failed", "the STS token is missing or malformed"),
    "MissingParameter": ("failed", "a required parameter was not sent; report this as a bug"),
    "InvalidParameter": ("failed", "EBS rejected a parameter; check FAILOVER_TARGETS and FAILOVER_REGION"),
}


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


@dataclass
class TargetResult:
    """What happened to one pair."""

    pair_id: str
    client_token: str
    outcome: str
    status_before: str | None = None
    status_after: str | None = None
    request_id: str | None = None
    error_code: str | None = None
    hint: str | None = None
    data_loss_seconds: int | None = None
    rpo_seconds: int | None = None
    last_recover_point: int | None = None
    attempts: int = 0
    duration_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@functools.lru_cache(maxsize=8)
def client_for(
    region: str, credentials: Credentials | None, *, endpoint: str | None, protocol: str
) -> EbsClient:
    """An SDK client per region, credentials and endpoint, built once and kept across warm invocations.

    A new STS token (FC rotates them) is new credentials, so a new client. (Connections are the SDK's
    own business: darabonba keeps one HTTP session per host for the process.)
    """
    return EbsClient(region, credentials, endpoint=endpoint, protocol=protocol)


class EbsClient:
    """The SDK client for one region, with error classification.

    The calls go through the SDK client's generic ``call_api`` (Alibaba Cloud's
    "generic call"): the same client, endpoint, signing, transport and exceptions
    as ``describe_disk_replica_pairs`` / ``failover_disk_replica_pair``, whose
    bodies are exactly this call with these ``Params``; what it adds is a read
    timeout per call, so that a hung call ends within the invocation's budget.
    """

    def __init__(
        self,
        region: str,
        credentials: Credentials | None,
        *,
        endpoint: str | None = None,
        protocol: str = "https",
    ) -> None:
        from alibabacloud_ebs20210730.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        self.region = region
        options: dict[str, Any] = {"region_id": region, "protocol": protocol}
        if endpoint:
            options["endpoint"] = endpoint
        if credentials is not None:
            options.update(
                access_key_id=credentials.access_key_id,
                access_key_secret=credentials.access_key_secret,
                security_token=credentials.security_token,
            )
        else:
            from alibabacloud_credentials.client import Client as DefaultCredentials

            options["credential"] = DefaultCredentials()
        self._client = Client(Config(**options))

    def describe(self, pair_id: str, site: str, budget: Budget) -> dict[str, Any] | None:
        """The pair as seen from this region as ``site`` (``backup``/``production``), or None."""
        body = self._call(
            "DescribeDiskReplicaPairs", {"RegionId": self.region, "PairIds": pair_id, "Site": site}, budget
        )
        for pair in body.get("ReplicaPairs") or ():
            if isinstance(pair, dict) and pair.get("ReplicaPairId") == pair_id:
                return pair
        return None

    def failover(self, pair_id: str, token: str, budget: Budget) -> str:
        """FailoverDiskReplicaPair; returns the RequestId."""
        body = self._call(
            "FailoverDiskReplicaPair",
            {"RegionId": self.region, "ReplicaPairId": pair_id, "ClientToken": token},
            budget,
        )
        return str(body.get("RequestId") or "")

    def _call(self, action: str, query: dict[str, str], budget: Budget) -> dict[str, Any]:
        """The response body of one SDK call, or :class:`EbsError`."""
        from alibabacloud_tea_openapi.utils_models import OpenApiRequest
        from darabonba.runtime import RuntimeOptions

        remaining_ms = budget.remaining_ms()
        if remaining_ms <= 0:
            raise EbsError("BudgetExhausted", None, "no time left in the invocation", None)
        timeout_ms = min(remaining_ms, _MAX_READ_TIMEOUT_MS)
        runtime = RuntimeOptions(
            read_timeout=timeout_ms, connect_timeout=min(_CONNECT_TIMEOUT_MS, timeout_ms)
        )
        try:
            response = self._client.call_api(_operation(action), OpenApiRequest(query=query), runtime)
        except Exception as error:  # the SDK raises many classes; reduce them to one
            raise _classify(error) from None
        body = response.get("body") if isinstance(response, dict) else None
        return body if isinstance(body, dict) else {}


def _operation(action: str) -> Any:
    """What alibabacloud_ebs20210730's ``<operation>_with_options`` builds for ``action``."""
    from alibabacloud_tea_openapi.utils_models import Params

    return Params(
        action=action,
        version="2021-07-30",
        protocol="HTTPS",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )


def _classify(error: Exception) -> EbsError:
    code = getattr(error, "code", None)
    status = getattr(error, "status_code", None)
    request_id = getattr(error, "request_id", None)
    if code in (None, "None") or not isinstance(status, int):
        return EbsError("NetworkError", None, type(error).__name__, None)
    data = getattr(error, "data", None) or {}
    message = str(data.get("Message", "")) if isinstance(data, Mapping) else ""
    retry_after_ms = getattr(error, "retry_after", None)  # ThrottlingException only
    retry_after = retry_after_ms / 1000 if isinstance(retry_after_ms, int) and retry_after_ms > 0 else None
    return EbsError(str(code), status, message, str(request_id) if request_id else None, retry_after)


class Tally(Protocol):
    """What counts the attempts of a call (a :class:`TargetResult`)."""

    attempts: int


def retrying(
    budget: Budget,
    tally: Tally,
    call: Callable[..., T],
    *args: Any,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call(*args)``, retrying transient :class:`EbsError` with backoff and jitter within ``budget``.

    Every attempt adds one to ``tally.attempts``.
    """
    tally.attempts += 1
    try:
        return call(*args)
    except EbsError as error:
        if not error.transient:
            raise
        return _retry_after(error, budget, tally, functools.partial(call, *args), sleep)


def _retry_after(
    failed: EbsError,
    budget: Budget,
    tally: Tally,
    call: Callable[[], T],
    sleep: Callable[[float], None],
) -> T:
    """Retry ``call`` after its first attempt failed transiently (``failed``), with tenacity."""
    # Only a transient failure pays for tenacity, its import and its machinery.
    from tenacity import (
        RetryCallState,
        Retrying,
        retry_if_exception,
        wait_exponential,
        wait_random,
    )

    def transient(error: BaseException) -> bool:
        return isinstance(error, EbsError) and error.transient

    backoff = wait_exponential(multiplier=0.2, max=5) + wait_random(0, 0.5)

    def wait(state: RetryCallState) -> float:
        """The backoff, or longer when EBS said how long to wait (throttling)."""
        error = state.outcome.exception() if state.outcome is not None else None
        asked = error.retry_after if isinstance(error, EbsError) and error.retry_after else 0.0
        return max(backoff(state), asked)

    def out_of_time(state: RetryCallState) -> bool:
        """Stop when the wait before the next attempt would use the rest of the budget (its clock)."""
        return state.upcoming_sleep >= budget.remaining()

    pending: EbsError | None = failed
    last = failed  # what EBS said last, reported if the budget runs out before the next attempt
    for attempt in Retrying(
        retry=retry_if_exception(transient),
        wait=wait,
        stop=out_of_time,
        reraise=True,
        sleep=sleep,
    ):
        with attempt:
            if pending is not None:  # tenacity's first attempt is the one that already failed
                first, pending = pending, None
                raise first
            if budget.remaining_ms() <= 0:  # the wait overslept the rest of the budget: no attempt fits
                raise last
            tally.attempts += 1
            try:
                return call()
            except EbsError as error:
                last = error
                raise
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


def fail_over(
    client: EbsClient, target: Target, budget: Budget, now: Callable[[], float] = time.time
) -> TargetResult:
    """Describe the pair, then fail it over unless that is done or cannot help."""
    started = time.perf_counter()
    result = TargetResult(target.pair_id, target.client_token, "failed")
    try:
        pair = retrying(budget, result, client.describe, target.pair_id, "backup", budget)
        if pair is None:
            _not_standby(client, target, result, budget)
        else:
            _note_pair(result, pair, now)
            _decide_and_fail_over(client, target, result, pair, budget)
    except EbsError as error:
        if error.transient:
            raise TransientFailure(target.pair_id, error.code, result.attempts) from None
        _explain(result, error)
        if error.code == "OperationDenied.InvalidStatus":
            _look_again(client, target, result, budget)
    result.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return result


def _decide_and_fail_over(
    client: EbsClient, target: Target, result: TargetResult, pair: Mapping[str, Any], budget: Budget
) -> None:
    status = str(pair.get("Status"))
    if status in _DONE:
        result.outcome, result.status_after = "already_failed_over", status
        return
    if status in _HOPELESS or status == "initial_syncing":
        result.outcome = "refused"
        result.hint = (
            "the first full synchronisation has not finished: the secondary holds no recovery point"
            if status == "initial_syncing"
            else f"a pair in status {status} cannot be failed over"
        )
        return
    result.request_id = retrying(budget, result, client.failover, target.pair_id, target.client_token, budget)
    # No describe afterwards: EBS accepted the failover, so the pair is failovering (then
    # failovered); one more round trip would cost every invocation for a status the operator can read.
    result.outcome = "failed_over"


def _not_standby(client: EbsClient, target: Target, result: TargetResult, budget: Budget) -> None:
    """The pair is not a backup in this region: say whether this region is its primary."""
    primary = retrying(budget, result, client.describe, target.pair_id, "production", budget)
    if primary is not None:
        result.outcome, result.error_code = "failed", "OperationDenied.OperateNotAllowedForPrimary"
        result.status_before = str(primary.get("Status"))
        result.hint = HINTS["OperationDenied.OperateNotAllowedForPrimary"][1]
    else:
        result.outcome, result.error_code = "failed", "NoSuchResource"
        result.hint = (
            f"{target.pair_id} is not visible in {client.region}; check FAILOVER_TARGETS and FAILOVER_REGION"
        )


def _look_again(client: EbsClient, target: Target, result: TargetResult, budget: Budget) -> None:
    """After InvalidStatus: report what the pair is now (someone else may have failed it over)."""
    try:
        pair = retrying(budget, result, client.describe, target.pair_id, "backup", budget)
    except EbsError:
        return
    if pair is None:
        return
    result.status_after = str(pair.get("Status"))
    if result.status_after in _DONE:
        result.outcome = "already_failed_over"
    else:
        result.outcome = "refused"
        result.hint = f"EBS refused the failover in status {result.status_after}"


def _explain(result: TargetResult, error: EbsError) -> None:
    outcome, hint = HINTS.get(error.code, ("failed", f"EBS answered {error.code}: {error.message}"))
    if error.code == "OperationDenied.InvalidStatus":
        outcome, hint = "refused", "EBS refused the failover in the pair's current status"
    result.outcome, result.hint, result.error_code = outcome, hint, error.code
    result.request_id = error.request_id or result.request_id


def _note_pair(result: TargetResult, pair: Mapping[str, Any], now: Callable[[], float]) -> None:
    result.status_before = str(pair.get("Status"))
    rpo = pair.get("RPO")
    result.rpo_seconds = int(rpo) if isinstance(rpo, int) else None
    last = pair.get("LastRecoverPoint")
    if isinstance(last, int) and last > 0:
        result.last_recover_point = last
        result.data_loss_seconds = max(int(now()) - last, 0)
