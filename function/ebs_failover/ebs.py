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
import threading
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
#: Statuses in which the secondary has never held a full copy: nothing to fail over to.
_NO_DATA = frozenset({"created", "initial_syncing"})
#: Statuses of a fail-back (reprotect) in progress or failed: the operator is bringing the primary back.
_FAILING_BACK = frozenset({"reprotecting", "reprotect_failed"})
#: A verification looks again after these many seconds, the last one repeated.
_VERIFY_WAITS = (0.5, 1.0, 2.0, 4.0)
#: How long an accepted failover may leave the pair as it was before EBS is taken to have replayed an
#: earlier answer for the ClientToken (an accepted failover turns the pair ``failovering`` at once).
_REPLAY_GRACE = 3.0
_MAX_READ_TIMEOUT_MS = 10_000
_CONNECT_TIMEOUT_MS = 5_000

#: What to tell the operator about an error code that retrying will not fix.
HINTS: dict[str, tuple[str, str]] = {
    "Forbidden": ("failed", "the function's RAM role lacks ebs:{action} on this pair"),
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

    def share(self, parts: int) -> Budget:
        """This budget's next ``1/parts``: a target's own deadline, so that one stuck pair leaves the
        others theirs (what a target does not use goes to the ones after it)."""
        return Budget(self.remaining() / max(parts, 1), self._clock)

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
    source_disk_id: str | None = None
    #: After an accepted failover (or one found done): whether the pair was seen ``failovered``.
    verified: bool | None = None
    #: Seconds from the Failover request to the first look that saw the pair ``failovered``.
    failover_seconds: float | None = None
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
            raise EbsError("BudgetExhausted", None, "no time left in the invocation", None, action=action)
        timeout_ms = min(remaining_ms, _MAX_READ_TIMEOUT_MS)
        runtime = RuntimeOptions(
            read_timeout=timeout_ms, connect_timeout=min(_CONNECT_TIMEOUT_MS, timeout_ms)
        )
        # The SDK's timeouts bound each wait for a byte, not the call: an endpoint that trickles its
        # answer would hold the call past them. The call runs in a thread of its own and is given up at
        # the deadline (the thread ends when the socket does; a Failover it completes is idempotent).
        call = _Call(lambda: self._client.call_api(_operation(action), OpenApiRequest(query=query), runtime))
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

    Every attempt made adds one to ``tally.attempts`` (none when the budget leaves no time for one).
    """
    if budget.remaining_ms() <= 0:
        raise EbsError("BudgetExhausted", None, "no time left in the invocation", None)
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


@dataclass(frozen=True, slots=True)
class Guards:
    """What the act stage must check for every target, from the settings and the trigger."""

    #: The standby region (``FAILOVER_REGION``): a pair must replicate toward it.
    region: str
    #: ``FAILOVER_MODE=live``; otherwise every check is made and the Failover call is not.
    live: bool
    verify_seconds: float
    max_data_loss: float | None
    #: A manual request: an operator may fail over a pair whose replication is stopped; an alarm may not.
    by_operator: bool


def fail_over(
    client: EbsClient,
    target: Target,
    budget: Budget,
    guards: Guards,
    *,
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> TargetResult:
    """Describe the pair and check it; then fail it over and watch it settle (live), or say what live
    would do (dry-run)."""
    started = time.perf_counter()
    result = TargetResult(target.pair_id, target.client_token, "failed")
    try:
        pair = retrying(budget, result, client.describe, target.pair_id, "backup", budget)
        if pair is None:
            _not_standby(client, target, result, budget, now)
        else:
            _note_pair(result, pair, now)
            if not _refused(result, pair, target, guards):
                _act_on(client, target, result, pair, budget, guards, sleep)
    except EbsError as error:
        if error.transient and guards.live:
            raise TransientFailure(target.pair_id, error.code, result.attempts) from None
        _explain(result, error)
        if error.code == "OperationDenied.InvalidStatus":
            _look_again(client, target, result, budget)
    result.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return result


def _refused(result: TargetResult, pair: Mapping[str, Any], target: Target, guards: Guards) -> bool:
    """Whether a check stops this target here (its outcome and hint set): wrong signal, no data, a
    fail-back, too much data loss. A pair already failed over passes (nothing more to do)."""
    status = str(pair.get("Status"))
    source_disk = str(pair.get("SourceDiskId") or "")
    destination = str(pair.get("DestinationRegion") or "")
    if target.source_disks and source_disk not in target.source_disks:
        result.outcome = "ignored"
        result.hint = (
            f"the trigger is about {', '.join(target.source_disks)}, and this pair's source (primary) disk "
            f"is {source_disk or 'unknown'}: nothing to fail over for it"
        )
    elif status in _DONE:
        return False
    elif status in _HOPELESS:
        result.outcome, result.hint = "refused", f"a pair in status {status} cannot be failed over"
    elif status in _FAILING_BACK:
        result.outcome = "refused"
        result.hint = f"the pair is {status}: a fail-back is under way, and the function never fights one"
    elif destination and destination != guards.region:
        result.outcome = "refused"
        result.hint = (
            f"the pair replicates toward {destination}, not toward FAILOVER_REGION {guards.region}: "
            "a fail-back reversed it, and the function never fights one"
        )
    elif status in _NO_DATA or not result.last_recover_point:
        result.outcome = "refused"
        result.hint = (
            f"the secondary holds no recovery point (status {status}, LastRecoverPoint "
            f"{pair.get('LastRecoverPoint') or 0}): the first full synchronisation has not finished"
        )
    elif status == "stopped" and not guards.by_operator:
        result.outcome = "refused"
        result.hint = (
            "replication is stopped (a fail-back with ReverseReplicate=false, or maintenance): an alarm "
            "does not fail it over; a manual request can"
        )
    elif (
        guards.max_data_loss is not None
        and not guards.by_operator  # an operator who asks accepts the loss the result reports
        and (result.data_loss_seconds or 0) > guards.max_data_loss
    ):
        result.outcome = "refused"
        result.hint = (
            f"the last recovery point is {result.data_loss_seconds} s old, over FAILOVER_MAX_DATA_LOSS "
            f"{guards.max_data_loss:.0f} s"
        )
    else:
        return False
    return True


def _act_on(
    client: EbsClient,
    target: Target,
    result: TargetResult,
    pair: Mapping[str, Any],
    budget: Budget,
    guards: Guards,
    sleep: Callable[[float], None],
) -> None:
    status = str(pair.get("Status"))
    if status in _DONE:
        result.outcome, result.status_after = "already_failed_over", status
        result.verified = status == "failovered"
        return
    if not guards.live:
        result.outcome = "dry_run"
        result.hint = "every check passed: FAILOVER_MODE=live would call FailoverDiskReplicaPair now"
        return
    requested = time.monotonic()
    result.request_id = retrying(budget, result, client.failover, target.pair_id, target.client_token, budget)
    _verify(client, target, result, requested, budget, guards, sleep)


def _verify(
    client: EbsClient,
    target: Target,
    result: TargetResult,
    requested: float,
    budget: Budget,
    guards: Guards,
    sleep: Callable[[float], None],
) -> None:
    """Watch an accepted failover until the pair settles or the verification window ends: the result says
    what was seen, never more."""
    # A pair that has not moved is watched for the grace at least: only then is it a replayed answer.
    window_end = min(requested + max(guards.verify_seconds, _REPLAY_GRACE + 0.5), budget.deadline)
    settled_by = min(requested + guards.verify_seconds, budget.deadline)
    waits = iter(_VERIFY_WAITS)
    while True:
        try:
            pair = retrying(budget, result, client.describe, target.pair_id, "backup", budget)
        except EbsError as error:  # accepted, and not seen since: say exactly that
            pair, look = None, f"the look that verifies it failed ({error.code})"
        else:
            look = "the pair was not visible to the look that verifies it"
        if pair is None:
            result.outcome, result.verified, result.hint = (
                "failed_over",
                False,
                f"EBS accepted the failover; {look}",
            )
            return
        seen = str(pair.get("Status"))
        elapsed = time.monotonic() - requested
        if seen == "failovered":
            result.outcome, result.verified = "failed_over", True
            result.status_after, result.failover_seconds = seen, round(elapsed, 1)
            return
        if seen == "failover_failed":
            result.outcome, result.status_after = "failed", seen
            result.hint = (
                "EBS accepted the failover and it ended in failover_failed: the secondary is not writable"
            )
            return
        if seen != "failovering" and elapsed >= _REPLAY_GRACE:
            result.outcome, result.status_after, result.hint = "failed", seen, _replayed(seen)
            return
        pause = next(waits, _VERIFY_WAITS[-1])
        if seen != "failovering":  # look again right when the grace has passed, not a wait later
            pause = min(pause, max(_REPLAY_GRACE - elapsed, 0.0) + 0.05)
        end = settled_by if seen == "failovering" else window_end
        if time.monotonic() + pause >= end:
            break
        sleep(pause)
    result.status_after = seen
    if seen == "failovering":
        result.outcome, result.verified = "failed_over", False
        result.hint = (
            "EBS accepted the failover; the pair was still failovering when the watch ended "
            f"(FAILOVER_VERIFY_SECONDS {guards.verify_seconds:g} s, or the pair's share of the time budget)"
        )
    else:  # the budget ended the watch before the grace: not enough seen to call it a replay
        result.outcome, result.verified = "failed_over", False
        result.hint = (
            f"EBS accepted the failover; the pair still showed {seen} when the time ran out (if it never "
            "moves, EBS answered with an earlier result for this ClientToken)"
        )


def _replayed(seen: str) -> str:
    return (
        f"EBS accepted the call but the pair stayed {seen}: it answered with an earlier result for "
        "this ClientToken, so this trigger identity was used before (a reused idempotencyKey, or an "
        "old event replayed after a fail-back); to fail over again, use a new identity"
    )


def _not_standby(
    client: EbsClient, target: Target, result: TargetResult, budget: Budget, now: Callable[[], float]
) -> None:
    """The pair is not a backup in this region: a fail-back made this region its source, or the region is
    wrong."""
    primary = retrying(budget, result, client.describe, target.pair_id, "production", budget)
    if primary is None:
        result.outcome, result.error_code = "failed", "NoSuchResource"
        result.hint = (
            f"{target.pair_id} is not visible in {client.region}; check FAILOVER_TARGETS and FAILOVER_REGION"
        )
        return
    _note_pair(result, primary, now)
    if primary.get("StandbyRegion") == client.region:
        result.outcome = "refused"
        result.hint = (
            f"the pair now replicates from {client.region} toward {primary.get('DestinationRegion')}: a "
            "fail-back reversed it, and the function never fights one"
        )
    else:
        result.outcome, result.error_code = "failed", "OperationDenied.OperateNotAllowedForPrimary"
        result.hint = HINTS["OperationDenied.OperateNotAllowedForPrimary"][1]


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
        result.verified = result.status_after == "failovered"
    else:
        result.outcome = "refused"
        result.hint = f"EBS refused the failover in status {result.status_after}"


def _explain(result: TargetResult, error: EbsError) -> None:
    outcome, hint = HINTS.get(error.code, ("failed", f"EBS answered {error.code}: {error.message}"))
    if error.code == "OperationDenied.InvalidStatus":
        outcome, hint = "refused", "EBS refused the failover in the pair's current status"
    if error.transient:  # dry-run only: live raises for FC to retry
        hint = f"EBS could not be reached ({error.code}): the rehearsal is incomplete"
    if error.code in HINTS:  # the function's own templates; never format text that came from EBS
        hint = hint.format(action=error.action or "DescribeDiskReplicaPairs")
    result.outcome, result.error_code, result.hint = outcome, error.code, hint
    result.request_id = error.request_id or result.request_id


def _note_pair(result: TargetResult, pair: Mapping[str, Any], now: Callable[[], float]) -> None:
    result.status_before = str(pair.get("Status"))
    result.source_disk_id = str(pair.get("SourceDiskId")) if pair.get("SourceDiskId") else None
    rpo = pair.get("RPO")
    result.rpo_seconds = int(rpo) if isinstance(rpo, int) else None
    last = pair.get("LastRecoverPoint")
    if isinstance(last, int) and last > 0:
        result.last_recover_point = last
        result.data_loss_seconds = max(int(now()) - last, 0)
