"""The EBS wire protocol, as ``alibabacloud-ebs20210730`` speaks it.

A request is ``POST /?<parameters>`` to ``ebs.<region>.aliyuncs.com`` with the
action in ``x-acs-action``, the version in ``x-acs-version`` and an
ACS3-HMAC-SHA256 ``Authorization``; the answer is always JSON: the operation's
body on success, ``{RequestId, HostId, Code, Message, Recommend}`` on error.

:func:`dispatch` turns a :class:`WireRequest` into an :class:`Answer` and
nothing else: mountings (``responses``, the HTTP server) carry bytes to and
from it, and realise a stalled or dropped answer their own way.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from ebs_failover.testing._core.auth import CredentialStore, verify_acs3
from ebs_failover.testing._core.errors import (
    ApiError,
    GatewayError,
    InjectedError,
    InvalidApiNotFound,
    InvalidParameter,
    InvalidVersion,
    MissingParameter,
    Throttling,
)
from ebs_failover.testing._core.faults import Fault, FaultPlan, Quota
from ebs_failover.testing.ebs.documented import check_answer
from ebs_failover.testing.ebs.models import EbsBackend

__all__ = ["ACTIONS", "API_VERSION", "Answer", "WireRequest", "WireResponse", "dispatch"]

API_VERSION = "2021-07-30"
_REGION = re.compile(r"^[a-z]{2,}(-[a-z0-9]+){1,3}$")
_RESOURCE_ID = re.compile(r"^[A-Za-z0-9*._-]{1,64}$")


@dataclass(frozen=True)
class WireRequest:
    """One HTTP request; header names lower-case."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""

    @classmethod
    def build(cls, method: str, url: str, headers: Mapping[str, str | bytes], body: object) -> WireRequest:
        """From a client's request: header values may be bytes, the body bytes, str or absent."""
        raw = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else b""
        names = {k.lower(): v.decode("latin-1") if isinstance(v, bytes) else v for k, v in headers.items()}
        return cls(method.upper(), url, names, raw)

    @property
    def host(self) -> str:
        return self.headers.get("host") or urlsplit(self.url).netloc

    @property
    def action(self) -> str:
        return self.headers.get("x-acs-action", "")


@dataclass(frozen=True)
class WireResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Answer:
    """What to send back: a response, a transport fault, or both.

    With a stall or drop ``fault`` the response, if any (the operation ran
    before the answer was lost), never reaches the client.
    """

    response: WireResponse | None
    fault: Fault | None = None


class Params:
    """Typed reads of a request's query parameters, raising the gateway's errors."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)

    def required(self, name: str) -> str:
        value = self.values.get(name)
        if value is None or value == "":
            raise MissingParameter(name)
        return value

    def optional(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def region(self) -> str:
        region = self.required("RegionId")
        if not _REGION.match(region):
            raise InvalidParameter("RegionId", f"{region!r} is not a region id such as cn-hangzhou")
        return region

    def resource_id(self, name: str) -> str:
        value = self.required(name)
        if not _RESOURCE_ID.match(value):
            raise InvalidParameter(name, f"{value!r} is not a resource id")
        return value

    def integer(self, name: str, low: int, high: int) -> int | None:
        raw = self.values.get(name)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            raise InvalidParameter(name, f"expected an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise InvalidParameter(name, f"expected {low} to {high}, got {value}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.values.get(name)
        if raw is None:
            return default
        if raw.lower() not in ("true", "false"):
            raise InvalidParameter(name, f"expected true or false, got {raw!r}")
        return raw.lower() == "true"

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.values.get(name, default)
        if value not in allowed:
            raise InvalidParameter(name, f"expected one of {', '.join(allowed)}, got {value!r}")
        return value

    def id_list(self, name: str, limit: int = 100) -> list[str] | None:
        raw = self.values.get(name)
        if raw is None or raw == "":
            return None
        ids = [item.strip() for item in raw.split(",") if item.strip()]
        if len(ids) > limit:
            raise InvalidParameter(name, f"at most {limit} ids")
        return ids

    def tags(self) -> list[dict[str, str]]:
        tags: list[dict[str, str]] = []
        for n in range(1, 21):
            key = self.values.get(f"Tag.{n}.Key")
            if key is None:
                break
            tags.append({"TagKey": key, "TagValue": self.values.get(f"Tag.{n}.Value", "")})
        return tags

    def client_token(self) -> str | None:
        token = self.values.get("ClientToken")
        if token is None:
            return None
        if not token or len(token) > 64 or not token.isascii() or not token.isprintable():
            raise InvalidParameter("ClientToken", "expected 1 to 64 printable ASCII characters")
        return token


# -- actions -------------------------------------------------------------------

Handler = Callable[[EbsBackend, Params], dict[str, Any]]


def _create_pair(backend: EbsBackend, p: Params) -> dict[str, Any]:
    pair = backend.create_pair(
        region=p.region(),
        disk_id=p.resource_id("DiskId"),
        source_zone=p.required("SourceZoneId"),
        destination_region=_region_param(p, "DestinationRegionId"),
        destination_zone=p.required("DestinationZoneId"),
        destination_disk_id=p.resource_id("DestinationDiskId"),
        pair_name=p.optional("PairName"),
        description=p.optional("Description"),
        charge_type=p.choice("ChargeType", ("PREPAY", "POSTPAY"), "POSTPAY"),
        period=p.integer("Period", 1, 60),
        period_unit=p.choice("PeriodUnit", ("Month",), "Month"),
        bandwidth=p.integer("Bandwidth", 0, 10_000_000),
        rpo=p.integer("RPO", 0, 86_400),
        resource_group_id=p.optional("ResourceGroupId"),
        tags=p.tags(),
        enable_rtc=p.boolean("EnableRtc", False),
        client_token=p.client_token(),
    )
    order = f"{backend.rng.randrange(10**14, 10**15)}"
    return {"ReplicaPairId": pair.replica_pair_id, "OrderId": order}


def _region_param(p: Params, name: str) -> str:
    region = p.required(name)
    if not _REGION.match(region):
        raise InvalidParameter(name, f"{region!r} is not a region id such as cn-shanghai")
    return region


def _start_pair(backend: EbsBackend, p: Params) -> dict[str, Any]:
    backend.start_pair(
        region=p.region(),
        pair_id=p.resource_id("ReplicaPairId"),
        one_shot=p.boolean("OneShot", False),
        client_token=p.client_token(),
    )
    return {}


def _stop_pair(backend: EbsBackend, p: Params) -> dict[str, Any]:
    backend.stop_pair(
        region=p.region(), pair_id=p.resource_id("ReplicaPairId"), client_token=p.client_token()
    )
    return {}


def _failover_pair(backend: EbsBackend, p: Params) -> dict[str, Any]:
    backend.failover_pair(
        region=p.region(), pair_id=p.resource_id("ReplicaPairId"), client_token=p.client_token()
    )
    return {}


def _reprotect_pair(backend: EbsBackend, p: Params) -> dict[str, Any]:
    backend.reprotect_pair(
        region=p.region(),
        pair_id=p.resource_id("ReplicaPairId"),
        reverse_replicate=p.boolean("ReverseReplicate", True),
        client_token=p.client_token(),
    )
    return {}


def _delete_pair(backend: EbsBackend, p: Params) -> dict[str, Any]:
    backend.delete_pair(
        region=p.region(), pair_id=p.resource_id("ReplicaPairId"), client_token=p.client_token()
    )
    return {}


def _create_group(backend: EbsBackend, p: Params) -> dict[str, Any]:
    group = backend.create_group(
        region=p.region(),
        source_zone=p.required("SourceZoneId"),
        destination_region=_region_param(p, "DestinationRegionId"),
        destination_zone=p.required("DestinationZoneId"),
        group_name=p.optional("GroupName"),
        description=p.optional("Description"),
        rpo=p.integer("RPO", 0, 86_400),
        bandwidth=p.integer("Bandwidth", 0, 10_000_000),
        resource_group_id=p.optional("ResourceGroupId"),
        tags=p.tags(),
        enable_rtc=p.boolean("EnableRtc", False),
        client_token=p.client_token(),
    )
    return {"ReplicaGroupId": group.replica_group_id}


def _add_pair(backend: EbsBackend, p: Params) -> dict[str, Any]:
    backend.add_pair_to_group(
        region=p.region(),
        group_id=p.resource_id("ReplicaGroupId"),
        pair_id=p.resource_id("ReplicaPairId"),
        client_token=p.client_token(),
    )
    return {}


def _start_group(backend: EbsBackend, p: Params) -> dict[str, Any]:
    backend.start_group(
        region=p.region(),
        group_id=p.resource_id("ReplicaGroupId"),
        one_shot=p.boolean("OneShot", False),
        client_token=p.client_token(),
    )
    return {}


def _stop_group(backend: EbsBackend, p: Params) -> dict[str, Any]:
    backend.stop_group(
        region=p.region(), group_id=p.resource_id("ReplicaGroupId"), client_token=p.client_token()
    )
    return {}


def _failover_group(backend: EbsBackend, p: Params) -> dict[str, Any]:
    backend.failover_group(
        region=p.region(), group_id=p.resource_id("ReplicaGroupId"), client_token=p.client_token()
    )
    return {}


def _describe_pairs(backend: EbsBackend, p: Params) -> dict[str, Any]:
    region = p.region()
    page = _Page.from_params(p)
    found = backend.describe_pairs(
        region=region,
        site=p.choice("Site", ("production", "backup"), "production"),
        pair_ids=p.id_list("PairIds"),
        replica_group_id=p.values.get("ReplicaGroupId") or None,
        name=p.optional("Name") or None,
        resource_group_id=p.optional("ResourceGroupId") or None,
        tags=p.tags() or None,
    )
    return page.render(found, "ReplicaPairs")


def _describe_groups(backend: EbsBackend, p: Params) -> dict[str, Any]:
    region = p.region()
    page = _Page.from_params(p)
    found = backend.describe_groups(
        region=region,
        site=p.choice("Site", ("production", "backup"), "production"),
        group_ids=p.id_list("GroupIds"),
        name=p.optional("Name") or None,
        resource_group_id=p.optional("ResourceGroupId") or None,
        tags=p.tags() or None,
    )
    return page.render(found, "ReplicaGroups")


def _start_pair_drill(backend: EbsBackend, p: Params) -> dict[str, Any]:
    drill = backend.start_pair_drill(
        region=p.region(), pair_id=p.resource_id("PairId"), client_token=p.client_token()
    )
    return {"DrillId": drill.drill_id}


def _start_group_drill(backend: EbsBackend, p: Params) -> dict[str, Any]:
    drill = backend.start_group_drill(
        region=p.region(), group_id=p.resource_id("GroupId"), client_token=p.client_token()
    )
    return {"DrillId": drill.drill_id}


def _clear_pair_drill(backend: EbsBackend, p: Params) -> dict[str, Any]:
    backend.clear_pair_drill(
        region=p.region(), pair_id=p.resource_id("PairId"), drill_id=p.resource_id("DrillId")
    )
    return {}


def _clear_group_drill(backend: EbsBackend, p: Params) -> dict[str, Any]:
    backend.clear_group_drill(
        region=p.region(), group_id=p.resource_id("GroupId"), drill_id=p.resource_id("DrillId")
    )
    return {}


def _describe_pair_drills(backend: EbsBackend, p: Params) -> dict[str, Any]:
    region = p.region()
    page = _Page.from_params(p)
    found = backend.describe_pair_drills(
        region=region, pair_id=p.resource_id("PairId"), drill_id=p.optional("DrillId") or None
    )
    return page.render(found, "Drills")


def _describe_group_drills(backend: EbsBackend, p: Params) -> dict[str, Any]:
    region = p.region()
    page = _Page.from_params(p)
    found = backend.describe_group_drills(
        region=region, group_id=p.resource_id("GroupId"), drill_id=p.optional("DrillId") or None
    )
    return page.render(found, "Drills")


@dataclass(frozen=True)
class _Page:
    """MaxResults/NextToken paging, or PageNumber/PageSize paging when only those are given."""

    offset: int
    size: int
    by_token: bool

    @classmethod
    def from_params(cls, p: Params) -> _Page:
        max_results = p.integer("MaxResults", 1, 500)
        token = p.values.get("NextToken")
        page_number = p.integer("PageNumber", 1, 1_000_000)
        page_size = p.integer("PageSize", 1, 100)
        if token or max_results is not None or (page_number is None and page_size is None):
            return cls(_decode_token(token) if token else 0, max_results or 10, True)
        size = page_size or 10
        return cls(((page_number or 1) - 1) * size, size, False)

    def render(self, items: list[dict[str, Any]], key: str) -> dict[str, Any]:
        chunk = items[self.offset : self.offset + self.size]
        body: dict[str, Any] = {key: chunk, "TotalCount": len(items)}
        if self.by_token:
            more = self.offset + self.size < len(items)
            body["NextToken"] = _encode_token(self.offset + self.size) if more else ""
        else:
            body["PageNumber"] = self.offset // self.size + 1
            body["PageSize"] = self.size
        return body


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        tag, _, number = text.partition(":")
        if tag != "offset":
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameter("NextToken", "not a token this API returned") from None


ACTIONS: dict[str, Handler] = {
    "CreateDiskReplicaPair": _create_pair,
    "StartDiskReplicaPair": _start_pair,
    "StopDiskReplicaPair": _stop_pair,
    "FailoverDiskReplicaPair": _failover_pair,
    "ReprotectDiskReplicaPair": _reprotect_pair,
    "DeleteDiskReplicaPair": _delete_pair,
    "DescribeDiskReplicaPairs": _describe_pairs,
    "CreateDiskReplicaGroup": _create_group,
    "AddDiskReplicaPair": _add_pair,
    "StartDiskReplicaGroup": _start_group,
    "StopDiskReplicaGroup": _stop_group,
    "FailoverDiskReplicaGroup": _failover_group,
    "DescribeDiskReplicaGroups": _describe_groups,
    "StartPairDrill": _start_pair_drill,
    "StartReplicaGroupDrill": _start_group_drill,
    "ClearPairDrill": _clear_pair_drill,
    "ClearReplicaGroupDrill": _clear_group_drill,
    "DescribePairDrills": _describe_pair_drills,
    "DescribeReplicaGroupDrills": _describe_group_drills,
}

#: Read-only actions: they never take a ClientToken and are not made idempotent.
_READS = frozenset(
    {
        "DescribeDiskReplicaPairs",
        "DescribeDiskReplicaGroups",
        "DescribePairDrills",
        "DescribeReplicaGroupDrills",
    }
)


# -- dispatch ------------------------------------------------------------------


class Service(Protocol):
    """What :func:`dispatch` reads of the service it answers for (``FakeEbs``): the protocol layer knows
    the state, never the mountings above it."""

    clock: Callable[[], float]
    credentials: CredentialStore
    faults: FaultPlan
    quotas: Quota

    def backend(self, account_id: str) -> EbsBackend: ...

    def new_request_id(self) -> str: ...


@dataclass
class Exchange:
    """What the fake learnt of one call, for the recorder."""

    action: str
    params: dict[str, str]
    access_key_id: str | None = None
    account_id: str | None = None
    replayed: bool = False
    throttled: bool = False


def dispatch(fake: Service, request: WireRequest) -> tuple[Answer, Exchange]:
    """Answer one request the way EBS and its gateway would."""
    params = dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
    exchange = Exchange(request.action, params)
    request_id = fake.new_request_id()
    fault: Fault | None = None
    try:
        if urlsplit(request.url).path not in ("", "/"):
            raise InvalidApiNotFound()
        credential = verify_acs3(
            request.method, request.url, request.headers, request.body, fake.credentials, fake.clock
        )
        exchange.access_key_id = credential.access_key_id
        exchange.account_id = credential.account_id
        if request.headers.get("x-acs-version") != API_VERSION:
            raise InvalidVersion()
        handler = ACTIONS.get(request.action)
        if handler is None:
            raise InvalidApiNotFound()
        _throttle(fake, exchange, credential.account_id)
        fault = fake.faults.take(request.action, params)
        if fault is not None and fault.kind == "error":
            raise InjectedError(fault.status, fault.code, fault.message, fault.retry_after)
        if fault is not None and fault.when == "before":
            return Answer(None, fault), exchange
        backend = fake.backend(credential.account_id)
        if request.action in _READS:
            body = handler(backend, Params(params))
        else:
            body, exchange.replayed = backend.idempotent(
                request.action, params, lambda: {**handler(backend, Params(params)), "RequestId": request_id}
            )
        body.setdefault("RequestId", request_id)
        return Answer(_json(200, body, body["RequestId"]), fault), exchange
    except ApiError as error:
        if not isinstance(error, (GatewayError, InjectedError)):
            check_answer(request.action, error.status, error.code)
        response = _error(fake, request, request_id, error)
        if error.retry_after is not None:
            response.headers["x-acs-retry-after"] = str(error.retry_after)
        return Answer(response), exchange


def _throttle(fake: Service, exchange: Exchange, account_id: str) -> None:
    """The gateway's flow control, before the service sees the call: a throttled call has no effect,
    strikes no fault and uses no ClientToken up."""
    now = fake.clock()
    region = exchange.params.get("RegionId", "")
    if fake.quotas.admit(account_id, exchange.action, region, now):
        return
    exchange.throttled = True
    raise Throttling(Quota.retry_after_ms(now) if fake.quotas.send_retry_after else None)


def _json(status: int, body: dict[str, Any], request_id: str) -> WireResponse:
    return WireResponse(
        status,
        {"Content-Type": "application/json;charset=utf-8", "x-acs-request-id": request_id},
        json.dumps(body, separators=(",", ":")).encode(),
    )


def _error(fake: Service, request: WireRequest, request_id: str, error: ApiError) -> WireResponse:
    body = {
        "RequestId": request_id,
        "HostId": request.host,
        "Code": error.code,
        "Message": error.message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={error.code}&product=Ebs&requestId={request_id}",
    }
    return _json(error.status, body, request_id)
