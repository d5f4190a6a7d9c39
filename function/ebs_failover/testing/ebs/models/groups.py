"""Replica groups: the operations of a group (Create, AddDiskReplicaPair, Start, Stop, Failover,
Describe), its pairs carried along, and a replication cycle reaching a group's pairs together."""

from __future__ import annotations

from typing import Any

from ebs_failover.testing._core.errors import InvalidParameter
from ebs_failover.testing.ebs.exceptions import OperationDenied

from .pairs import _start_transient
from .records import (
    BANDWIDTHS,
    FAILOVER_DENIED,
    GROUP_FAILOVER_FROM,
    MAX_PAIRS_PER_GROUP,
    RPO_SECONDS,
    START_FROM,
    STOP_FROM,
    ReplicaGroup,
)
from .state import BackendState, _check_length, _check_sites, _check_zone

__all__ = ["GroupsMixin"]


class GroupsMixin(BackendState):
    """The group operations of :class:`~.EbsBackend`."""

    def create_group(
        self,
        *,
        region: str,
        source_zone: str,
        destination_region: str,
        destination_zone: str,
        group_name: str = "",
        description: str = "",
        rpo: int | None = None,
        bandwidth: int | None = None,
        resource_group_id: str = "",
        tags: list[dict[str, str]] | None = None,
        enable_rtc: bool = False,
        client_token: str | None = None,
        group_id: str | None = None,
    ) -> ReplicaGroup:
        """CreateDiskReplicaGroup; ``group_id`` fixes the id (seed files only)."""
        with self.lock:
            if group_id is not None and group_id in self.groups:
                raise ValueError(f"group {group_id} exists already")
            _check_zone("SourceZoneId", source_zone, region)
            _check_zone("DestinationZoneId", destination_zone, destination_region)
            _check_sites((region, source_zone), (destination_region, destination_zone))
            if rpo is not None and rpo != RPO_SECONDS:
                raise InvalidParameter("RPO", f"expected {RPO_SECONDS}")
            if bandwidth is not None and bandwidth not in BANDWIDTHS:
                raise InvalidParameter("Bandwidth", f"expected one of {sorted(BANDWIDTHS)}")
            _check_length("GroupName", group_name, 2, 128)
            _check_length("Description", description, 2, 256)
            group = ReplicaGroup(
                replica_group_id=group_id or self._new_id("pg", region),
                source_region_id=region,
                source_zone_id=source_zone,
                destination_region_id=destination_region,
                destination_zone_id=destination_zone,
                group_name=group_name,
                description=description,
                status="created",
                bandwidth=bandwidth or 0,
                resource_group_id=resource_group_id,
                enable_rtc=enable_rtc,
                tags=list(tags or []),
                primary_region=region,
                primary_zone=source_zone,
                standby_region=destination_region,
                standby_zone=destination_zone,
            )
            self.groups[group.replica_group_id] = group
            return group

    def add_pair_to_group(
        self, *, region: str, group_id: str, pair_id: str, client_token: str | None = None
    ) -> None:
        with self.lock:
            group = self._group(region, group_id)
            pair = self._pair(region, pair_id)
            if pair.replica_group_id == group_id:
                return
            if pair.replica_group_id:
                raise OperationDenied("OperationDenied.PairInAnotherGroup")
            # Documented for the pair; for the group it is the fake's choice, so that a member
            # never joins mid-replication and the group's next operation carries it along.
            self._require_status(pair, START_FROM)
            self._require_status(group, START_FROM)
            if (pair.source_zone_id, pair.destination_zone_id) != (
                group.source_zone_id,
                group.destination_zone_id,
            ):
                raise OperationDenied("OperationDenied.PairGroupAZoneConflict")
            if len(group.pair_ids) >= MAX_PAIRS_PER_GROUP:
                raise OperationDenied("OperationDenied.QuotaExceed")
            group.pair_ids.append(pair_id)
            pair.replica_group_id = group.replica_group_id
            pair.replica_group_name = group.group_name

    def start_group(
        self, *, region: str, group_id: str, one_shot: bool = False, client_token: str | None = None
    ) -> None:
        """StartDiskReplicaGroup: the group and each of its pairs start replicating."""
        with self.lock:
            group = self._group(region, group_id)
            self._require_status(group, START_FROM)
            members = self._members(group, START_FROM)

            def synced() -> None:
                # One recovery point for the group and every member: they replicate at the same moment.
                point = int(self.clock())
                group.last_recover_point = point
                for pair in self._members(group):
                    pair.synced_once = True
                    pair.last_recover_point = point

            self._begin_group(
                group,
                "StartDiskReplicaGroup",
                "manual_syncing" if one_shot else "syncing",  # a group has no initial_syncing (SDK)
                client_token,
                {pair.replica_pair_id: _start_transient(pair, one_shot) for pair in members},
                synced,
            )

    def stop_group(self, *, region: str, group_id: str, client_token: str | None = None) -> None:
        """StopDiskReplicaGroup: the group and its pairs stop replicating, together."""
        with self.lock:
            group = self._group(region, group_id)
            self._require_status(group, STOP_FROM)
            members = self._members(group, STOP_FROM)
            self._begin_group(
                group,
                "StopDiskReplicaGroup",
                "stopping",
                client_token,
                {pair.replica_pair_id: "stopping" for pair in members},
            )

    def failover_group(self, *, region: str, group_id: str, client_token: str | None = None) -> None:
        """FailoverDiskReplicaGroup: the group and its pairs fail over, together.

        A group already ``failovering`` or ``failovered`` is accepted and left as it is.
        """
        with self.lock:
            group = self._group(region, group_id)
            self._require_standby_region(region, group.source_region_id, group.destination_region_id)
            self._require_status(group, GROUP_FAILOVER_FROM)
            if not group.pair_ids:
                raise OperationDenied("OperationDenied.NoPairInGroup")
            if group.status in ("failovering", "failovered"):
                return
            members = self._members(group, denied=FAILOVER_DENIED)
            self._begin_group(
                group,
                "FailoverDiskReplicaGroup",
                "failovering",
                client_token,
                {pair.replica_pair_id: "failovering" for pair in members},
            )

    def describe_groups(
        self,
        *,
        region: str,
        site: str = "production",
        group_ids: list[str] | None = None,
        name: str | None = None,
        resource_group_id: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> list[dict[str, Any]]:
        """Groups whose ``site`` is ``region``, filtered; counts as a describe for transitions."""
        with self.lock:
            shown = self._select(self.groups.values(), region, site, group_ids, name, resource_group_id, tags)
            if self.joined_pair_ids:
                for group in shown:
                    group["PairIds"] = [",".join(group["PairIds"])] if group["PairIds"] else []
            return shown

    def replicate(self, resource_id: str, at: float | None = None) -> None:
        """A replication cycle completed: ``LastRecoverPoint`` moves to ``at`` (default now).

        For a group, the group's and every member's: a group's pairs share one recovery point.
        """
        with self.lock:
            resource = self._any(resource_id)
            point = int(self.clock() if at is None else at)
            resource.last_recover_point = point
            if isinstance(resource, ReplicaGroup):
                for pair in self._members(resource):
                    pair.last_recover_point = point
