"""The stages of one invocation, as small functions with typed inputs and outputs.

::

    Invocation --prepare--> Prepared --decide--> Decided --act--> Ended --tell--> deliveries
        |                      |                    |
        +----------------------+--------------------+--> Ended (a configuration error, a rejected event,
                                                          nothing to do, no region or no time)

:func:`run` composes them: each stage either hands its typed output to the next or ends the invocation
with its :class:`Ended` (the result, and what the tell stage needs). A new stage (a ledger read, the
controls, a recovery plan) is a new function, called in :func:`run` between the two it stands between.
:func:`tell` and :func:`failure` come after the result, in the handler's order: tell every channel,
then decide what to raise for FC's retry.

The event is decoded once, when the :class:`Invocation` is made (its HTTP-ness decides the answer's shape
even when its content is rejected); ``decide`` is pure (parse, the HTTP gate, policy); ``act`` is the only
stage that calls EBS.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any

from . import act, cloud, config, incident, log, outcomes, redact, results
from .cloud.credentials import Credentials
from .decisions import decide_batch, decide_event
from .errors import ConfigError, EbsFailoverError, InvalidEvent, NotifyError, TransientFailure
from .invocation import Decided, Decision, Ended, Invocation, Prepared
from .notify.channels import Channel
from .policy import Plan, Target
from .triggers import Batch, Trigger
from .web import answer

__all__ = [
    "Decided",
    "Decision",
    "Ended",
    "Invocation",
    "Prepared",
    "decide_batch",
    "decide_event",
    "failure",
    "run",
    "tell",
]


# -- the stages --------------------------------------------------------------------------------------------


def run(invocation: Invocation) -> Ended:
    """prepare -> decide -> act; never raises (a bug ends in a ``failed`` result naming its type)."""
    prepared: Prepared | None = None
    decided: Decided | None = None
    try:
        stage = prepare(invocation)
        if isinstance(stage, Ended):
            return stage
        prepared = stage
        step = decide_stage(invocation, prepared)
        if isinstance(step, Ended):
            return step
        decided = step
        return act_stage(invocation, prepared, decided)
    except Exception as error:  # the last line of defence: a result, never a traceback
        log.LOGGER.error("unexpected_error", exc_info=error)
        trigger = decided.decisions[0].trigger if decided is not None and not decided.batch else None
        error_ = {"code": type(error).__name__}
        channels = _channels_after_a_bug() if prepared is None else None
        return _ended(
            invocation,
            prepared,
            "failed",
            "unexpected error",
            trigger=trigger,
            error=error_,
            channels=channels,
        )


#: The settings' warnings this instance has logged.
_WARNED: set[str] = set()


def prepare(invocation: Invocation) -> Prepared | Ended:
    """The settings (validated), the credentials (every secret told to the redactor), the region."""
    try:
        settings = config.current()
    except ConfigError as error:
        return _configuration_error(invocation, error)
    credentials = _credentials(invocation, settings)
    for warning in settings.warnings:
        if warning not in _WARNED:  # once per instance, not once per invocation
            _WARNED.add(warning)
            log.LOGGER.warning("setting_warning", warning=warning)
    if settings.log_event:
        log.LOGGER.info("raw_event", raw_event=_printable(invocation.event))
    region = settings.region or getattr(invocation.context, "region", None)
    return Prepared(settings, credentials, region, settings.notify_targets)


def decide_stage(invocation: Invocation, prepared: Prepared) -> Decided | Ended:
    """parse -> the HTTP gate -> decide, for the event or each event of a batch; pure but for the log's
    correlation id. A rejected event, or one with nothing to do, ends here."""
    decoded, settings, now = invocation.decoded, prepared.settings, time.time()
    if isinstance(decoded, InvalidEvent):
        error = {"code": "InvalidEvent", "field": decoded.field}
        return _ended(invocation, prepared, "rejected", str(decoded), error=error)
    if isinstance(decoded, Batch):
        decisions = decide_batch(decoded, settings, now)
        identities = ",".join(d.trigger.identity for d in decisions if d.trigger is not None)
        log.bind(correlation_id=redact.shorten(identities, 512))
        return Decided(decisions, batch=True)
    decision = decide_event(decoded, settings, request_id=invocation.request_id, now=now)
    trigger = decision.trigger
    if trigger is not None:
        log.bind(correlation_id=trigger.identity)
        if trigger.http is not None and "x-fc-trace-id" in trigger.http.headers:
            log.bind(trace_id=trigger.http.headers["x-fc-trace-id"])
    plan = decision.plan
    if plan.outcome is not None:
        # A drill that cannot run (nothing configured, over the cap) proves nothing: it pages.
        outcome = "drill_failed" if plan.action == "drill" else plan.outcome
        return _ended(invocation, prepared, outcome, plan.reason, trigger=trigger, error=decision.error)
    return Decided((decision,))


def act_stage(invocation: Invocation, prepared: Prepared, decided: Decided) -> Ended:
    """The failovers (or the drill) of every decision that has targets, within the time budget."""
    if decided.batch:
        return _act_on_batch(invocation, prepared, decided.decisions)
    [decision] = decided.decisions
    trigger, plan = decision.trigger, decision.plan
    cannot = _cannot_act(invocation, prepared, trigger)
    if cannot is not None:
        return cannot
    if plan.action == "drill":
        drilled, retry = _drill(invocation, prepared, plan)
        journal = None
        if trigger is not None:  # a drill runs in both modes, so its ledger does too
            journal = incident.open_journal(invocation, prepared, trigger.identity, any_mode=True)
        if journal is not None:
            drilled = incident.remember_drills(journal, drilled)
        outcome = outcomes.drill_outcome(t["outcome"] for t in drilled)
        ended = _ended(invocation, prepared, outcome, plan.reason, drilled, trigger=trigger, retry=retry)
        return dataclasses.replace(ended, journal=journal) if journal is not None else ended
    work = [(target, _guards(prepared, plan, trigger)) for target in plan.targets]
    journal = incident.open_journal(invocation, prepared, trigger.identity) if trigger is not None else None
    # Waiting for another delivery of the incident leaves the act stage time to look and call (its watch
    # then ends with the budget, saying what it saw).
    wait = invocation.left() - prepared.settings.time_margin - _ACT_RESERVE
    recalled = incident.recall(journal, work, wait=wait) if journal is not None else None
    acting = recalled.to_act if recalled is not None else work
    done, retry = _fail_over(invocation, prepared, acting) if acting else ([], None)
    if journal is not None and recalled is not None:
        done = incident.remember(journal, recalled, done)
    reason = plan.reason if plan.live else plan.reason + " (FAILOVER_MODE is dry-run: no Failover call)"
    news = [t for t in done if not t.get("duplicate")]
    outcome = outcomes.aggregate(t["outcome"] for t in news) if news else "ignored"  # duplicates only
    if recalled is not None and recalled.retry_wanted and retry is None:
        retry = TransientFailure("incident", "HeldByAnotherDelivery", 0)
    ended = _ended(invocation, prepared, outcome, reason, done, trigger=trigger, retry=retry)
    if journal is None:
        return ended
    ended.result["data"]["ledger"] = (
        {"available": True}
        if journal.unavailable is None
        else {"available": False, "error": journal.unavailable}
    )
    return dataclasses.replace(ended, journal=journal)


def tell(ended: Ended, invocation: Invocation) -> list[dict[str, Any]]:
    """Publish the result to every channel that wants it; a channel failure is reported, not raised.

    An HTTP-trigger request that did not authenticate is logged, never published: anyone who finds the
    URL could otherwise flood the on-call channels.
    """
    result = ended.result
    if (result["data"].get("error") or {}).get("code") in answer.UNANSWERED or not ended.channels:
        return []
    channels = incident.to_tell(ended.journal, result, ended.channels)  # each news once, with a ledger
    if not channels:
        return []
    from .notify import DEFAULT_TIMEOUT, Where, publish

    settings = ended.settings
    where = Where(
        credentials=ended.credentials,
        # The topic and the bus live where the function runs, whatever FAILOVER_REGION says.
        region=getattr(invocation.context, "region", None) or ended.region or "",
        account_id=str(getattr(invocation.context, "account_id", None) or ""),
        mns_endpoint=settings.mns_endpoint if settings else os.environ.get("MNS_ENDPOINT") or None,
        eventbridge_endpoint=(
            settings.eventbridge_endpoint if settings else os.environ.get("EVENTBRIDGE_ENDPOINT") or None
        ),
        # Within what the function has left (the margin is kept for this).
        timeout=max(min(DEFAULT_TIMEOUT, invocation.left() - 0.5), 0.5),
    )
    try:
        deliveries = publish(result, channels, where)
    except Exception as error:  # a channel must never turn into a traceback
        failed = [{"channel": c.label, "ok": False, "code": type(error).__name__} for c in channels]
        incident.told(ended.journal, result, failed)  # the next delivery tells them at once
        return failed
    incident.told(ended.journal, result, deliveries)
    return deliveries


def failure(ended: Ended, deliveries: list[dict[str, Any]]) -> EbsFailoverError | None:
    """What the handler raises so that FC delivers the event again, if anything: a transient EBS failure,
    or a result a person needs that every channel meant for it failed to take."""
    if ended.retry is not None:
        return ended.retry
    journal = ended.journal
    if journal is not None and journal.others_telling and not any(d["ok"] for d in deliveries):
        # Another delivery was telling this news and had not recorded it told: FC's retry makes sure.
        return NotifyError(journal.others_telling[0], "TellingInProgress", "another delivery is telling it")
    if not deliveries or any(d["ok"] for d in deliveries) or not _needs_a_person(ended.result):
        return None
    # Nobody was told: FC's retry runs the event again (the ClientTokens make that safe) and tells.
    first = deliveries[0]
    message = redact.REDACTOR.scrub_text(str(first.get("error")))  # FC prints it: masked
    return NotifyError(first["channel"], str(first.get("code")), message)


# -- act ---------------------------------------------------------------------------------------------------


def _act_on_batch(invocation: Invocation, prepared: Prepared, decisions: tuple[Decision, ...]) -> Ended:
    """EventBridge's event-streaming batch: each event decided on its own, the batch capped as one
    (FAILOVER_MAX_TARGETS), every event's targets failed over together, one result listing every
    event's outcome."""
    work = [
        (target, _guards(prepared, d.plan, d.trigger))
        for d in decisions
        if d.plan.outcome is None
        for target in d.plan.targets
    ]
    retry = None
    if work:
        cannot = _cannot_act(invocation, prepared, None)
        if cannot is not None:
            return cannot
        acted, retry = _fail_over(invocation, prepared, work)
    done = iter(acted if work else [])
    events: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for index, decision in enumerate(decisions):
        mine = [next(done) for _ in (() if decision.plan.outcome is not None else decision.plan.targets)]
        outcome = decision.plan.outcome or outcomes.aggregate(t["outcome"] for t in mine)
        entry = results.batch_entry(index, decision.trigger, outcome, decision.plan.reason, mine)
        if decision.error is not None:  # the element's field, as a path from the batch
            field_ = decision.error.get("field")
            entry["error"] = {**decision.error, "field": f"{index}/{field_}" if field_ else str(index)}
            errors.append(entry["error"])
        events.append(entry)
        targets.extend({**target, "event_index": index} for target in mine)
    overall = outcomes.aggregate(e["outcome"] for e in events)
    error = errors[0] if overall == "rejected" else None  # every event was rejected: the first's why
    reason = f"a batch of {len(decisions)} events"
    return _ended(invocation, prepared, overall, reason, targets, error=error, batch=events, retry=retry)


def _cannot_act(invocation: Invocation, prepared: Prepared, trigger: Trigger | None) -> Ended | None:
    """The ``failed`` result when EBS cannot be called at all: no region, or no time."""
    settings = prepared.settings
    if prepared.region is None:
        error = {"code": "ConfigError"}
        return _ended(
            invocation, prepared, "failed", "no region: set FAILOVER_REGION", trigger=trigger, error=error
        )
    if invocation.left() - settings.time_margin <= 0:
        return _ended(
            invocation,
            prepared,
            "failed",
            f"the function timeout ({invocation.timeout():g} s) leaves no time for EBS after "
            f"FAILOVER_TIME_MARGIN ({settings.time_margin:g} s)",
            trigger=trigger,
            error={"code": "ConfigError", "variable": "FAILOVER_TIME_MARGIN"},
        )
    return None


def _guards(prepared: Prepared, plan: Plan, trigger: Trigger | None) -> act.Guards:
    """What the act stage checks for this plan's targets (once :func:`_cannot_act` found a region)."""
    settings = prepared.settings
    return act.Guards(
        region=prepared.region or "",
        live=plan.live,
        verify_seconds=settings.verify_seconds,
        max_data_loss=settings.max_data_loss,
        by_operator=trigger is not None and trigger.kind == "manual",
        zone=settings.zone,
        stale=plan.stale,
    )


#: Seconds a delivery keeps for acting after waiting for another delivery of its incident.
_ACT_RESERVE = 10.0

_Stage = Callable[[cloud.EbsClient, cloud.Budget], act.Acted]


def _fail_over(
    invocation: Invocation, prepared: Prepared, work: list[tuple[Target, act.Guards]]
) -> tuple[list[dict[str, Any]], TransientFailure | None]:
    """Every target, many at once (FAILOVER_CONCURRENCY, FAILOVER_CALLS_PER_SECOND); dry-run makes every
    call but Failover."""
    settings = prepared.settings

    def stage(client: cloud.EbsClient, budget: cloud.Budget) -> act.Acted:
        return act.fail_over(
            client, work, budget, concurrency=settings.concurrency, calls_per_second=settings.calls_per_second
        )

    return _acting(invocation, prepared, stage, [target for target, _ in work])


def _drill(
    invocation: Invocation, prepared: Prepared, plan: Plan
) -> tuple[list[dict[str, Any]], TransientFailure | None]:
    """A drill of every target, many at once, paced like a failover; the same in both modes (a drill
    changes nothing in production)."""
    settings = prepared.settings

    def stage(client: cloud.EbsClient, budget: cloud.Budget) -> act.Acted:
        return act.drill(
            client,
            plan.targets,
            prepared.region or "",
            budget,
            keep=plan.keep,
            concurrency=settings.concurrency,
            calls_per_second=settings.calls_per_second,
            zone=settings.zone,
        )

    return _acting(invocation, prepared, stage, list(plan.targets))


def _acting(
    invocation: Invocation, prepared: Prepared, stage: _Stage, targets: list[Target]
) -> tuple[list[dict[str, Any]], TransientFailure | None]:
    """Run an act stage (failover or drill) within the time budget: its results as the result lists them,
    and the retry it asks for. A bug in it still ends in a result naming every target."""
    settings = prepared.settings
    budget = cloud.Budget(invocation.left() - settings.time_margin)
    client = cloud.client_for(
        prepared.region or "",
        prepared.credentials,
        endpoint=settings.ebs_endpoint,
        protocol=settings.ebs_protocol,
    )
    try:
        acted = stage(client, budget)
    except Exception as error:
        log.LOGGER.error("unexpected_error", exc_info=error)
        failed = [
            act.TargetResult(t.target_id, t.client_token, "failed", error_code=type(error).__name__).to_dict()
            for t in targets
        ]
        return failed, None
    return [result.to_dict() for result in acted.results], acted.retry


# -- the result --------------------------------------------------------------------------------------------


def _ended(
    invocation: Invocation,
    prepared: Prepared | None,
    outcome: str,
    reason: str,
    targets: list[dict[str, Any]] | None = None,
    *,
    trigger: Trigger | None = None,
    error: dict[str, str] | None = None,
    batch: list[dict[str, Any]] | None = None,
    retry: TransientFailure | None = None,
    channels: tuple[Channel, ...] | None = None,
    credentials: Credentials | None = None,
) -> Ended:
    """The invocation's end: its result (built, scrubbed) and what telling it needs."""
    settings = prepared.settings if prepared is not None else None
    region = prepared.region if prepared is not None else None
    result = results.build(
        outcome=outcome,
        source=invocation.function_arn,
        request_id=invocation.request_id,
        trigger=None if trigger is None else results.trigger_summary(trigger),
        targets=targets or (),
        region=region,
        dry_run=not settings.live if settings is not None else _dry_run_by_environment(),
        reason=reason,
        duration_ms=(time.perf_counter() - invocation.started) * 1000,
        error=error,
        batch=batch,
    )
    # What came from outside (the event, EBS's answers) may hold a secret.
    scrubbed: dict[str, Any] = redact.REDACTOR.scrub(result)
    return Ended(
        scrubbed,
        channels=prepared.channels if prepared is not None else channels or (),
        credentials=prepared.credentials if prepared is not None else credentials,
        region=region,
        settings=settings,
        retry=retry,
        trigger=trigger,
    )


def _channels_after_a_bug() -> tuple[Channel, ...]:
    """The channels to tell of a bug in the settings stage, when the settings themselves are valid (it is
    news a person needs: told, or FC retries)."""
    try:
        return config.current().notify_targets
    except Exception:  # the bug may be there: nobody can be told, the log line tells
        return ()


def _dry_run_by_environment() -> bool:
    """Settings that could not be read still say their mode: only ``FAILOVER_MODE=live`` is live (and a
    configuration error makes no call either way)."""
    return os.environ.get("FAILOVER_MODE", "").strip().lower() != "live"


def _needs_a_person(result: dict[str, Any]) -> bool:
    """A result that changed state or found it changed (a failover, partial included), or needs a person
    (failed, refused, a configuration error): one that must reach someone, or be delivered again by FC."""
    data = result["data"]
    return data["outcome"] in outcomes.NEEDS_A_PERSON or any(
        t.get("outcome") in outcomes.NEWS for t in data["targets"]
    )


# -- settings and secrets ----------------------------------------------------------------------------------


def _configuration_error(invocation: Invocation, error: ConfigError) -> Ended:
    """A configuration error's result, told to the channels of ``NOTIFY_TARGETS`` when that variable itself
    is valid, with the credentials to sign with (every secret they hold registered with the redactor
    first)."""
    channels: tuple[Channel, ...] = ()
    credentials: Credentials | None = None
    try:
        if not error.variable.startswith("NOTIFY_"):
            channels = config.notify_targets(os.environ)
            environment = tuple(os.environ.get(name) for name in config.CREDENTIAL_VARIABLES)
            fields = _context_credentials(invocation)
            redact.REDACTOR.register((*environment, *fields, *(s for c in channels for s in c.secrets)))
            key, secret, token = environment
            fallback = Credentials(key, secret, token or None) if key and secret else None
            credentials = Credentials.pick(fields, fallback)
    except ConfigError:  # NOTIFY_TARGETS is wrong too: nobody can be told, the log line tells
        channels = ()
    result_error = {"code": "ConfigError", "variable": error.variable}
    return _ended(
        invocation, None, "failed", str(error), error=result_error, channels=channels, credentials=credentials
    )


def _credentials(invocation: Invocation, settings: config.Settings) -> Credentials | None:
    """The function's credentials, every secret this invocation holds told to the redactor first.

    The redactor learns whatever the context's credentials hold (even when incomplete, so unused), the
    ``ALIBABA_CLOUD_*`` ones and the callback token: the credentials the function uses are among them,
    whichever of the two places they came from.
    """
    fields = _context_credentials(invocation)
    channels = (secret for channel in settings.notify_targets for secret in channel.secrets)
    redact.REDACTOR.register((*settings.environment_secrets, settings.callback_token, *fields, *channels))
    return Credentials.pick(fields, settings.environment_credentials)


def _context_credentials(invocation: Invocation) -> tuple[str | None, str | None, str | None]:
    held = getattr(invocation.context, "credentials", None)
    return Credentials.fields(held) if held is not None else (None, None, None)


def _printable(event: Any) -> Any:
    """The raw event as text a log line can hold (``LOG_EVENT``), shortened to 64 kB, every value named
    like a secret masked (a caller's wrong token is a secret no registration knows)."""
    if isinstance(event, (bytes, bytearray)):
        return redact.shorten(redact.mask_named(bytes(event).decode("utf-8", "replace")), 65536)
    if isinstance(event, str):
        return redact.shorten(redact.mask_named(event), 65536)
    try:
        return redact.mask_named(event)
    except RecursionError:  # a dict nested deeper than a log line can walk
        return "(an event nested too deep to log)"
