"""Replica pairs: the operations of one pair (Create, Start, Stop, Failover, Reprotect, Delete,
Describe), and what the world does to one (:meth:`PairsMixin.invalidate`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ebs_failover.testing._core.errors import InvalidParameter
from ebs_failover.testing.ebs.exceptions import OperationDenied

from .records import (
    BANDWIDTHS,
    DELETE_FROM,
    FAILOVER_DENIED,
    PREPAY_PERIODS,
    REPROTECT_FROM,
    RPO_SECONDS,
    START_FROM,
    STOP_FROM,
    ReplicaPair,
)
from .state import BackendState, _check_length, _check_sites, _check_zone

__all__ = ["PairsMixin"]


class PairsMixin(BackendState):
    """The pair operations of :class:`~.EbsBackend`."""

    def create_pair(
        self,
        *,
        region: str,
        disk_id: str,
        source_zone: str,
        destination_region: str,
        destination_zone: str,
        destination_disk_id: str,
        pair_name: str = "",
        description: str = "",
        charge_type: str = "POSTPAY",
        period: int | None = None,
        period_unit: str = "Month",
        bandwidth: int | None = None,
        rpo: int | None = None,
        resource_group_id: str = "",
        tags: list[dict[str, str]] | None = None,
        enable_rtc: bool = False,
        client_token: str | None = None,
        pair_id: str | None = None,
    ) -> ReplicaPair:
        """CreateDiskReplicaPair; ``pair_id`` fixes the id (seed files only)."""
        with self.lock:
            if pair_id is not None and pair_id in self.pairs:
                raise ValueError(f"pair {pair_id} exists already")
            _check_zone("SourceZoneId", source_zone, region)
            _check_zone("DestinationZoneId", destination_zone, destination_region)
            _check_sites((region, source_zone), (destination_region, destination_zone))
            if charge_type not in ("PREPAY", "POSTPAY"):
                raise InvalidParameter("ChargeType", "expected PREPAY or POSTPAY")
            if charge_type == "PREPAY" and period is None:
                raise InvalidParameter("Period", "required when ChargeType is PREPAY")
            if period is not None and period not in PREPAY_PERIODS:
                raise InvalidParameter("Period", f"expected one of {sorted(PREPAY_PERIODS)}")
            if bandwidth is not None:
                if charge_type == "POSTPAY":
                    raise InvalidParameter("Bandwidth", "cannot be set when ChargeType is POSTPAY")
                if bandwidth not in BANDWIDTHS:
                    raise InvalidParameter("Bandwidth", f"expected one of {sorted(BANDWIDTHS)}")
            if rpo is not None and rpo != RPO_SECONDS:
                raise InvalidParameter("RPO", f"expected {RPO_SECONDS}")
            _check_length("PairName", pair_name, 2, 128)
            _check_length("Description", description, 2, 256)
            for other in self.pairs.values():
                if other.status == "deleted":
                    continue
                disks = {other.source_disk_id, other.destination_disk_id}
                if disk_id in disks or destination_disk_id in disks:
                    raise OperationDenied(
                        "OperationDenied", f"A disk of {other.replica_pair_id} is already replicated."
                    )
            now = int(self.clock())
            expired = now + 30 * 86400 * period if charge_type == "PREPAY" and period else 0
            pair = ReplicaPair(
                replica_pair_id=pair_id or self._new_id("pair", region),
                source_disk_id=disk_id,
                source_region=region,
                source_zone_id=source_zone,
                destination_disk_id=destination_disk_id,
                destination_region=destination_region,
                destination_zone_id=destination_zone,
                status="created",
                pair_name=pair_name,
                description=description,
                rpo=RPO_SECONDS,
                bandwidth=bandwidth if bandwidth is not None else (10240 if charge_type == "PREPAY" else 0),
                charge_type=charge_type,
                create_time=now,
                expired_time=expired,
                resource_group_id=resource_group_id,
                enable_rtc=enable_rtc,
                tags=list(tags or []),
                primary_region=region,
                primary_zone=source_zone,
                standby_region=destination_region,
                standby_zone=destination_zone,
            )
            self.pairs[pair.replica_pair_id] = pair
            self._begin(pair, "CreateDiskReplicaPair", "creating", client_token)
            return pair

    def start_pair(
        self, *, region: str, pair_id: str, one_shot: bool = False, client_token: str | None = None
    ) -> None:
        with self.lock:
            pair = self._pair(region, pair_id)
            self._require_not_member(pair)
            self._require_status(pair, START_FROM)

            def synced() -> None:
                pair.synced_once = True
                pair.last_recover_point = int(self.clock())

            self._begin(pair, "StartDiskReplicaPair", _start_transient(pair, one_shot), client_token, synced)

    def stop_pair(self, *, region: str, pair_id: str, client_token: str | None = None) -> None:
        with self.lock:
            pair = self._pair(region, pair_id)
            self._require_not_member(pair)
            self._require_status(pair, STOP_FROM)
            self._begin(pair, "StopDiskReplicaPair", "stopping", client_token)

    def failover_pair(self, *, region: str, pair_id: str, client_token: str | None = None) -> None:
        with self.lock:
            pair = self._pair(region, pair_id)
            self._require_standby_region(region, pair.source_region, pair.destination_region)
            self._require_not_member(pair)
            if pair.status in FAILOVER_DENIED:
                self._require_status(pair, ())
            if pair.status == "failovering":
                return
            if pair.status == "failovered":
                if self.repeat_failover == "deny":
                    self._require_status(pair, ())
                return
            self._begin(pair, "FailoverDiskReplicaPair", "failovering", client_token)

    def reprotect_pair(
        self,
        *,
        region: str,
        pair_id: str,
        reverse_replicate: bool = True,
        client_token: str | None = None,
    ) -> None:
        with self.lock:
            pair = self._pair(region, pair_id)
            self._require_standby_region(region, pair.source_region, pair.destination_region)
            self._require_status(pair, REPROTECT_FROM)

            def reprotected() -> None:
                # Which way the pair then replicates is inferred, not documented:
                # reverse replication makes the old secondary the source.
                if reverse_replicate:
                    _swap_direction(pair)
                pair.synced_once = False

            self._begin(pair, "ReprotectDiskReplicaPair", "reprotecting", client_token, reprotected)

    def delete_pair(self, *, region: str, pair_id: str, client_token: str | None = None) -> None:
        with self.lock:
            pair = self._pair(region, pair_id)
            if region != pair.source_region:  # with both sites in one region, that region
                raise OperationDenied("OperationDenied.OperateNotAllowedForStandby")
            self._require_status(pair, DELETE_FROM)

            def deleted() -> None:
                group = self.groups.get(pair.replica_group_id)
                if group is not None and pair_id in group.pair_ids:
                    group.pair_ids.remove(pair_id)
                pair.replica_group_id = pair.replica_group_name = ""

            self._begin(pair, "DeleteDiskReplicaPair", "deleting", client_token, deleted)

    def describe_pairs(
        self,
        *,
        region: str,
        site: str = "production",
        pair_ids: list[str] | None = None,
        replica_group_id: str | None = None,
        name: str | None = None,
        resource_group_id: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> list[dict[str, Any]]:
        """Pairs whose ``site`` is ``region``, filtered; counts as a describe for transitions."""
        with self.lock:
            pairs: Iterable[ReplicaPair] = self.pairs.values()
            if replica_group_id == "-":  # the API's spelling of "in no group"
                pairs = [p for p in pairs if not p.replica_group_id]
            elif replica_group_id is not None:
                pairs = [p for p in pairs if p.replica_group_id == replica_group_id]
            return self._select(pairs, region, site, pair_ids, name, resource_group_id, tags)

    # -- events from the world, not from the API

    def invalidate(self, pair_id: str, reason: str = "DeviceRemoved") -> None:
        """The world broke the pair (disk removed, order expired): status ``invalid``."""
        with self.lock:
            pair = self.pairs[pair_id]
            pair.pending = None
            pair.following = ""
            self._set_status(pair, "invalid")
            pair.status_message = reason


def _start_transient(pair: ReplicaPair, one_shot: bool) -> str:
    """The status a Start puts ``pair`` in: a one-shot sync, its first full copy, or a later cycle."""
    if one_shot:
        return "manual_syncing"
    return "syncing" if pair.synced_once else "initial_syncing"


def _swap_direction(pair: ReplicaPair) -> None:
    pair.source_disk_id, pair.destination_disk_id = pair.destination_disk_id, pair.source_disk_id
    pair.source_region, pair.destination_region = pair.destination_region, pair.source_region
    pair.source_zone_id, pair.destination_zone_id = pair.destination_zone_id, pair.source_zone_id
