"""The SDK client for one region: its calls, their time limits, the classification of their errors,
and the one retry layer.

The SDK (and tenacity) are imported when the first client is built, so an ignored
or rejected event never pays for them. The SDK's own retries stay off (its
default): transient failures (5xx, ``RequestTimeout``, throttling, network
faults) are retried here with exponential backoff and jitter (and at least the
wait EBS asks for), always with the same ClientToken, within the invocation's
time budget. Every attempt first takes its turn from the invocation's
:class:`~ebs_failover.pacing.Pacer`.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from .credentials import Credentials
from .errors import EbsError
from .pacing import Pacer

__all__ = ["DESCRIBE_LIMIT", "Budget", "EbsClient", "client_for", "retrying"]

T = TypeVar("T")

#: Ids one Describe may name (``PairIds`` / ``GroupIds``: "up to 100").
DESCRIBE_LIMIT = 100
#: Pages one Describe follows at most (NextToken), a guard against an endpoint that never ends.
_MAX_PAGES = 20
_MAX_READ_TIMEOUT_MS = 10_000
_CONNECT_TIMEOUT_MS = 5_000
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
    as ``describe_disk_replica_pairs`` / ``failover_disk_replica_pair`` (and the
    group ones), whose bodies are exactly this call with these ``Params``; what it
    adds is a read timeout per call, so that a hung call ends within the
    invocation's budget. The client is safe to share between threads: each call
    builds its own request, and darabonba's session is thread-safe.
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

    def describe(
        self,
        ids: Sequence[str],
        site: str,
        budget: Budget,
        pacer: Pacer | None = None,
        *,
        groups: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """The pairs (or, with ``groups``, the replica groups) among ``ids`` as seen from this region as
        ``site`` (``backup``/``production``), by id: one call per :data:`DESCRIBE_LIMIT` ids (and page).

        An id that is not there is absent from the answer.
        """
        action, id_list, items, id_field = (
            ("DescribeDiskReplicaGroups", "GroupIds", "ReplicaGroups", "ReplicaGroupId")
            if groups
            else ("DescribeDiskReplicaPairs", "PairIds", "ReplicaPairs", "ReplicaPairId")
        )
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(list(dict.fromkeys(ids)), DESCRIBE_LIMIT):
            wanted = frozenset(chunk)
            query = {
                "RegionId": self.region,
                id_list: ",".join(chunk),
                "Site": site,
                "MaxResults": str(DESCRIBE_LIMIT),
            }
            for _ in range(_MAX_PAGES):
                body = self._call(action, query, budget, pacer)
                for item in body.get(items) or ():
                    if isinstance(item, dict) and item.get(id_field) in wanted:
                        found[str(item[id_field])] = item
                next_token = body.get("NextToken")
                if not isinstance(next_token, str) or not next_token:
                    break
                query = {**query, "NextToken": next_token}
            else:  # never "not there" for an id on a page that was not read
                raise EbsError("TooManyPages", None, f"more than {_MAX_PAGES} pages", None, action=action)
        return found

    def failover(self, target_id: str, token: str, budget: Budget, pacer: Pacer | None = None) -> str:
        """FailoverDiskReplicaPair (``pair-…``) or FailoverDiskReplicaGroup (``pg-…``); the RequestId."""
        action, id_field = (
            ("FailoverDiskReplicaGroup", "ReplicaGroupId")
            if target_id.startswith("pg-")
            else ("FailoverDiskReplicaPair", "ReplicaPairId")
        )
        body = self._call(
            action, {"RegionId": self.region, id_field: target_id, "ClientToken": token}, budget, pacer
        )
        return str(body.get("RequestId") or "")

    # -- drills: a clone of the secondary's latest recovery point on new disks; replication goes on --

    def start_drill(self, target_id: str, token: str, budget: Budget, pacer: Pacer | None = None) -> str:
        """StartPairDrill (``PairId``, not ``ReplicaPairId``) or StartReplicaGroupDrill (``GroupId``) in
        this, the standby, region; the DrillId."""
        action, id_field = _drill_names(target_id, "Start")
        query = {"RegionId": self.region, id_field: target_id, "ClientToken": token}
        body = self._call(action, query, budget, pacer)
        drill_id = body.get("DrillId")
        if not isinstance(drill_id, str) or not drill_id:
            raise EbsError("InvalidResponse", None, "the answer named no DrillId", None, action=action)
        return drill_id

    def describe_drills(
        self, target_id: str, budget: Budget, pacer: Pacer | None = None, *, drill_id: str | None = None
    ) -> list[dict[str, Any]]:
        """DescribePairDrills / DescribeReplicaGroupDrills: the target's drills (``drill_id``: that one
        only), as EBS lists them, every page (a pair's drills, newest or not: the caller sorts)."""
        action, id_field = _drill_names(target_id, "Describe")
        query = {"RegionId": self.region, id_field: target_id, "MaxResults": str(DESCRIBE_LIMIT)}
        if drill_id is not None:
            query["DrillId"] = drill_id
        drills: list[dict[str, Any]] = []
        for _ in range(_MAX_PAGES):
            body = self._call(action, query, budget, pacer)
            drills.extend(item for item in body.get("Drills") or () if isinstance(item, dict))
            next_token = body.get("NextToken")
            if not isinstance(next_token, str) or not next_token:
                return drills
            query = {**query, "NextToken": next_token}
        raise EbsError("TooManyPages", None, f"more than {_MAX_PAGES} pages", None, action=action)

    def clear_drill(self, target_id: str, drill_id: str, budget: Budget, pacer: Pacer | None = None) -> str:
        """ClearPairDrill / ClearReplicaGroupDrill: delete the drill's disks; the RequestId. (No ClientToken:
        clearing a drill twice clears it once; the second is refused or a no-op.)"""
        action, id_field = _drill_names(target_id, "Clear")
        body = self._call(
            action, {"RegionId": self.region, id_field: target_id, "DrillId": drill_id}, budget, pacer
        )
        return str(body.get("RequestId") or "")

    def _call(
        self, action: str, query: dict[str, str], budget: Budget, pacer: Pacer | None = None
    ) -> dict[str, Any]:
        """The response body of one SDK call, or :class:`EbsError`; it waits for its turn first."""
        from alibabacloud_tea_openapi.utils_models import OpenApiRequest
        from darabonba.runtime import RuntimeOptions

        if pacer is not None and not pacer.wait(action, budget.deadline):
            raise EbsError(
                "BudgetExhausted",
                None,
                "no turn within the time budget (FAILOVER_CALLS_PER_SECOND)",
                None,
                action=action,
            )
        remaining_ms = budget.remaining_ms()
        if remaining_ms <= 0:
            raise EbsError("BudgetExhausted", None, "no time left in the invocation", None, action=action)
        timeout_ms = min(remaining_ms, _MAX_READ_TIMEOUT_MS)
        runtime = RuntimeOptions(
            read_timeout=timeout_ms,
            connect_timeout=min(_CONNECT_TIMEOUT_MS, timeout_ms),
            # Keep a connection for every call in flight (FAILOVER_CONCURRENCY is at most 100): the
            # default pool of 10 would open and drop a connection per call beyond it.
            max_idle_conns=_POOL_SIZE,
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


def _drill_names(target_id: str, verb: str) -> tuple[str, str]:
    """The drill action for ``verb`` (Start, Describe, Clear) and the id's parameter, pair or group
    (StartPairDrill / PairId, StartReplicaGroupDrill / GroupId; Describe…Drills in the plural)."""
    group = target_id.startswith("pg-")
    noun = "ReplicaGroupDrill" if group else "PairDrill"
    return f"{verb}{noun}{'s' if verb == 'Describe' else ''}", "GroupId" if group else "PairId"


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
