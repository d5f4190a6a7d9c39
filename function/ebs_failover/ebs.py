"""Act: look at every target, fail over those that pass every check, watch them settle.

The only module that decides what EBS's answers mean. Per invocation, and per
wave of distinct targets (a batch that names one pair twice makes two waves):

1. **Preflight**, batched: one ``DescribeDiskReplicaGroups`` for the groups and
   one ``DescribeDiskReplicaPairs`` for the pairs and the groups' members, each
   per 100 ids, from the standby region as the ``backup`` site (and, for what is
   not there, one more from the ``production`` site, to explain why).
2. **Checks**, per target, pure: the trigger's disk, replica-group membership
   (a pair in a group is never failed over alone), status, fail-back, direction,
   recovery point, replication stopped, data loss.
3. **Failover**, live only: the calls run concurrently, at most
   ``FAILOVER_CONCURRENCY`` at once, paced per API by the invocation's
   :class:`~ebs_failover.pacing.Pacer`; each target keeps its own ClientToken
   and its own retries (see :mod:`ebs_failover.sdk`), so a throttled or hanging
   target holds up no other.
4. **Verification**: polls start as soon as the calls are accepted (when calls
   are still in flight, half a second later, so that one poll covers many),
   one batched Describe per poll for every target still being watched, then
   back off; each target's watch ends when it settles or its window closes.

A target's calls that keep failing transiently until the time budget runs out
make, in live mode, :attr:`Acted.retry` a :class:`TransientFailure`, which the
handler raises (after its result) so that FC's async retry delivers the event
again; the same ClientTokens make that safe.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from . import log
from .errors import EbsError, TransientFailure
from .pacing import Pacer
from .policy import Target
from .sdk import Budget, EbsClient, Tally, client_for, retrying

__all__ = [
    "HINTS",
    "Acted",
    "Budget",
    "EbsClient",
    "EbsError",
    "Guards",
    "Looked",
    "TargetResult",
    "TransientFailure",
    "client_for",
    "fail_over",
    "preflight",
    "unready",
]

#: Statuses in which failing over cannot help: the outcome is ``refused``.
_HOPELESS = frozenset({"invalid", "deleted", "deleting", "delete_failed", "creating", "create_failed"})
_DONE = frozenset({"failovered", "failovering"})
#: Statuses in which the secondary has never held a full copy: nothing to fail over to.
_NO_DATA = frozenset({"created", "initial_syncing"})
#: Statuses of a fail-back (reprotect) in progress or failed: the operator is bringing the primary back.
_FAILING_BACK = frozenset({"reprotecting", "reprotect_failed"})
#: A verification looks again after these many seconds, the last one repeated.
_VERIFY_WAITS = (0.5, 1.0, 2.0, 4.0)
#: Worker threads of one wave at most: a target's thread waits (its turn, a backoff) without a call slot.
_MAX_WORKERS = 100
#: How long an accepted failover may leave the target as it was before EBS is taken to have replayed an
#: earlier answer for the ClientToken (an accepted failover turns it ``failovering`` at once).
_REPLAY_GRACE = 3.0

#: What to tell the operator about an error code that retrying will not fix.
HINTS: dict[str, tuple[str, str]] = {
    "Forbidden": ("failed", "the function's RAM role lacks ebs:{action} on this target"),
    "Forbidden.Action": (
        "failed",
        "grant the function's RAM role ebs:{action} (and the other actions its policy in template.yml lists)",
    ),
    "OperationDenied.OperateNotAllowedForPrimary": (
        "failed",
        "FAILOVER_REGION must be the standby region (the pair's DestinationRegion), not the primary's",
    ),
    "OperationDenied.OperateNotAllowedForStandby": (
        "failed",
        "EBS refused the call on the secondary site; check the pair's regions and FAILOVER_REGION",
    ),
    "OperationDenied": (
        "refused",
        "EBS does not allow a failover of this target now; check it in the console",
    ),
    "OperationDenied.NoPairInGroup": ("refused", "the replica group has no pairs: nothing to fail over"),
    "OperationDenied.PairGroupStatusConflict": (
        "refused",
        "a pair of the group is in a status that forbids the group's failover; check it in the console",
    ),
    "NoSuchResource": (
        "failed",
        "the target does not exist in FAILOVER_REGION; check FAILOVER_TARGETS and the region",
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
class _Seen:
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
    #: A group's pairs.
    member_ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any], members: Mapping[str, Mapping[str, Any]]) -> _Seen:
        """``raw`` as Describe answered it (a pair, or a group whose pairs, when seen, are in ``members``)."""
        last, rpo = raw.get("LastRecoverPoint"), raw.get("RPO")
        is_group = "ReplicaGroupId" in raw and "ReplicaPairId" not in raw
        member_ids = tuple(str(p) for p in raw.get("PairIds") or () if isinstance(p, str)) if is_group else ()
        if is_group:
            disks = tuple(
                str(members[p]["SourceDiskId"]) for p in member_ids if members.get(p, {}).get("SourceDiskId")
            )
        else:
            disks = (str(raw["SourceDiskId"]),) if raw.get("SourceDiskId") else ()
        return cls(
            status=str(raw.get("Status")),
            destination_region=str(raw.get("DestinationRegionId" if is_group else "DestinationRegion") or ""),
            standby_region=str(raw.get("StandbyRegion") or ""),
            last_recover_point=last if isinstance(last, int) and last > 0 else None,
            rpo=rpo if isinstance(rpo, int) else None,
            source_disks=disks,
            group_id="" if is_group else str(raw.get("ReplicaGroupId") or ""),
            member_ids=member_ids,
        )


@dataclass(eq=False)
class _Work:
    """One target's way through a wave: what was seen of it, and its result so far."""

    target: Target
    guards: Guards
    result: TargetResult
    started: float
    seen: _Seen | None = None
    #: The preflight's Describe failed for it: the error, explained once the wave's looks are done.
    failure: EbsError | None = None

    def finish(self) -> None:
        self.result.duration_ms = round((time.perf_counter() - self.started) * 1000, 1)


def fail_over(
    client: EbsClient,
    work: Sequence[tuple[Target, Guards]],
    budget: Budget,
    *,
    concurrency: int,
    calls_per_second: float,
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Acted:
    """Every target of ``work``: checked, then (live) failed over and watched, many at once; dry-run makes
    every call but the Failover. ``now`` is the wall clock (recovery points are unix seconds)."""
    act = _Act(client, budget, Pacer(calls_per_second, concurrency), concurrency, now, sleep)
    results: list[TargetResult | None] = [None] * len(work)
    for wave in _waves(work):
        done = act.wave([work[index] for index in wave])
        for index, result in zip(wave, done, strict=True):
            results[index] = result
    return Acted([result for result in results if result is not None], act.retry)


@dataclass
class Looked:
    """A target as the preflight saw it, for another action than a failover (a drill): its result so far
    (status, recovery point, data loss, a group's pairs; the outcome set when it could not be seen) and
    what was seen (None: not seen; the result says why)."""

    result: TargetResult
    seen: _Seen | None
    started: float


def preflight(
    client: EbsClient,
    targets: Sequence[Target],
    region: str,
    budget: Budget,
    pacer: Pacer,
    *,
    now: Callable[[], float] = time.time,
) -> list[Looked]:
    """The failover's preflight (batched Describes from the backup site, the production site's look for
    what is not there) for ``targets``, without any check or call after it."""
    guards = Guards(region=region, live=False, verify_seconds=0.0, max_data_loss=None, by_operator=True)
    act = _Act(client, budget, pacer, 1, now, time.sleep)
    started = time.perf_counter()
    works = [_Work(t, guards, TargetResult(t.target_id, t.client_token, "failed"), started) for t in targets]
    act._preflight(works)
    for work in works:
        if work.failure is not None:
            _explain(work.result, work.failure, work.failure.action or "Describe")
    return [Looked(work.result, work.seen, started) for work in works]


def unready(seen: _Seen, result: TargetResult, region: str, verb: str) -> str | None:
    """Why a target seen by the preflight cannot be acted on other than failed over (``verb``: drilled), in
    the failover's terms, or None: a member pair, failed over or failing over, a status nothing can help, a
    fail-back, the wrong direction, a group that is not whole, no recovery point."""
    noun = "group" if result.is_group else "pair"
    if seen.group_id:
        return (
            f"the pair belongs to replica group {seen.group_id}, whose pairs act together: configure "
            f"{seen.group_id} in FAILOVER_TARGETS instead of the pair"
        )
    if seen.status in _DONE:
        return (
            f"the {noun} is {seen.status}: the secondary is (becoming) the live copy, so there is nothing to "
            f"{verb} (reprotect it first)"
        )
    if seen.status in _HOPELESS:
        return f"a {noun} in status {seen.status} cannot be {verb}ed"
    if seen.status in _FAILING_BACK:
        return f"the {noun} is {seen.status}: a fail-back is under way, and the function never fights one"
    if seen.destination_region and seen.destination_region != region:
        return (
            f"the {noun} replicates toward {seen.destination_region}, not toward FAILOVER_REGION {region}: a "
            "fail-back reversed it"
        )
    if result.is_group and not seen.member_ids:
        return "the replica group has no pairs"
    if result.is_group and (blocking := _blocking_member(result.member_pairs or [])):
        return blocking.replace("fail a group over", f"{verb} a group")
    if seen.status in _NO_DATA or not seen.last_recover_point:
        return (
            f"the secondary holds no recovery point (status {seen.status}, LastRecoverPoint "
            f"{seen.last_recover_point or 0}): the first full synchronisation has not finished"
        )
    return None


def _waves(work: Sequence[tuple[Target, Guards]]) -> list[list[int]]:
    """Indexes of ``work`` in waves of distinct targets: a target named twice (two events of a batch) is
    acted on again only once the first has settled, so that the second sees what the first did."""
    waves: list[list[int]] = []
    seen: dict[str, int] = {}
    for index, (target, _) in enumerate(work):
        wave = seen.get(target.target_id, -1) + 1
        seen[target.target_id] = wave
        if wave == len(waves):
            waves.append([])
        waves[wave].append(index)
    return waves


class _Act:
    """The act stage of one invocation: the client, the time budget, the pacing, and what must be retried."""

    def __init__(
        self,
        client: EbsClient,
        budget: Budget,
        pacer: Pacer,
        concurrency: int,
        now: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.client, self.budget, self.pacer, self.concurrency = client, budget, pacer, concurrency
        self.now, self.sleep = now, sleep
        self.retry: TransientFailure | None = None

    def wave(self, items: Sequence[tuple[Target, Guards]]) -> list[TargetResult]:
        started = time.perf_counter()
        works = [
            _Work(target, guards, TargetResult(target.target_id, target.client_token, "failed"), started)
            for target, guards in items
        ]
        self._preflight(works)
        requests: list[_Work] = []
        for work in works:
            if work.failure is not None:
                self._failed(work, work.failure)
            elif work.seen is not None and not _refused(work) and _ready(work):
                requests.append(work)
        if requests:
            self._request_and_watch(requests)
        for work in works:
            if work.result.duration_ms == 0.0:
                work.finish()
        return [work.result for work in works]

    # -- preflight -------------------------------------------------------------------------------------

    def _preflight(self, works: list[_Work]) -> None:
        """Describe every target (batched) from the backup site; explain what is not there."""
        groups = {w.target.target_id: [w] for w in works if w.target.is_group}
        raw_groups = self._describe(groups, "backup", groups=True)
        # The pairs, and the groups' pairs (whose Describe is on the group's behalf), in one Describe.
        pairs: dict[str, list[_Work]] = {w.target.target_id: [w] for w in works if not w.target.is_group}
        for group_id, group in raw_groups.items():
            for member in group.get("PairIds") or ():
                pairs.setdefault(str(member), []).extend(groups[group_id])
        raw_pairs = self._describe(pairs, "backup")
        missing: list[_Work] = []
        for work in works:
            raw = (raw_groups if work.target.is_group else raw_pairs).get(work.target.target_id)
            if work.failure is not None:
                continue
            if raw is None:
                missing.append(work)
                continue
            work.seen = _Seen.of(raw, raw_pairs)
            _note(work.result, work.seen, self.now)
            if work.target.is_group:
                work.result.member_pairs = [
                    _member(pair, raw_pairs.get(pair)) for pair in work.seen.member_ids
                ]
        if missing:
            self._not_standby(missing)

    def _describe(
        self, owners: Mapping[str, list[_Work]], site: str, *, groups: bool = False
    ) -> dict[str, dict[str, Any]]:
        """One batched Describe of the ids ``owners`` names, on behalf of their works: its attempts count for
        each. When it fails for a reason one id can cause (an id EBS does not know, a parameter it
        rejects), each id is described alone, so that one bad id costs only its own works; a failure is
        each owner's (``_Work.failure``), and its ids are absent from the answer."""
        if not owners:
            return {}
        tally = _Tally()
        try:
            return self._describing(tally, list(owners), site, groups)
        except EbsError as error:
            if error.transient or len(owners) == 1:
                for works in owners.values():
                    _fail_first(works, error)
                return {}
            found: dict[str, dict[str, Any]] = {}
            for target_id, works in owners.items():
                found.update(self._describe({target_id: works}, site, groups=groups))
            return found
        finally:
            for work in {id(w): w for works in owners.values() for w in works}.values():
                work.result.attempts += tally.attempts

    def _describing(self, tally: Tally, ids: list[str], site: str, groups: bool) -> dict[str, dict[str, Any]]:
        """A batched Describe of ``ids``, with retries counted in ``tally``."""
        describe = functools.partial(self.client.describe, groups=groups)
        return retrying(self.budget, tally, describe, ids, site, self.budget, self.pacer)

    def _not_standby(self, works: list[_Work]) -> None:
        """Targets that are not a backup in this region: a fail-back made this region their source, or the
        region (or the id) is wrong."""
        groups = {w.target.target_id: [w] for w in works if w.target.is_group}
        pairs = {w.target.target_id: [w] for w in works if not w.target.is_group}
        found = {**self._describe(groups, "production", groups=True), **self._describe(pairs, "production")}
        region = self.client.region
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
            seen = _Seen.of(raw, {})
            _note(result, seen, self.now)
            if seen.standby_region == region:
                result.outcome = "refused"
                result.hint = (
                    f"the {_noun(work)} now replicates from {region} toward {seen.destination_region}: a "
                    "fail-back reversed it, and the function never fights one"
                )
            else:
                result.outcome, result.error_code = "failed", "OperationDenied.OperateNotAllowedForPrimary"
                result.hint = HINTS["OperationDenied.OperateNotAllowedForPrimary"][1]

    # -- failover and verification -----------------------------------------------------------------------

    def _request_and_watch(self, works: list[_Work]) -> None:
        """The Failovers, side by side; each accepted one watched until it settles (batched looks).

        Every target has a worker thread of its own (up to :data:`_MAX_WORKERS`), and at most
        ``concurrency`` calls are in flight: a target that waits (its turn, a backoff, a Retry-After)
        holds up no other.
        """
        watches: list[_Watch] = []
        in_flight = threading.BoundedSemaphore(self.concurrency)
        workers = min(len(works), _MAX_WORKERS)
        with ThreadPoolExecutor(workers, thread_name_prefix="ebs-failover") as pool:
            pending: dict[Future[float | None], _Work] = {
                pool.submit(_in_context(functools.partial(self._request, slots=in_flight)), w): w
                for w in works
            }
            while pending or any(watch.open for watch in watches):
                due = _next_look(watches, in_flight=bool(pending))
                pause = max(due - time.monotonic(), 0.0) if due is not None else None
                if pending:
                    done, _ = wait(pending, timeout=pause, return_when=FIRST_COMPLETED)
                    for future in done:
                        work = pending.pop(future)
                        accepted = future.result()  # _request never raises
                        if accepted is not None:
                            watches.append(_Watch(work, accepted, self.budget.deadline))
                        else:
                            work.finish()
                elif pause:
                    self.sleep(pause)
                due = _next_look(watches, in_flight=bool(pending))
                if due is not None and due <= time.monotonic():
                    self._look_safely([watch for watch in watches if watch.open])

    def _request(self, work: _Work, *, slots: threading.BoundedSemaphore) -> float | None:
        """One target's Failover, with its own retries: when the attempt EBS accepted was sent (monotonic),
        or None when none was (the result says why). Runs on a worker thread; never raises."""
        sent = [0.0]

        def attempt() -> str:
            action = _failover_action(work)
            if not self.pacer.wait(action, self.budget.deadline):
                work.result.attempts -= 1  # counted by retrying, but no request was sent
                raise EbsError("BudgetExhausted", None, "no turn within the time budget", None, action=action)
            with slots:  # only the call itself takes one of the FAILOVER_CONCURRENCY slots
                sent[0] = time.monotonic()
                return self.client.failover(work.target.target_id, work.target.client_token, self.budget)

        try:
            try:
                work.result.request_id = retrying(self.budget, work.result, attempt)
            except EbsError as error:
                failure: EbsError | None = error
            else:
                failure = None
            if failure is not None:
                self._failed(work, failure)
                return None
            return sent[0]
        except Exception as error:  # a bug in one target's handling must not lose what the others did
            log.LOGGER.error("unexpected_error", exc_info=error, target_id=work.target.target_id)
            work.result.outcome, work.result.error_code = "failed", type(error).__name__
            return None

    def _look_safely(self, watches: list[_Watch]) -> None:
        """:meth:`_look`; a bug in it ends these watches with what is known (accepted, not seen since)."""
        try:
            self._look(watches)
        except Exception as error:
            log.LOGGER.error("unexpected_error", exc_info=error)
            at = time.monotonic()
            for watch in watches:
                if watch.open:
                    watch.observe(None, type(error).__name__, at)

    def _look(self, watches: list[_Watch]) -> None:
        """One batched look at every watched target (pairs and groups apart); each watch judges its own."""
        for groups in (False, True):
            mine = [watch for watch in watches if watch.work.target.is_group == groups]
            if not mine:
                continue
            tally = _Tally()
            ids = [watch.work.target.target_id for watch in mine]
            try:
                found, error = self._describing(tally, ids, "backup", groups), None
            except EbsError as failed:
                found, error = {}, failed.code
            at = time.monotonic()
            for watch in mine:
                watch.work.result.attempts += tally.attempts
                watch.observe(found.get(watch.work.target.target_id), error, at)

    def _look_again(self, work: _Work) -> None:
        """After InvalidStatus: report what the target is now (someone else may have failed it over)."""
        try:
            found = self._describing(work.result, [work.target.target_id], "backup", work.target.is_group)
        except EbsError:
            return
        raw = found.get(work.target.target_id)
        if raw is None:
            return
        result = work.result
        result.status_after = str(raw.get("Status"))
        if result.status_after in _DONE:
            result.outcome = "already_failed_over"
            result.verified = result.status_after == "failovered"
        else:
            result.outcome = "refused"
            result.hint = f"EBS refused the failover in status {result.status_after}"

    def _failed(self, work: _Work, error: EbsError) -> None:
        """A call for this target ended in ``error``: a retry for FC (transient, live), or an explanation."""
        result = work.result
        if error.transient and work.guards.live:
            result.outcome, result.error_code = "failed", error.code
            result.hint = "EBS kept failing transiently; FC's async retry will deliver the event again"
            try:  # raised here, so that the log line's traceback shows where the target gave up
                raise TransientFailure(work.target.target_id, error.code, result.attempts)
            except TransientFailure as failure:
                self.retry = failure
            return
        _explain(result, error, _failover_action(work) if error.action is None else error.action)
        if error.code == "OperationDenied.InvalidStatus":
            self._look_again(work)


@dataclass
class _Tally:
    """The attempts of one batched call, added to each target it was made for."""

    attempts: int = 0


class _Watch:
    """The verification of one accepted failover: what each look saw, until the target settles or the watch's
    window closes. The result says what was seen, never more."""

    def __init__(self, work: _Work, requested: float, deadline: float) -> None:
        self.work, self.requested = work, requested
        verify = work.guards.verify_seconds
        # A target that has not moved is watched for the grace at least: only then is it a replayed answer.
        self.window_end = min(requested + max(verify, _REPLAY_GRACE + 0.5), deadline)
        self.settled_by = min(requested + verify, deadline)
        self.accepted = time.monotonic()
        self.next_look = self.accepted
        self.looked = False
        self.open = True
        self._waits = iter(_VERIFY_WAITS)

    def due(self, in_flight: bool) -> float:
        """When this watch wants its next look: its first, right after acceptance, unless other calls are
        still in flight (then a little later, so that one look covers them too)."""
        if not self.looked and in_flight:
            return self.next_look + _VERIFY_WAITS[0]
        return self.next_look

    def observe(self, raw: Mapping[str, Any] | None, look_error: str | None, at: float) -> None:
        """Judge one look: ``raw`` is the target as seen (None: not seen, or ``look_error`` says why)."""
        self.looked = True
        result = self.work.result
        if raw is None:  # accepted, and not seen since: say exactly that
            look = (
                f"the look that verifies it failed ({look_error})"
                if look_error
                else f"the {_noun(self.work)} was not visible to the look that verifies it"
            )
            result.outcome, result.verified = "failed_over", False
            result.hint = f"EBS accepted the failover; {look}"
            return self._close()
        seen = str(raw.get("Status"))
        elapsed = at - self.requested
        if seen == "failovered":
            result.outcome, result.verified = "failed_over", True
            result.status_after, result.failover_seconds = seen, round(elapsed, 1)
            return self._close()
        if seen == "failover_failed":
            result.outcome, result.status_after = "failed", seen
            result.hint = (
                "EBS accepted the failover and it ended in failover_failed: the secondary is not writable"
            )
            return self._close()
        if seen != "failovering" and elapsed >= _REPLAY_GRACE:
            result.outcome, result.status_after, result.hint = "failed", seen, _replayed(self.work, seen)
            return self._close()
        pause = next(self._waits, _VERIFY_WAITS[-1])
        if seen != "failovering":  # look again right when the grace has passed, not a wait later
            pause = min(pause, max(_REPLAY_GRACE - elapsed, 0.0) + 0.05)
        end = self.settled_by if seen == "failovering" else self.window_end
        if at + pause < end:
            self.next_look = at + pause
            return None
        result.status_after, result.outcome, result.verified = seen, "failed_over", False
        if seen == "failovering":
            result.hint = (
                f"EBS accepted the failover; the {_noun(self.work)} was still failovering when the watch "
                "ended "
                f"(FAILOVER_VERIFY_SECONDS {self.work.guards.verify_seconds:g} s, or the time budget)"
            )
        else:  # the budget ended the watch before the grace: not enough seen to call it a replay
            result.hint = (
                f"EBS accepted the failover; the {_noun(self.work)} still showed {seen} when the time ran "
                "out "
                "(if it never moves, EBS answered with an earlier result for this ClientToken)"
            )
        return self._close()

    def _close(self) -> None:
        self.open = False
        self.work.finish()


def _fail_first(works: Iterable[_Work], error: EbsError) -> None:
    """``error`` is these works' failure, unless they already have one (or EBS said the id is unknown: a
    target that is not there is described as absent, and the production-site look explains it)."""
    if error.code == "NoSuchResource":
        return
    for work in works:
        if work.failure is None:
            work.failure = error


def _in_context(function: Callable[[_Work], float | None]) -> Callable[[_Work], float | None]:
    """``function`` run in a copy of the caller's context, so that a worker's log line carries the
    invocation's keys (request id, correlation id), as the handler's own lines do."""
    context = contextvars.copy_context()

    def run(work: _Work) -> float | None:
        return context.run(function, work)

    return run


def _next_look(watches: Iterable[_Watch], *, in_flight: bool) -> float | None:
    """When the next batched look is due (monotonic), or None when no watch is open."""
    return min((watch.due(in_flight) for watch in watches if watch.open), default=None)


def _refused(work: _Work) -> bool:
    """Whether a check stops this target here (its outcome and hint set): wrong signal, one member of a
    group, no data, a fail-back, too much data loss. A target already failed over passes."""
    seen, target, guards, result = work.seen, work.target, work.guards, work.result
    assert seen is not None  # only targets the preflight saw are checked
    noun = _noun(work)
    if target.source_disks and not set(seen.source_disks) & set(target.source_disks):
        result.outcome = "ignored"
        result.hint = (
            f"the trigger is about {', '.join(target.source_disks)}, and this {noun}'s source (primary) "
            "disks "
            f"are {', '.join(seen.source_disks) or 'unknown'}: nothing to fail over for it"
        )
    elif seen.group_id:
        result.outcome = "refused"
        result.hint = (
            f"the pair belongs to replica group {seen.group_id}, whose pairs fail over together to one point "
            f"in time: configure {seen.group_id} in FAILOVER_TARGETS instead of the pair"
        )
    elif seen.status in _DONE:
        return False
    elif seen.status in _HOPELESS:
        result.outcome, result.hint = "refused", f"a {noun} in status {seen.status} cannot be failed over"
    elif seen.status in _FAILING_BACK:
        result.outcome = "refused"
        result.hint = (
            f"the {noun} is {seen.status}: a fail-back is under way, and the function never fights one"
        )
    elif seen.destination_region and seen.destination_region != guards.region:
        result.outcome = "refused"
        result.hint = (
            f"the {noun} replicates toward {seen.destination_region}, not toward FAILOVER_REGION "
            f"{guards.region}: a fail-back reversed it, and the function never fights one"
        )
    elif target.is_group and not seen.member_ids:
        result.outcome, result.hint = "refused", "the replica group has no pairs: nothing to fail over"
    elif target.is_group and (blocking := _blocking_member(result.member_pairs or [])):
        result.outcome, result.hint = "refused", blocking
    elif seen.status in _NO_DATA or not seen.last_recover_point:
        result.outcome = "refused"
        result.hint = (
            f"the secondary holds no recovery point (status {seen.status}, LastRecoverPoint "
            f"{seen.last_recover_point or 0}): the first full synchronisation has not finished"
        )
    elif seen.status == "stopped" and not guards.by_operator:
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


def _blocking_member(members: list[dict[str, Any]]) -> str | None:
    """Why a group's pairs, as the preflight saw them, forbid its failover (EBS would refuse it, or the
    group is not what FAILOVER_TARGETS was written for), or None."""
    for member in members:
        status = member.get("status")
        if status is None:
            return (
                f"the group's pair {member['pair_id']} is not visible from the backup site: the group is not "
                "whole here, so it is not failed over (check it in the console)"
            )
        if status in _HOPELESS or status in _FAILING_BACK:
            return (
                f"the group's pair {member['pair_id']} is {status}: EBS does not fail a group over with a "
                "pair in that status (PairGroupStatusConflict), and the function never fights a fail-back"
            )
    return None


def _ready(work: _Work) -> bool:
    """Whether this target, past every check, is to be failed over now; otherwise its outcome is set."""
    seen, result = work.seen, work.result
    assert seen is not None
    if seen.status in _DONE:
        result.outcome, result.status_after = "already_failed_over", seen.status
        result.verified = seen.status == "failovered"
        result.hint = (
            f"the {_noun(work)} was {seen.status} when this delivery looked, so no Failover was sent: an "
            "earlier delivery of this trigger (same ClientToken) or someone else failed it over; the "
            "function keeps no store, so it cannot tell which"
        )
        return False
    if not work.guards.live:
        result.outcome = "dry_run"
        result.hint = f"every check passed: FAILOVER_MODE=live would call {_failover_action(work)} now"
        return False
    return True


def _noun(work: _Work) -> str:
    return "group" if work.target.is_group else "pair"


def _failover_action(work: _Work) -> str:
    return "FailoverDiskReplicaGroup" if work.target.is_group else "FailoverDiskReplicaPair"


def _member(pair_id: str, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """A group's pair as the result lists it."""
    if raw is None:
        return {"pair_id": pair_id, "status": None, "hint": "not visible to the preflight's Describe"}
    return {"pair_id": pair_id, "status": raw.get("Status"), "source_disk_id": raw.get("SourceDiskId")}


def _replayed(work: _Work, seen: str) -> str:
    return (
        f"EBS accepted the call but the {_noun(work)} stayed {seen}: it answered with an earlier result for "
        "this ClientToken, so this trigger identity was used before (a reused idempotencyKey, or an "
        "old event replayed after a fail-back); to fail over again, use a new identity"
    )


def _explain(result: TargetResult, error: EbsError, action: str) -> None:
    outcome, hint = HINTS.get(error.code, ("failed", f"EBS answered {error.code}: {error.message}"))
    if error.code == "OperationDenied.InvalidStatus":
        outcome, hint = "refused", "EBS refused the failover in the target's current status"
    if error.transient:  # dry-run only: live raises for FC to retry
        hint = f"EBS could not be reached ({error.code}): the rehearsal is incomplete"
    if error.code in HINTS:  # the function's own templates; never format text that came from EBS
        hint = hint.format(action=action)
    result.outcome, result.error_code, result.hint = outcome, error.code, hint
    result.request_id = error.request_id or result.request_id


def _note(result: TargetResult, seen: _Seen, now: Callable[[], float]) -> None:
    result.status_before = seen.status
    if not result.is_group:
        result.source_disk_id = seen.source_disks[0] if seen.source_disks else None
    result.rpo_seconds = seen.rpo
    if seen.last_recover_point is not None:
        result.last_recover_point = seen.last_recover_point
        result.data_loss_seconds = max(int(now()) - seen.last_recover_point, 0)
