"""The act stage's records: what it is told (:class:`Guards`), what it sees (:class:`Seen`), what it
reports (:class:`TargetResult`, :class:`Acted`), and the clock it runs by (:class:`Clock`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ebs_failover.errors import CloudCallError, TransientFailure
from ebs_failover.policy import Target

__all__ = ["SYSTEM_CLOCK", "Acted", "Clock", "Guards", "Member", "Seen", "TargetResult", "Work", "pair_ids"]


@dataclass(frozen=True, slots=True)
class Clock:
    """The clocks the act stage reads and the sleep it waits with, injected so that a test runs the watch
    without waiting: ``wall`` (unix seconds: recovery points are counted in them), ``monotonic`` (the watch's
    deadlines) and ``sleep``."""

    wall: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


SYSTEM_CLOCK = Clock()


@dataclass(frozen=True, slots=True)
class Guards:
    """What the act stage must check for every target, from the settings and the trigger."""

    #: The standby region (``FAILOVER_REGION``): a target must replicate toward it.
    region: str
    #: ``FAILOVER_MODE=live``; otherwise every check is made and the Failover call is not.
    live: bool
    verify_seconds: float
    max_data_loss: float | None
    #: A manual request: an operator may fail over a target whose replication is stopped; an alarm may not.
    by_operator: bool
    #: The standby zone (``FAILOVER_ZONE``), or None: a target must replicate toward it when set, and it
    #: must be set for a target whose two sites share a region.
    zone: str | None = None
    #: Why the trigger is stale, if it is: a target not failed over already is refused for it.
    stale: str | None = None


@dataclass
class TargetResult:
    """What happened to one pair or replica group (``target_id`` is ``pair-…`` or ``pg-…``)."""

    target_id: str
    client_token: str
    outcome: str
    status_before: str | None = None
    status_after: str | None = None
    request_id: str | None = None
    error_code: str | None = None
    hint: str | None = None
    data_loss_seconds: int | None = None
    #: True when ``data_loss_seconds`` is only an upper bound: the target was found failed over, at a time
    #: this delivery does not know, and the recovery point's age has grown since (it stops at failover).
    data_loss_upper_bound: bool | None = None
    rpo_seconds: int | None = None
    last_recover_point: int | None = None
    source_disk_id: str | None = None
    #: A group's pairs as the preflight saw them: ``pair_id``, ``status``, ``source_disk_id``.
    member_pairs: list[dict[str, Any]] | None = None
    #: After an accepted failover (or one found done): whether the target was seen ``failovered``.
    verified: bool | None = None
    #: Seconds from the Failover request to the first look that saw the target ``failovered``.
    failover_seconds: float | None = None
    #: A drill's report (drill id, recovery point restored, time to ``executed``, disks, clean-up, history).
    drill: dict[str, Any] | None = None
    attempts: int = 0
    duration_ms: float = 0.0

    @property
    def is_group(self) -> bool:
        return self.target_id.startswith("pg-")

    def to_dict(self) -> dict[str, Any]:
        """The result's entry: ``pair_id`` (or ``group_id``) first, then every field that is set."""
        entry: dict[str, Any] = {"group_id" if self.is_group else "pair_id": self.target_id}
        entry.update((k, v) for k, v in self.__dict__.items() if v is not None and k != "target_id")
        return entry


@dataclass
class Acted:
    """What the act stage did: a result per target, in the order given."""

    results: list[TargetResult]
    #: Set, in live mode, when a target's calls kept failing transiently until the time budget ran out.
    retry: TransientFailure | None = None


@dataclass(frozen=True, slots=True)
class Member:
    """A replica group's pair as the preflight saw it (``status`` None: not visible from the backup site)."""

    pair_id: str
    status: str | None
    source_disk_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The pair as the result lists it under the group's ``member_pairs``."""
        if self.status is None:
            return {
                "pair_id": self.pair_id,
                "status": None,
                "hint": "not visible to the preflight's Describe",
            }
        return {"pair_id": self.pair_id, "status": self.status, "source_disk_id": self.source_disk_id}


@dataclass(frozen=True, slots=True)
class Seen:
    """A pair or a group as a Describe showed it, read the same way for both (groups name their regions
    ``SourceRegionId`` / ``DestinationRegionId``, pairs ``SourceRegion`` / ``DestinationRegion``)."""

    status: str
    destination_region: str
    standby_region: str
    last_recover_point: int | None
    rpo: int | None
    #: The pair's source disk; for a group, its members' (as far as they were seen).
    source_disks: tuple[str, ...]
    #: A pair's ``ReplicaGroupId``: set when the pair belongs to a replica group.
    group_id: str = ""
    #: A group's pairs, as the same preflight saw them.
    members: tuple[Member, ...] = ()
    #: Where it replicates from and to now (a fail-back reverses them): (region, zone) each.
    source_region: str = ""
    source_zone: str = ""
    destination_zone: str = ""
    #: ``StandbyZone``: the initial destination zone (the SDK's docs), which a fail-back leaves as it was.
    standby_zone: str = ""

    @property
    def one_region(self) -> bool:
        """Both sites are zones of one region: only the zones tell the standby side from the primary."""
        return bool(self.source_region) and self.source_region == self.destination_region

    @property
    def member_ids(self) -> tuple[str, ...]:
        return tuple(member.pair_id for member in self.members)

    @classmethod
    def of(cls, raw: Mapping[str, Any], pairs: Mapping[str, Mapping[str, Any]]) -> Seen:
        """``raw`` as Describe answered it (a pair, or a group whose pairs, when seen, are in ``pairs``)."""
        last, rpo = raw.get("LastRecoverPoint"), raw.get("RPO")
        is_group = "ReplicaGroupId" in raw and "ReplicaPairId" not in raw
        member_ids = pair_ids(raw.get("PairIds")) if is_group else ()
        members = tuple(_member(pair_id, pairs.get(pair_id)) for pair_id in member_ids)
        if is_group:
            disks = tuple(m.source_disk_id for m in members if m.source_disk_id)
        else:
            disks = (str(raw["SourceDiskId"]),) if raw.get("SourceDiskId") else ()
        return cls(
            status=str(raw.get("Status")),
            destination_region=_text(raw.get("DestinationRegionId" if is_group else "DestinationRegion")),
            standby_region=_text(raw.get("StandbyRegion")),
            last_recover_point=last if isinstance(last, int) and last > 0 else None,
            rpo=rpo if isinstance(rpo, int) else None,
            source_disks=disks,
            group_id="" if is_group else str(raw.get("ReplicaGroupId") or ""),
            members=members,
            source_region=_text(raw.get("SourceRegionId" if is_group else "SourceRegion")),
            source_zone=_text(raw.get("SourceZoneId")),
            destination_zone=_text(raw.get("DestinationZoneId")),
            standby_zone=_text(raw.get("StandbyZone")),
        )


def pair_ids(raw: Any) -> tuple[str, ...]:
    """A group's ``PairIds`` as ids, however the answer gives them: one id per element, or (the API
    metadata's own example) comma-joined ids in one element, as text or as bytes (the SDK types the field
    ``List[bytes]``); white space stripped, each id once, in order."""
    elements = [raw] if isinstance(raw, (str, bytes)) else raw if isinstance(raw, list) else []
    found: list[str] = []
    for element in elements:
        text = element.decode("utf-8", "replace") if isinstance(element, bytes) else element
        if isinstance(text, str):
            found.extend(part.strip() for part in text.split(",") if part.strip())
    return tuple(dict.fromkeys(found))


def _text(value: Any) -> str:
    """A region or zone as the answer gives it, stripped (the metadata's example ends one with a newline)."""
    return str(value or "").strip()


def _member(pair_id: str, raw: Mapping[str, Any] | None) -> Member:
    if raw is None:
        return Member(pair_id, None)
    status, disk = raw.get("Status"), raw.get("SourceDiskId")
    return Member(pair_id, None if status is None else str(status), str(disk) if disk else None)


@dataclass(eq=False)
class Work:
    """One target's way through the act stage: what was seen of it, and its result so far."""

    target: Target
    guards: Guards
    result: TargetResult
    #: ``time.perf_counter()`` when the stage began with it (its ``duration_ms`` counts from there).
    started: float
    seen: Seen | None = None
    #: The preflight's Describe failed for it: the error, explained once the preflight's looks are done.
    failure: CloudCallError | None = field(default=None)
    #: Its watch ended before EBS was seen moving it, the budget too short: FC's retry is to look again.
    retry_wanted: bool = False

    @property
    def noun(self) -> str:
        return "group" if self.target.is_group else "pair"

    def finish(self) -> None:
        self.result.duration_ms = round((time.perf_counter() - self.started) * 1000, 1)
