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

from ._auth import DEFAULT_ACCOUNT_ID, Credential, CredentialStore
from ._faults import FaultPlan
from ._models import EbsBackend, Operation, ReplicaPair, Transitions
from ._wire import Answer, WireRequest, dispatch

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

    @property
    def region_id(self) -> str | None:
        return self.params.get("RegionId")

    @property
    def client_token(self) -> str | None:
        return self.params.get("ClientToken")


class FakeEbs:
    """A stateful EBS async-replication service.

    ``seed`` makes generated ids repeatable; ``clock`` is the service's time
    (signature freshness, CreateTime, LastRecoverPoint); ``latency`` is how long
    each answer takes, in seconds, as a network round trip to EBS would (0: at once).
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
        repeat_failover: Literal["accept", "deny"] = "accept",
        latency: float = 0.0,
    ) -> None:
        self.clock = clock
        self.latency = latency
        self.repeat_failover: Literal["accept", "deny"] = repeat_failover
        self._seed = seed
        self.credentials = CredentialStore()
        self.faults = FaultPlan()
        self.transitions = Transitions()
        self.calls: list[RecordedCall] = []
        self._backends: dict[str, EbsBackend] = {}
        self._lock = threading.RLock()
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
            self.calls.clear()

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
                )
            return self._backends[account_id]

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

    @property
    def operations(self) -> list[Operation]:
        """Every accepted state-changing operation, all accounts, in order."""
        with self._lock:
            return sorted(
                (op for backend in self._backends.values() for op in backend.operations),
                key=lambda op: op.at,
            )

    def state_changes(self, action: str = "FailoverDiskReplicaPair") -> list[Operation]:
        """The accepted operations of one action: how many times state really changed."""
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
        if self.latency > 0:
            time.sleep(self.latency)  # outside the lock: concurrent calls wait side by side, as on a network
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
        )
        with self._lock:
            self.calls.append(call)
        return answer

    # -- seeding -------------------------------------------------------------

    def load_seed(self, seed: str | Path | Mapping[str, Any]) -> list[str]:
        """Register credentials and create pairs from a seed (a dict, or a JSON file).

        Each pair is created and driven through the same operations the API
        runs (create, start, stop, failover, delete), so a seeded pair is one
        the API could have made. Returns the pair ids.
        """
        data = json.loads(Path(seed).read_text()) if isinstance(seed, (str, Path)) else seed
        for cred in data.get("credentials", []):
            self.register_credential(
                cred["access_key_id"],
                cred["access_key_secret"],
                account_id=cred.get("account_id", DEFAULT_ACCOUNT_ID),
                security_token=cred.get("security_token"),
            )
        return [self._seed_pair(spec) for spec in data.get("pairs", [])]

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
        status = spec.get("Status", "normal")
        if status not in steps:
            raise ValueError(f"seed Status must be one of {sorted(steps)}, not {status!r}")
        for step in steps[status]:
            step()
            backend.advance(pair_id)
        if "LastRecoverPoint" in spec:
            backend.replicate(pair_id, at=spec["LastRecoverPoint"])
        # Seeding sets the scene; it is not traffic a test should count.
        del backend.operations[operations_before:]
        return pair_id
