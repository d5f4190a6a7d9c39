"""The EBS client for one region: the async-replication calls the act stage makes, through the SDK.

The SDK is imported when the first client is built, so an ignored or rejected event
never pays for it. Each call goes through :func:`._call.call_rpc` (its turn, its
deadline, its error class); retries are the caller's (:func:`.retry.retrying`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

from ebs_failover.errors import UnusableAnswer

from ._call import Budget, call_rpc
from .credentials import Credentials
from .pacing import Pacer

__all__ = ["DESCRIBE_LIMIT", "EbsClient", "client_for"]

#: Ids one Describe may name (``PairIds`` / ``GroupIds``: "up to 100").
DESCRIBE_LIMIT = 100
#: Pages one Describe follows at most (NextToken), a guard against an endpoint that never ends.
_MAX_PAGES = 20


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
                raise UnusableAnswer(f"more than {_MAX_PAGES} pages", action=action)
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
            raise UnusableAnswer("the answer named no DrillId", action=action)
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
        raise UnusableAnswer(f"more than {_MAX_PAGES} pages", action=action)

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
        """The response body of one call of ``action`` (see :func:`._call.call_rpc`)."""
        return call_rpc(self._client, _operation(action), action, query, budget, pacer)


def _drill_names(target_id: str, verb: str) -> tuple[str, str]:
    """The drill action for ``verb`` (Start, Describe, Clear) and the id's parameter, pair or group
    (StartPairDrill / PairId, StartReplicaGroupDrill / GroupId; Describe…Drills in the plural)."""
    group = target_id.startswith("pg-")
    noun = "ReplicaGroupDrill" if group else "PairDrill"
    return f"{verb}{noun}{'s' if verb == 'Describe' else ''}", "GroupId" if group else "PairId"


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
