"""The preflight: every target as EBS shows it, in as few Describes as the API allows.

One ``DescribeDiskReplicaGroups`` for the groups and one ``DescribeDiskReplicaPairs``
for the pairs and the groups' members (per 100 ids), from the standby region as the
``backup`` site; for what is not there, one more look from the ``production`` site,
to explain why (a fail-back made this region the source, or the region or the id is
wrong). A Describe that fails for a reason one id can cause is repeated per id, so
that one bad id costs only its own targets.

Each target's :class:`~.records.Work` comes out with what was seen (``seen``, and the
status, recovery point and data loss noted on its result), or with the Describe's
failure (``failure``), or with its outcome set (not visible, not a backup here).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ebs_failover.cloud import Attempts, Budget, EbsClient, Pacer, Tally, retrying
from ebs_failover.errors import CloudCallError

from .explain import hint_for
from .records import Seen, TargetResult, Work, pair_ids

__all__ = ["Describer", "preflight"]


class Describer:
    """Batched Describes for one invocation: the client, the time budget and the pacing they share."""

    def __init__(self, client: EbsClient, budget: Budget, pacer: Pacer) -> None:
        self.client, self.budget, self.pacer = client, budget, pacer

    def describing(self, tally: Tally, ids: list[str], site: str, groups: bool) -> dict[str, dict[str, Any]]:
        """One batched Describe of ``ids`` (pairs, or ``groups``) with its retries, counted in ``tally``."""
        describe = functools.partial(self.client.describe, groups=groups)
        return retrying(self.budget, tally, describe, ids, site, self.budget, self.pacer)

    def describe(
        self, owners: Mapping[str, list[Work]], site: str, *, groups: bool = False
    ) -> dict[str, dict[str, Any]]:
        """One batched Describe of the ids ``owners`` names, on behalf of their works: its attempts count for
        each. When it fails for a reason one id can cause (an id EBS does not know, a parameter it rejects),
        each id is described alone; a failure is each owner's (``Work.failure``), and its ids are absent
        from the answer."""
        if not owners:
            return {}
        tally = Attempts()
        try:
            return self.describing(tally, list(owners), site, groups)
        except CloudCallError as error:
            if error.transient or len(owners) == 1:
                for works in owners.values():
                    _fail_first(works, error)
                return {}
            found: dict[str, dict[str, Any]] = {}
            for target_id, works in owners.items():
                found.update(self.describe({target_id: works}, site, groups=groups))
            return found
        finally:
            for work in {id(w): w for works in owners.values() for w in works}.values():
                work.result.attempts += tally.attempts


def preflight(describer: Describer, works: list[Work], now: Callable[[], float]) -> None:
    """Describe every target of ``works`` (batched) from the backup site; explain what is not there.
    ``now``: the wall clock, in unix seconds (recovery points are)."""
    groups = {w.target.target_id: [w] for w in works if w.target.is_group}
    raw_groups = describer.describe(groups, "backup", groups=True)
    # The pairs, and the groups' pairs (whose Describe is on the group's behalf), in one Describe.
    pairs: dict[str, list[Work]] = {w.target.target_id: [w] for w in works if not w.target.is_group}
    for group_id, group in raw_groups.items():
        for member in pair_ids(group.get("PairIds")):
            pairs.setdefault(member, []).extend(groups[group_id])
    raw_pairs = describer.describe(pairs, "backup")
    missing: list[Work] = []
    for work in works:
        raw = (raw_groups if work.target.is_group else raw_pairs).get(work.target.target_id)
        if work.failure is not None:
            continue
        if raw is None:
            missing.append(work)
            continue
        work.seen = Seen.of(raw, raw_pairs)
        note(work.result, work.seen, now)
        if work.target.is_group:
            work.result.member_pairs = [member.to_dict() for member in work.seen.members]
    if missing:
        _not_standby(describer, missing, now)


def note(result: TargetResult, seen: Seen, now: Callable[[], float]) -> None:
    """What the result says of the target as seen before any action: status, source disk, recovery point,
    and the data a failover now would lose."""
    result.status_before = seen.status
    if not result.is_group:
        result.source_disk_id = seen.source_disks[0] if seen.source_disks else None
    result.rpo_seconds = seen.rpo
    if seen.last_recover_point is not None:
        result.last_recover_point = seen.last_recover_point
        result.data_loss_seconds = max(int(now()) - seen.last_recover_point, 0)


def _not_standby(describer: Describer, works: list[Work], now: Callable[[], float]) -> None:
    """Targets that are not a backup in this region: a fail-back made this region their source, or the
    region (or the id) is wrong."""
    groups = {w.target.target_id: [w] for w in works if w.target.is_group}
    pairs = {w.target.target_id: [w] for w in works if not w.target.is_group}
    found = {
        **describer.describe(groups, "production", groups=True),
        **describer.describe(pairs, "production"),
    }
    region = describer.client.region
    for work in works:
        result, raw = work.result, found.get(work.target.target_id)
        if work.failure is not None:
            continue
        if raw is None:
            result.outcome, result.error_code = "failed", "NoSuchResource"
            result.hint = (
                f"{work.target.target_id} is not visible in {region}; check FAILOVER_TARGETS and "
                "FAILOVER_REGION"
            )
            continue
        seen = Seen.of(raw, {})
        note(result, seen, now)
        if seen.standby_region == region:
            result.outcome = "refused"
            result.hint = (
                f"the {work.noun} now replicates from {region} toward {seen.destination_region}: a fail-back "
                "reversed it, and the function never fights one"
            )
        else:
            result.outcome, result.error_code = "failed", "OperationDenied.OperateNotAllowedForPrimary"
            result.hint = hint_for("OperationDenied.OperateNotAllowedForPrimary", "FailoverDiskReplicaPair")


def _fail_first(works: Iterable[Work], error: CloudCallError) -> None:
    """``error`` is these works' failure, unless they already have one (or EBS said the id is unknown: a
    target that is not there is described as absent, and the production-site look explains it)."""
    if error.code == "NoSuchResource":
        return
    for work in works:
        if work.failure is None:
            work.failure = error
