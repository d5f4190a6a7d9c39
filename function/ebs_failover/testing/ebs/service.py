"""The fake EBS service: backends per account, credentials, faults, the call log.

:class:`FakeEbs` is what every mounting shares: the ``responses`` mock and the
HTTP server both hand it requests through :meth:`FakeEbs.handle`, so a test
can drive the fake in-process and a CLI user through a socket, with the same
behaviour.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ebs_failover.testing._core.auth import DEFAULT_ACCOUNT_ID, Credential, CredentialStore
from ebs_failover.testing._core.errors import ApiError
from ebs_failover.testing._core.faults import FaultPlan, Quota
from ebs_failover.testing.ebs.models import (
    Drills,
    EbsBackend,
    Operation,
    ReplicaGroup,
    ReplicaPair,
    Transitions,
)
from ebs_failover.testing.ebs.responses import Answer, WireRequest, dispatch

__all__ = ["DEFAULT_CREDENTIAL", "FakeEbs", "RecordedCall"]

#: moto's convention: ``testing`` / ``testing`` work unless a test says otherwise.
DEFAULT_CREDENTIAL = Credential("testing", "testing", DEFAULT_ACCOUNT_ID)

_REDACTED_HEADERS = frozenset({"authorization", "x-acs-security-token"})


@dataclass(frozen=True)
class RecordedCall:
    """One request the fake answered (or failed to answer), for assertions."""

    action: str
    params: dict[str, str]
    status: int | None
    code: str | None
    request_id: str | None
    access_key_id: str | None
    account_id: str | None
    replayed: bool
    fault: str | None
    host: str
    headers: dict[str, str] = field(repr=False)
    at: float = 0.0
    #: Refused by the :class:`Quota` (``Throttling.User``): it had no effect.
    throttled: bool = False

    @property
    def region_id(self) -> str | None:
        return self.params.get("RegionId")

    @property
    def client_token(self) -> str | None:
        return self.params.get("ClientToken")


class FakeEbs:
    """A stateful EBS async-replication service.

    ``seed`` makes generated ids repeatable; ``clock`` is the service's time
    (signature freshness, CreateTime, LastRecoverPoint, the quota's windows);
    ``latency`` is how long each answer takes, in seconds, as a network round
    trip to EBS would (0: at once), under every mounting. ``quota`` limits every
    action to that many calls per second per (account, action, region), beyond
    which the answer is 400 ``Throttling.User`` (see :class:`Quota`; per-action
    limits with :meth:`set_quota`); ``throttle_retry_after`` adds the
    ``x-acs-retry-after`` header to it. The constructor's quota and header
    survive :meth:`reset`, as ``latency`` does.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
        repeat_failover: Literal["accept", "deny"] = "accept",
        latency: float = 0.0,
        quota: int | None = None,
        throttle_retry_after: bool = False,
        joined_pair_ids: bool = False,
    ) -> None:
        self.clock = clock
        #: Describe…Groups lists a group's pairs as the API metadata's own example does: one comma-joined
        #: string in the list (``["pair-a,pair-b"]``), not one id per element.
        self.joined_pair_ids = joined_pair_ids
        self.latency = latency
        self.quotas = Quota()
        self._quota = quota
        self._throttle_retry_after = throttle_retry_after
        #: The most calls :meth:`handle` held at once since the last reset (concurrency, as the fake saw it).
        self.max_in_flight = 0
        self._in_flight = 0
        self.repeat_failover: Literal["accept", "deny"] = repeat_failover
        self._seed = seed
        self.credentials = CredentialStore()
        self.faults = FaultPlan()
        self.transitions = Transitions()
        self.calls: list[RecordedCall] = []
        self._backends: dict[str, EbsBackend] = {}
        self._lock = threading.RLock()
        #: Drills of every account: injected failures (``fail_next``), views, ``advance`` (see ``_drills``).
        self.drills = Drills(self._backend_list)
        self.reset()

    # -- state ---------------------------------------------------------------

    def reset(self) -> None:
        """Forget every pair, group, token, fault, transition rule and call; keep only ``testing``."""
        with self._lock:
            self._rng = random.Random(self._seed)
            self._backends.clear()
            self.credentials.clear()
            self.credentials.register(DEFAULT_CREDENTIAL)
            self.faults.clear()
            self.transitions.reset()
            self.drills.reset()
            self.calls.clear()
            self.quotas.clear()
            self.quotas.set(self._quota)
            self.quotas.send_retry_after = self._throttle_retry_after
            self.max_in_flight = self._in_flight

    def backend(self, account_id: str = DEFAULT_ACCOUNT_ID) -> EbsBackend:
        """The account's backend, created on first use (moto's ``BackendDict``)."""
        with self._lock:
            if account_id not in self._backends:
                self._backends[account_id] = EbsBackend(
                    account_id,
                    transitions=self.transitions,
                    clock=self.clock,
                    rng=self._rng,
                    repeat_failover=self.repeat_failover,
                    drills=self.drills,
                    joined_pair_ids=self.joined_pair_ids,
                )
            return self._backends[account_id]

    def _backend_list(self) -> list[EbsBackend]:
        with self._lock:
            return list(self._backends.values())

    def accounts(self) -> list[str]:
        """The accounts that have a backend."""
        with self._lock:
            return list(self._backends)

    def register_credential(
        self,
        access_key_id: str,
        access_key_secret: str,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        security_token: str | None = None,
        expires_at: float | None = None,
    ) -> Credential:
        """Accept one more AccessKey (with ``security_token``: STS credentials)."""
        return self.credentials.register(
            Credential(access_key_id, access_key_secret, account_id, security_token, expires_at)
        )

    def pair(self, pair_id: str, account_id: str = DEFAULT_ACCOUNT_ID) -> ReplicaPair:
        """A pair's current state (read-only use, please: change it through the API)."""
        return self.backend(account_id).pairs[pair_id]

    def group(self, group_id: str, account_id: str = DEFAULT_ACCOUNT_ID) -> ReplicaGroup:
        """A group's current state (read-only use, please: change it through the API)."""
        return self.backend(account_id).groups[group_id]

    def set_quota(self, calls_per_second: int | None, action: str | None = None) -> None:
        """At most ``calls_per_second`` calls of ``action`` (None: of every action without a limit of its
        own) per (account, region) and calendar second; None lifts the limit, 0 throttles every call."""
        self.quotas.set(calls_per_second, action)

    @property
    def throttled(self) -> list[RecordedCall]:
        """The calls the quota refused (400 ``Throttling.User``, no effect)."""
        with self._lock:
            return [call for call in self.calls if call.throttled]

    @property
    def in_flight(self) -> int:
        """How many calls :meth:`handle` holds now."""
        with self._lock:
            return self._in_flight

    @property
    def operations(self) -> list[Operation]:
        """Every accepted state-changing operation, all accounts, in order."""
        with self._lock:
            return sorted(
                (op for backend in self._backends.values() for op in backend.operations),
                key=lambda op: op.at,
            )

    def state_changes(self, action: str = "FailoverDiskReplicaPair") -> list[Operation]:
        """The accepted operations of one action: how many times state really changed.

        A group's operation is one entry of its own action (``FailoverDiskReplicaGroup``), the
        pairs it carried in :attr:`Operation.members`; it adds no ``FailoverDiskReplicaPair``.
        """
        return [op for op in self.operations if op.action == action]

    def calls_for(self, action: str) -> list[RecordedCall]:
        with self._lock:
            return [call for call in self.calls if call.action == action]

    # -- protocol ------------------------------------------------------------

    def new_request_id(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4)).upper()

    def handle(self, request: WireRequest, transport: str = "responses") -> Answer:
        """Answer one request (after :attr:`latency`) and record it."""
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.latency > 0:
                time.sleep(
                    self.latency
                )  # outside the lock: concurrent calls wait side by side, as on a network
            return self._answer(request)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, request: WireRequest) -> Answer:
        answer, exchange = dispatch(self, request)
        status = code = request_id = None
        if answer.response is not None:
            body = answer.response.json()
            status, code, request_id = answer.response.status, body.get("Code"), body.get("RequestId")
        call = RecordedCall(
            action=exchange.action,
            params=exchange.params,
            status=None if answer.fault else status,
            code=code,
            request_id=request_id,
            access_key_id=exchange.access_key_id,
            account_id=exchange.account_id,
            replayed=exchange.replayed,
            fault=answer.fault.kind if answer.fault else None,
            host=request.host,
            headers={k: v for k, v in request.headers.items() if k not in _REDACTED_HEADERS},
            at=self.clock(),
            throttled=exchange.throttled,
        )
        with self._lock:
            self.calls.append(call)
        return answer

    # -- seeding -------------------------------------------------------------

    def load_seed(self, seed: str | Path | Mapping[str, Any]) -> list[str]:
        """Register credentials, create pairs, then groups, from a seed (a dict, or a JSON file).

        Each pair and group is created and driven through the same operations the
        API runs (create, add the pairs, start, stop, failover, delete), so a
        seeded resource is one the API could have made; a group's pairs must be
        seeded ``created`` or ``stopped``, as AddDiskReplicaPair requires. The
        seeding's operations are not counted. The whole seed is checked first: an
        unknown key or field, or a missing one, is a ``ValueError`` naming it.
        Returns the pair ids.
        """
        data = json.loads(Path(seed).read_text()) if isinstance(seed, (str, Path)) else seed
        credentials, pairs, groups = _checked_seed(data)
        for cred in credentials:
            self.register_credential(
                cred["access_key_id"],
                cred["access_key_secret"],
                account_id=cred.get("account_id", DEFAULT_ACCOUNT_ID),
                security_token=cred.get("security_token"),
            )
        pair_ids = [self._seeded(f"pairs[{n}]", spec, self._seed_pair) for n, spec in enumerate(pairs)]
        for n, spec in enumerate(groups):
            self._seeded(f"groups[{n}]", spec, self._seed_group)
        return pair_ids

    def _seeded(self, where: str, spec: Mapping[str, Any], seed: Callable[[Mapping[str, Any]], str]) -> str:
        """Run one entry's seeding; an API refusal becomes a ``ValueError`` naming the entry."""
        try:
            return seed(spec)
        except ApiError as error:
            raise ValueError(f"seed {where}: {error.code}: {error.message}") from None

    def _seed_pair(self, spec: Mapping[str, Any]) -> str:
        backend = self.backend(spec.get("AccountId", DEFAULT_ACCOUNT_ID))
        operations_before = len(backend.operations)
        region, standby = spec["RegionId"], spec["DestinationRegionId"]
        pair = backend.create_pair(
            region=region,
            disk_id=spec["DiskId"],
            source_zone=spec["SourceZoneId"],
            destination_region=standby,
            destination_zone=spec["DestinationZoneId"],
            destination_disk_id=spec["DestinationDiskId"],
            pair_name=spec.get("PairName", ""),
            description=spec.get("Description", ""),
            pair_id=spec.get("ReplicaPairId"),
        )
        pair_id = pair.replica_pair_id
        steps: dict[str, list[Callable[[], None]]] = {
            "created": [],
            "normal": [lambda: backend.start_pair(region=region, pair_id=pair_id)],
            "stopped": [
                lambda: backend.start_pair(region=region, pair_id=pair_id),
                lambda: backend.stop_pair(region=region, pair_id=pair_id),
            ],
            "failovered": [
                lambda: backend.start_pair(region=region, pair_id=pair_id),
                lambda: backend.failover_pair(region=standby, pair_id=pair_id),
            ],
            "invalid": [lambda: backend.invalidate(pair_id, spec.get("StatusMessage", "DeviceRemoved"))],
            "deleted": [
                lambda: backend.start_pair(region=region, pair_id=pair_id),
                lambda: backend.stop_pair(region=region, pair_id=pair_id),
                lambda: backend.delete_pair(region=region, pair_id=pair_id),
            ],
        }
        for step in steps[spec.get("Status", "normal")]:
            step()
            backend.advance(pair_id)
        if "LastRecoverPoint" in spec:
            backend.replicate(pair_id, at=spec["LastRecoverPoint"])
        for drill in spec.get("Drills", []):
            backend.seed_drill(pair, drill)
        # Seeding sets the scene; it is not traffic a test should count.
        del backend.operations[operations_before:]
        return pair_id

    def _seed_group(self, spec: Mapping[str, Any]) -> str:
        backend = self.backend(spec.get("AccountId", DEFAULT_ACCOUNT_ID))
        operations_before = len(backend.operations)
        region, standby = spec["RegionId"], spec["DestinationRegionId"]
        group_id = backend.create_group(
            region=region,
            source_zone=spec["SourceZoneId"],
            destination_region=standby,
            destination_zone=spec["DestinationZoneId"],
            group_name=spec.get("GroupName", ""),
            description=spec.get("Description", ""),
            group_id=spec.get("ReplicaGroupId"),
        ).replica_group_id
        for pair_id in spec.get("PairIds", []):
            if pair_id not in backend.pairs:
                raise ValueError(f"seed group {group_id}: PairIds names {pair_id!r}, not a seeded pair")
            backend.add_pair_to_group(region=region, group_id=group_id, pair_id=pair_id)

        def start() -> None:
            backend.start_group(region=region, group_id=group_id)

        steps: dict[str, list[Callable[[], None]]] = {
            "created": [],
            "normal": [start],
            "stopped": [start, lambda: backend.stop_group(region=region, group_id=group_id)],
            "failovered": [start, lambda: backend.failover_group(region=standby, group_id=group_id)],
        }
        for step in steps[spec.get("Status", "normal")]:
            step()
            backend.advance(group_id)
        if "LastRecoverPoint" in spec:
            backend.replicate(group_id, at=spec["LastRecoverPoint"])
        for drill in spec.get("Drills", []):
            backend.seed_drill(backend.groups[group_id], drill)
        del backend.operations[operations_before:]
        return group_id


# -- the seed's shape ----------------------------------------------------------------

_SEED_KEYS = ("credentials", "pairs", "groups")


@dataclass(frozen=True)
class _Shape:
    """The fields one kind of seed entry has: those it must, those it may, and the Status values."""

    required: frozenset[str]
    optional: frozenset[str]
    statuses: tuple[str, ...] = ()


_SHAPES = {
    "credentials": _Shape(
        frozenset({"access_key_id", "access_key_secret"}), frozenset({"account_id", "security_token"})
    ),
    "pairs": _Shape(
        frozenset(
            {
                "RegionId",
                "DiskId",
                "SourceZoneId",
                "DestinationRegionId",
                "DestinationZoneId",
                "DestinationDiskId",
            }
        ),
        frozenset(
            {
                "ReplicaPairId",
                "AccountId",
                "PairName",
                "Description",
                "Status",
                "StatusMessage",
                "LastRecoverPoint",
                "Drills",
            }
        ),
        ("created", "deleted", "failovered", "invalid", "normal", "stopped"),
    ),
    "groups": _Shape(
        frozenset({"RegionId", "SourceZoneId", "DestinationRegionId", "DestinationZoneId"}),
        frozenset(
            {
                "ReplicaGroupId",
                "AccountId",
                "GroupName",
                "Description",
                "PairIds",
                "Status",
                "LastRecoverPoint",
                "Drills",
            }
        ),
        ("created", "failovered", "normal", "stopped"),
    ),
}


def _checked_seed(data: object) -> tuple[list[Mapping[str, Any]], ...]:
    """The seed's credentials, pairs and groups, each entry checked against its :class:`_Shape`."""
    if not isinstance(data, Mapping):
        raise ValueError(f"seed: expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_SEED_KEYS))
    if unknown:
        raise ValueError(f"seed: unknown key {unknown[0]!r} (known: {', '.join(_SEED_KEYS)})")
    found: list[list[Mapping[str, Any]]] = []
    for key in _SEED_KEYS:
        entries = data.get(key, [])
        if not isinstance(entries, list):
            raise ValueError(f"seed: {key!r} must be a list, not {type(entries).__name__}")
        found.append([_checked_entry(f"{key}[{n}]", entry, _SHAPES[key]) for n, entry in enumerate(entries)])
    return tuple(found)


def _checked_entry(where: str, entry: object, shape: _Shape) -> Mapping[str, Any]:
    if not isinstance(entry, Mapping):
        raise ValueError(f"seed {where}: expected an object, got {type(entry).__name__}")
    unknown = sorted(set(entry) - shape.required - shape.optional)
    if unknown:
        known = ", ".join(sorted(shape.required | shape.optional))
        raise ValueError(f"seed {where}: unknown field {unknown[0]!r} (known: {known})")
    missing = sorted(shape.required - set(entry))
    if missing:
        raise ValueError(f"seed {where}: missing field {missing[0]!r}")
    status = entry.get("Status", "normal")
    if shape.statuses and status not in shape.statuses:
        raise ValueError(f"seed Status must be one of {list(shape.statuses)}, not {status!r} ({where})")
    if "LastRecoverPoint" in entry and not _is_number(entry["LastRecoverPoint"]):
        raise ValueError(
            f"seed {where}: LastRecoverPoint must be unix seconds, not {entry['LastRecoverPoint']!r}"
        )
    _check_drills(where, entry.get("Drills", []))
    pair_ids = entry.get("PairIds", [])
    if not isinstance(pair_ids, list) or not all(isinstance(item, str) for item in pair_ids):
        raise ValueError(f"seed {where}: PairIds must be a list of pair ids")
    return entry


_DRILL_FIELDS = frozenset(
    {"DrillId", "StartAt", "RecoverPoint", "Status", "StatusMessage", "DrillDiskStatus"}
)
_SEEDED_DRILL_STATUSES = ("executed", "execute_failed", "clear_failed")


def _check_drills(where: str, drills: object) -> None:
    """A seed entry's ``Drills``: settled drills (history), each ``{StartAt, …}``."""
    if not isinstance(drills, list):
        raise ValueError(f"seed {where}: Drills must be a list of drills")
    for n, drill in enumerate(drills):
        at = f"{where}.Drills[{n}]"
        if not isinstance(drill, Mapping):
            raise ValueError(f"seed {at}: expected an object, got {type(drill).__name__}")
        unknown = sorted(set(drill) - _DRILL_FIELDS)
        if unknown:
            raise ValueError(
                f"seed {at}: unknown field {unknown[0]!r} (known: {', '.join(sorted(_DRILL_FIELDS))})"
            )
        if "StartAt" not in drill:
            raise ValueError(f"seed {at}: missing field 'StartAt'")
        for name in ("StartAt", "RecoverPoint"):
            if name in drill and not _is_number(drill[name]):
                raise ValueError(f"seed {at}: {name} must be unix seconds, not {drill[name]!r}")
        if drill.get("Status", "executed") not in _SEEDED_DRILL_STATUSES:
            raise ValueError(
                f"seed {at}: Status must be one of {list(_SEEDED_DRILL_STATUSES)}, not {drill['Status']!r}"
            )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
