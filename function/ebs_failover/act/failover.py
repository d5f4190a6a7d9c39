"""The failover: every target checked, those that pass failed over side by side, each watched to its end.

Per invocation, and per wave of distinct targets (a batch that names one pair twice
makes two waves, so that the second sees what the first did), in layers that read
one at a time:

1. :func:`~.preflight.preflight`: the batched Describes.
2. :func:`~.checks.check` with :data:`~.checks.FAILOVER`: one verdict per target, pure.
3. :meth:`_Calls.request_and_watch`: the Failovers, live only, on worker threads
   (at most ``FAILOVER_CONCURRENCY`` calls in flight, paced per API by the
   invocation's :class:`~ebs_failover.cloud.Pacer`); each target keeps its own
   ClientToken and its own retries, so a throttled or hanging target holds up no
   other. This layer only schedules: when to look, for whom.
4. :class:`~.verify.Watch`: judges each batched look at each accepted target (the
   first look right after acceptance, or half a second later while other calls
   are in flight, so that one look covers many), and says when it wants the next.

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
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from ebs_failover import log
from ebs_failover.cloud import Attempts, Budget, EbsClient, Pacer, retrying
from ebs_failover.errors import CloudCallError, EbsError, OutOfTime, TransientFailure
from ebs_failover.policy import Target

from . import checks, verify
from .explain import explain, note_failure
from .preflight import Describer, preflight
from .records import SYSTEM_CLOCK, Acted, Clock, Guards, TargetResult, Work

__all__ = ["fail_over"]

#: Worker threads of one wave at most: a target's thread waits (its turn, a backoff) without a call slot.
_MAX_WORKERS = 100
#: After OperationDenied.InvalidStatus, the Failover is tried again after these pauses (the status may be
#: passing: Terraform retries this code on both Failover APIs), then the refusal stands.
_INVALID_STATUS_WAITS = (1.0, 2.0)
#: Time that must be left after such a pause for the try and a look at its outcome.
_INVALID_STATUS_MARGIN = 2.0


def fail_over(
    client: EbsClient,
    work: Sequence[tuple[Target, Guards]],
    budget: Budget,
    *,
    concurrency: int,
    calls_per_second: float,
    clock: Clock = SYSTEM_CLOCK,
) -> Acted:
    """Every target of ``work``: checked, then (live) failed over and watched, many at once; dry-run makes
    every call but the Failover."""
    pacer = Pacer(calls_per_second, concurrency)
    retry: TransientFailure | None = None
    results: list[TargetResult | None] = [None] * len(work)
    for indexes in _waves(work):
        wave = _Wave(Describer(client, budget, pacer), concurrency, clock)
        done = wave.run([work[index] for index in indexes])
        retry = wave.retry or retry  # the last failure, as it is the one nearest the deadline
        for index, result in zip(indexes, done, strict=True):
            results[index] = result
    return Acted([result for result in results if result is not None], retry)


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


class _Wave:
    """One wave of distinct targets: the preflight, the checks, the Failovers and their watches."""

    def __init__(self, describer: Describer, concurrency: int, clock: Clock) -> None:
        self.describer, self.concurrency, self.clock = describer, concurrency, clock
        #: Set, in live mode, when a target's calls kept failing transiently until the budget ran out.
        self.retry: TransientFailure | None = None

    def run(self, items: Sequence[tuple[Target, Guards]]) -> list[TargetResult]:
        started = time.perf_counter()
        works = [
            Work(target, guards, TargetResult(target.target_id, target.client_token, "failed"), started)
            for target, guards in items
        ]
        preflight(self.describer, works, self.clock.wall)
        requests = [work for work in works if self._judge(work)]
        if requests:
            _Calls(self.describer, self.concurrency, self.clock, self._failed).request_and_watch(requests)
            for work in requests:
                if work.retry_wanted:  # accepted, not seen moving before the time ran out
                    self.retry = TransientFailure(work.target.target_id, None, work.result.attempts)
        for work in works:
            if work.result.duration_ms == 0.0:
                work.finish()
        return [work.result for work in works]

    def _judge(self, work: Work) -> bool:
        """Whether ``work`` is to be failed over now; otherwise its outcome is set (by the preflight, its
        failure, a check, or dry-run)."""
        if work.failure is not None:
            self._failed(work, work.failure)
            return False
        if work.seen is None:  # the preflight set the outcome (not visible, not a backup here)
            return False
        subject = checks.Subject(work.target, work.seen, work.guards, work.result.data_loss_seconds)
        verdict = checks.check(checks.FAILOVER, subject)
        if verdict is not None and verdict.outcome == "already_failed_over":
            verify.found_done(work.result, work.seen.status, verdict.hint)
            return False
        if verdict is not None:
            work.result.outcome, work.result.hint = verdict.outcome, verdict.hint
            return False
        if not work.guards.live:
            work.result.outcome = "dry_run"
            work.result.hint = (
                f"every check passed: FAILOVER_MODE=live would call {_failover_action(work)} now"
            )
            return False
        return True

    # -- a call that failed ------------------------------------------------------------------------------

    def _failed(self, work: Work, error: CloudCallError, tries: int = 0) -> float | None:
        """A call for this target ended in ``error``: a retry for FC (transient, live), an explanation, or
        (a status that may be passing) the pause before the Failover is tried again."""
        result = work.result
        if error.transient and work.guards.live:
            result.outcome, result.error_code = "failed", error.code
            result.hint = (
                f"no time was left in the invocation for {error.action or 'the call'}; FC's async retry will "
                "deliver the event again"
                if isinstance(error, OutOfTime)
                else "EBS kept failing transiently; FC's async retry will deliver the event again"
            )
            try:  # raised here, so that the log line's traceback shows where the target gave up
                raise TransientFailure(work.target.target_id, error.code, result.attempts)
            except TransientFailure as failure:
                self.retry = failure
            return None
        call = error.action or _failover_action(work)
        verdict = explain(error, call, checks.FAILOVER)
        if error.transient:  # dry-run only: live raises for FC to retry
            verdict = checks.Verdict(verdict.outcome, f"{verdict.hint}: the rehearsal is incomplete")
        note_failure(result, error, verdict)
        if isinstance(error, EbsError) and error.rule.retry == "after_look":
            return self._after_invalid_status(work, tries)
        return None

    def _after_invalid_status(self, work: Work, tries: int) -> float | None:
        """EBS refused the Failover in the target's current status, a code Terraform retries (the status may
        be passing): look at the target; failed over by someone else is reported so; otherwise the Failover
        is tried again a few times, then the refusal names the status last seen."""
        try:
            found = self.describer.describing(
                work.result, [work.target.target_id], "backup", work.target.is_group
            )
        except CloudCallError:
            return None
        raw = found.get(work.target.target_id)
        if raw is None:
            return None
        status = str(raw.get("Status"))
        if status in checks.DONE:
            verify.found_done(work.result, status)
            return None
        work.result.outcome, work.result.status_after = "refused", status
        work.result.hint = f"EBS refused the failover in status {status}"
        if tries < len(_INVALID_STATUS_WAITS):
            pause = _INVALID_STATUS_WAITS[tries]
            if self.describer.budget.remaining() > pause + _INVALID_STATUS_MARGIN:
                return pause
        if tries:
            work.result.hint += f" ({tries + 1} tries)"
        return None


class _Calls:
    """The Failovers of one wave on worker threads, and the batched looks their watches want: when to call
    and when to look, for whom. What an answer means is :class:`~.verify.Watch`'s and the wave's."""

    def __init__(
        self,
        describer: Describer,
        concurrency: int,
        clock: Clock,
        on_failure: Callable[[Work, CloudCallError, int], float | None],
    ) -> None:
        self.describer, self.concurrency, self.clock = describer, concurrency, clock
        self.client, self.budget, self.pacer = describer.client, describer.budget, describer.pacer
        #: What the wave does with a target whose Failover failed (called on the target's worker thread, with
        #: the tries so far): the pause before trying again, or None when the target is done.
        self.on_failure = on_failure

    def request_and_watch(self, works: list[Work]) -> None:
        """The Failovers, side by side; each accepted one watched until it settles (batched looks).

        Every target has a worker thread of its own (up to :data:`_MAX_WORKERS`), and at most
        ``concurrency`` calls are in flight: a target that waits (its turn, a backoff, a Retry-After)
        holds up no other.
        """
        watches: list[verify.Watch] = []
        in_flight = threading.BoundedSemaphore(self.concurrency)
        now = self.clock.monotonic
        with ThreadPoolExecutor(min(len(works), _MAX_WORKERS), thread_name_prefix="ebs-failover") as pool:
            request = functools.partial(self._request, slots=in_flight)
            # Each worker runs in a context copy of its own: one context cannot be entered by two threads.
            pending: dict[Future[float | None], Work] = {
                pool.submit(_in_context(request), w): w for w in works
            }
            while pending or any(watch.open for watch in watches):
                due = _next_look(watches, in_flight=bool(pending))
                pause = max(due - now(), 0.0) if due is not None else None
                if pending:
                    done, _ = wait(pending, timeout=pause, return_when=FIRST_COMPLETED)
                    for future in done:
                        work = pending.pop(future)
                        sent = future.result()  # _request never raises
                        if sent is None:
                            work.finish()
                            continue
                        watch = verify.Watch(
                            work, requested=sent, accepted=now(), deadline=self.budget.deadline
                        )
                        watches.append(watch)
                elif pause:
                    self.clock.sleep(pause)
                due = _next_look(watches, in_flight=bool(pending))
                if due is not None and due <= now():
                    self._look_safely([watch for watch in watches if watch.open])

    def _request(self, work: Work, *, slots: threading.BoundedSemaphore) -> float | None:
        """One target's Failover, with its own retries: when the attempt EBS accepted was sent (monotonic),
        or None when none was (the result says why). A failure the wave wants tried again (a status that
        may be passing) is, after the pause it names. Runs on a worker thread; never raises."""
        sent = [0.0]

        def attempt() -> str:
            action = _failover_action(work)
            if not self.pacer.wait(action, self.budget.deadline):
                work.result.attempts -= 1  # counted by retrying, but no request was sent
                raise OutOfTime("no turn within the time budget (FAILOVER_CALLS_PER_SECOND)", action=action)
            with slots:  # only the call itself takes one of the FAILOVER_CONCURRENCY slots
                sent[0] = self.clock.monotonic()
                return self.client.failover(work.target.target_id, work.target.client_token, self.budget)

        try:
            tries = 0
            while True:
                try:
                    work.result.request_id = retrying(self.budget, work.result, attempt)
                except CloudCallError as error:
                    pause = self.on_failure(work, error, tries)
                    if pause is None:
                        return None
                    tries += 1
                    self.clock.sleep(pause)
                    continue
                return sent[0]
        except Exception as error:  # a bug in one target's handling must not lose what the others did
            log.LOGGER.error("unexpected_error", exc_info=error, target_id=work.target.target_id)
            work.result.outcome, work.result.error_code = "failed", type(error).__name__
            return None

    def _look_safely(self, watches: list[verify.Watch]) -> None:
        """:meth:`_look`; a bug in it ends these watches with what is known (accepted, not seen since)."""
        try:
            self._look(watches)
        except Exception as error:
            log.LOGGER.error("unexpected_error", exc_info=error)
            at = self.clock.monotonic()
            for watch in watches:
                if watch.open:
                    watch.observe(verify.Look(None, at, type(error).__name__))

    def _look(self, watches: list[verify.Watch]) -> None:
        """One batched look at every watched target (pairs and groups apart); each watch judges its own."""
        for groups in (False, True):
            mine = [watch for watch in watches if watch.work.target.is_group == groups]
            if not mine:
                continue
            tally = Attempts()
            ids = [watch.work.target.target_id for watch in mine]
            try:
                found, error = self.describer.describing(tally, ids, "backup", groups), None
            except CloudCallError as failed:
                found, error = {}, failed.code or type(failed).__name__
            at = self.clock.monotonic()
            for watch in mine:
                watch.work.result.attempts += tally.attempts
                raw = found.get(watch.work.target.target_id)
                watch.observe(verify.Look(None if raw is None else str(raw.get("Status")), at, error))


def _in_context(function: Callable[[Work], float | None]) -> Callable[[Work], float | None]:
    """``function`` run in a copy of the caller's context, so that a worker's log line carries the
    invocation's keys (request id, correlation id), as the handler's own lines do."""
    context = contextvars.copy_context()

    def run(work: Work) -> float | None:
        return context.run(function, work)

    return run


def _next_look(watches: Iterable[verify.Watch], *, in_flight: bool) -> float | None:
    """When the next batched look is due (monotonic), or None when no watch is open. A watch's first look
    waits a little while other calls are in flight, so that one look covers them too."""
    return min(
        (
            watch.next_look + (verify.VERIFY_WAITS[0] if in_flight and not watch.looked else 0.0)
            for watch in watches
            if watch.open
        ),
        default=None,
    )


def _failover_action(work: Work) -> str:
    return "FailoverDiskReplicaGroup" if work.target.is_group else "FailoverDiskReplicaPair"
