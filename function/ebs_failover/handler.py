"""The FC handler: parse -> decide -> act -> tell, and one canonical log line.

The one place that composes the stages. Every invocation ends in exactly one
result (returned) and one ``result`` log line, whose level follows the outcome
(``ERROR`` for ``failed`` and for every invocation that raises, ``WARNING`` for
``refused`` and ``rejected``). Two things raise on purpose, after logging, so
that FC's async retry delivers the event again (safe: the ClientToken is the
same): a transient EBS failure that outlived the time budget, and a result that
changed state but could not be published.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import act, callback, cloud, config, http, log, outcomes, redact, results
from .cloud.credentials import Credentials
from .errors import ConfigError, EbsFailoverError, InvalidEvent, NotifyError, TransientFailure
from .notify.channels import Channel
from .policy import Plan, Target, cap_batch, decide
from .triggers import Trigger, is_http_request, parse, split_batch

__all__ = ["Decision", "Invoked", "decide_event", "handler", "invoke"]

_cold_start = True
_DEFAULT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Decision:
    """What the function would do with one event, before any cloud call: the trigger and the plan.

    ``trigger`` is None for a rejected event; ``error`` says why an event was rejected.
    """

    trigger: Trigger | None
    plan: Plan
    error: dict[str, str] | None = None


def decide_event(event: Any, settings: config.Settings, *, request_id: str | None, now: float) -> Decision:
    """parse -> the HTTP trigger's gate -> decide, at ``now`` (unix seconds). Pure: no I/O, no SDK
    (``ebs-failover check`` uses it)."""
    try:
        trigger = parse(event, request_id=request_id)
    except InvalidEvent as error:
        return Decision(
            None, _nothing("rejected", str(error)), {"code": "InvalidEvent", "field": error.field}
        )
    if trigger.http is not None:
        refused = callback.refusal(trigger.http, settings.callback_token, settings.callback_networks)
        if refused is not None:
            return Decision(trigger, _nothing("rejected", refused.reason), {"code": refused.code})
    return Decision(trigger, decide(trigger, settings, now))


@dataclass(frozen=True, slots=True)
class Invoked:
    """One invocation: its ``result`` (the CloudEvent, as logged and published) and ``answer``, what FC
    returns to the invoker (the result itself, or for an HTTP-trigger request an HTTP answer)."""

    result: dict[str, Any]
    answer: dict[str, Any]


def handler(event: Any, context: Any) -> dict[str, Any]:
    """FC entry point: ``event`` is bytes on FC (str and dict also accepted)."""
    return invoke(event, context).answer


def invoke(event: Any, context: Any) -> Invoked:
    """What :func:`handler` does, with the whole result beside the answer (for the command line and the
    tests, which replay HTTP-trigger requests too). Raises what the handler raises."""
    global _cold_start  # Powertools' cold_start: the first invocation of the instance
    cold, _cold_start = _cold_start, False
    return log.isolated(_handle, event, context, cold)


def _handle(event: Any, context: Any, cold: bool) -> Invoked:
    invocation = _Invocation(event, context)
    function = getattr(context, "function", None)
    log.bind(
        service=os.environ.get("SERVICE_NAME") or "ebs-failover",  # as config reads it, even when invalid
        cold_start=cold,
        function_name=getattr(function, "name", None),
        function_memory_size=getattr(function, "memory", None),
        function_arn=_function_arn(context),
        function_request_id=invocation.request_id,
        **_trace(getattr(context, "tracing", None)),
    )
    result = invocation.run()
    deliveries = invocation.tell(result)
    failure = invocation.failure(result, deliveries)
    outcome = result["data"]["outcome"]
    level = "error" if failure is not None else outcomes.log_level(outcome)
    keys: dict[str, Any] = {"exc_info": failure} if failure is not None else {}
    getattr(log.LOGGER, level)("result", outcome=outcome, notifications=deliveries, result=result, **keys)
    if failure is not None:
        raise failure
    return Invoked(result, http.response(result) if invocation.over_http else result)


class _Invocation:
    """One event's trip through the stages; ``run`` never raises."""

    def __init__(self, event: Any, context: Any) -> None:
        self.started = time.perf_counter()
        self.event, self.context = event, context
        self.request_id: str | None = getattr(context, "request_id", None)
        self.retry: TransientFailure | None = None
        self.trigger: Trigger | None = None
        self.region: str | None = None
        self.credentials: Credentials | None = None
        self.settings: config.Settings | None = None
        self.channels: tuple[Channel, ...] = ()
        #: The event came through the HTTP trigger: its caller gets an HTTP answer, not the result.
        self.over_http = is_http_request(event)

    def run(self) -> dict[str, Any]:
        try:
            return self._run()
        except Exception as error:  # the last line of defence: a result, never a traceback
            log.LOGGER.error("unexpected_error", exc_info=error)
            return self._result("failed", "unexpected error", error={"code": type(error).__name__})

    def tell(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        """Publish the result to every channel that wants it; a channel failure is reported, not raised.

        An HTTP-trigger request that did not authenticate is logged, never published: anyone who finds
        the URL could otherwise flood the on-call channels.
        """
        if (result["data"].get("error") or {}).get("code") in http.UNANSWERED or not self.channels:
            return []
        from .notify import DEFAULT_TIMEOUT, Where, publish

        settings = self.settings
        where = Where(
            credentials=self.credentials,
            # The topic and the bus live where the function runs, whatever FAILOVER_REGION says.
            region=getattr(self.context, "region", None) or self.region or "",
            account_id=str(getattr(self.context, "account_id", None) or ""),
            mns_endpoint=settings.mns_endpoint if settings else os.environ.get("MNS_ENDPOINT") or None,
            eventbridge_endpoint=(
                settings.eventbridge_endpoint if settings else os.environ.get("EVENTBRIDGE_ENDPOINT") or None
            ),
            # Within what the function has left (the margin is kept for this).
            timeout=max(min(DEFAULT_TIMEOUT, self._left() - 0.5), 0.5),
        )
        try:
            return publish(result, self.channels, where)
        except Exception as error:  # a channel must never turn into a traceback
            label = ",".join(channel.label for channel in self.channels)
            return [{"channel": label, "ok": False, "code": type(error).__name__}]

    def failure(self, result: dict[str, Any], deliveries: list[dict[str, Any]]) -> EbsFailoverError | None:
        """What the handler raises so that FC delivers the event again, if anything: a transient EBS
        failure, or a result a person needs that every channel meant for it failed to take."""
        if self.retry is not None:
            return self.retry
        if not deliveries or any(d["ok"] for d in deliveries) or not _needs_a_person(result):
            return None
        # Nobody was told: FC's retry runs the event again (the ClientTokens make that safe) and tells.
        first = deliveries[0]
        message = redact.REDACTOR.scrub_text(str(first.get("error")))  # FC prints it: masked
        return NotifyError(first["channel"], str(first.get("code")), message)

    def _run(self) -> dict[str, Any]:
        try:
            settings = self.settings = config.current()
        except ConfigError as error:
            self._channels_despite(error)
            return self._result(
                "failed", str(error), error={"code": "ConfigError", "variable": error.variable}
            )
        self.channels = settings.notify_targets
        self._find_credentials(settings)
        if settings.log_event:
            log.LOGGER.info("raw_event", raw_event=_printable(self.event))
        self.region = settings.region or getattr(self.context, "region", None)
        try:
            batch = split_batch(self.event)
        except InvalidEvent as error:
            return self._result("rejected", str(error), error={"code": "InvalidEvent", "field": error.field})
        if batch is not None:
            return self._run_batch(batch, settings)
        decision = decide_event(self.event, settings, request_id=self.request_id, now=time.time())
        self.trigger = decision.trigger
        if self.trigger is not None:
            log.bind(correlation_id=self.trigger.identity)
            if self.trigger.http is not None and "x-fc-trace-id" in self.trigger.http.headers:
                log.bind(trace_id=self.trigger.http.headers["x-fc-trace-id"])
        plan = decision.plan
        if plan.outcome is not None:
            # A drill that cannot run (nothing configured, over the cap) proves nothing: it pages.
            outcome = "drill_failed" if plan.action == "drill" else plan.outcome
            return self._result(outcome, plan.reason, error=decision.error)
        cannot = self._cannot_act(settings)
        if cannot is not None:
            return cannot
        if plan.action == "drill":
            drilled = self._drill(plan, settings)
            return self._result(outcomes.drill_outcome(t["outcome"] for t in drilled), plan.reason, drilled)
        done = self._fail_over(
            [(target, self._guards(plan, self.trigger, settings)) for target in plan.targets], settings
        )
        reason = plan.reason if plan.live else plan.reason + " (FAILOVER_MODE is dry-run: no Failover call)"
        return self._result(outcomes.aggregate([t["outcome"] for t in done]), reason, done)

    def _run_batch(self, batch: list[dict[str, Any]], settings: config.Settings) -> dict[str, Any]:
        """EventBridge's event-streaming batch: each event decided on its own, the batch capped as one
        (FAILOVER_MAX_TARGETS), every event's targets failed over together, one result listing every
        event's outcome."""
        now = time.time()
        decided = [_batch_decision(event, settings, now) for event in batch]
        plans = cap_batch([d.plan for d in decided], settings)
        decisions = [Decision(d.trigger, plan, d.error) for d, plan in zip(decided, plans, strict=True)]
        identities = ",".join(d.trigger.identity for d in decisions if d.trigger is not None)
        log.bind(correlation_id=redact.shorten(identities, 512))
        work = [
            (target, self._guards(d.plan, d.trigger, settings))
            for d in decisions
            if d.plan.outcome is None
            for target in d.plan.targets
        ]
        if work:
            cannot = self._cannot_act(settings)
            if cannot is not None:
                return cannot
        done = iter(self._fail_over(work, settings) if work else [])
        events: list[dict[str, Any]] = []
        targets: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        for index, decision in enumerate(decisions):
            mine = [next(done) for _ in (() if decision.plan.outcome is not None else decision.plan.targets)]
            outcome = decision.plan.outcome or outcomes.aggregate([t["outcome"] for t in mine])
            entry = results.batch_entry(index, decision.trigger, outcome, decision.plan.reason, mine)
            if decision.error is not None:  # the element's field, as a path from the batch
                field = decision.error.get("field")
                entry["error"] = {**decision.error, "field": f"{index}/{field}" if field else str(index)}
                errors.append(entry["error"])
            events.append(entry)
            targets.extend({**target, "event_index": index} for target in mine)
        overall = outcomes.aggregate([e["outcome"] for e in events])
        error = errors[0] if overall == "rejected" else None  # every event was rejected: the first's why
        reason = f"a batch of {len(batch)} events"
        return self._result(overall, reason, targets, error=error, batch=events)

    def _cannot_act(self, settings: config.Settings) -> dict[str, Any] | None:
        """The ``failed`` result when EBS cannot be called at all: no region, or no time."""
        if self.region is None:
            return self._result("failed", "no region: set FAILOVER_REGION", error={"code": "ConfigError"})
        if self._left() - settings.time_margin <= 0:
            return self._result(
                "failed",
                f"the function timeout ({self._timeout():g} s) leaves no time for EBS after "
                f"FAILOVER_TIME_MARGIN ({settings.time_margin:g} s)",
                error={"code": "ConfigError", "variable": "FAILOVER_TIME_MARGIN"},
            )
        return None

    def _guards(self, plan: Plan, trigger: Trigger | None, settings: config.Settings) -> act.Guards:
        """What the act stage checks for this plan's targets (once :meth:`_cannot_act` found a region)."""
        return act.Guards(
            region=self.region or "",
            live=plan.live,
            verify_seconds=settings.verify_seconds,
            max_data_loss=settings.max_data_loss,
            by_operator=trigger is not None and trigger.kind == "manual",
        )

    def _fail_over(
        self, work: list[tuple[Target, act.Guards]], settings: config.Settings
    ) -> list[dict[str, Any]]:
        """Every target, many at once (FAILOVER_CONCURRENCY, FAILOVER_CALLS_PER_SECOND); dry-run makes every
        call but Failover."""

        def stage(client: cloud.EbsClient, budget: cloud.Budget) -> act.Acted:
            return act.fail_over(
                client,
                work,
                budget,
                concurrency=settings.concurrency,
                calls_per_second=settings.calls_per_second,
            )

        return self._act(stage, [target for target, _ in work], settings)

    def _drill(self, plan: Plan, settings: config.Settings) -> list[dict[str, Any]]:
        """A drill of every target, many at once, paced like a failover; the same in both modes (a drill
        changes nothing in production)."""

        def stage(client: cloud.EbsClient, budget: cloud.Budget) -> act.Acted:
            return act.drill(
                client,
                plan.targets,
                self.region or "",
                budget,
                keep=plan.keep,
                concurrency=settings.concurrency,
                calls_per_second=settings.calls_per_second,
            )

        return self._act(stage, list(plan.targets), settings)

    def _act(
        self,
        stage: Callable[[cloud.EbsClient, cloud.Budget], act.Acted],
        targets: list[Target],
        settings: config.Settings,
    ) -> list[dict[str, Any]]:
        """Run an act stage (failover or drill) within the time budget; its results as the result lists
        them. A bug in it still ends in a result naming every target."""
        budget = cloud.Budget(self._left() - settings.time_margin)
        client = cloud.client_for(
            self.region or "",
            self.credentials,
            endpoint=settings.ebs_endpoint,
            protocol=settings.ebs_protocol,
        )
        try:
            acted = stage(client, budget)
        except Exception as error:
            log.LOGGER.error("unexpected_error", exc_info=error)
            return [
                act.TargetResult(
                    t.target_id, t.client_token, "failed", error_code=type(error).__name__
                ).to_dict()
                for t in targets
            ]
        if acted.retry is not None:
            self.retry = acted.retry
        return [result.to_dict() for result in acted.results]

    def _left(self) -> float:
        """Seconds before FC ends the invocation."""
        return self._timeout() - (time.perf_counter() - self.started)

    def _timeout(self) -> float:
        function = getattr(self.context, "function", None)
        return float(getattr(function, "timeout", None) or _DEFAULT_TIMEOUT_SECONDS)

    def _result(
        self,
        outcome: str,
        reason: str,
        targets: list[dict[str, Any]] | None = None,
        error: dict[str, str] | None = None,
        batch: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        result = results.build(
            outcome=outcome,
            source=_function_arn(self.context),
            request_id=self.request_id,
            trigger=None if self.trigger is None else results.trigger_summary(self.trigger),
            targets=targets or (),
            region=self.region,
            dry_run=self._dry_run(),
            reason=reason,
            duration_ms=(time.perf_counter() - self.started) * 1000,
            error=error,
            batch=batch,
        )
        # What came from outside (the event, EBS's answers) may hold a secret.
        scrubbed: dict[str, Any] = redact.REDACTOR.scrub(result)
        return scrubbed

    def _dry_run(self) -> bool:
        """Whether the mode was dry-run. Settings that could not be read still say their mode: only
        ``FAILOVER_MODE=live`` is live (and a configuration error makes no call either way)."""
        if self.settings is not None:
            return not self.settings.live
        return os.environ.get("FAILOVER_MODE", "").strip().lower() != "live"

    def _channels_despite(self, error: ConfigError) -> None:
        """The channels to tell of a configuration error, when ``NOTIFY_TARGETS`` itself is valid, and the
        credentials to sign with (every secret they hold registered with the redactor first)."""
        if error.variable.startswith("NOTIFY_"):
            return
        try:
            self.channels = config.notify_targets(os.environ)
        except ConfigError:
            return
        environment = tuple(os.environ.get(name) for name in config.CREDENTIAL_VARIABLES)
        held = getattr(self.context, "credentials", None)
        fields = Credentials.fields(held) if held is not None else (None, None, None)
        redact.REDACTOR.register((*environment, *fields, *(s for c in self.channels for s in c.secrets)))
        key, secret, token = environment
        fallback = Credentials(key, secret, token or None) if key and secret else None
        self.credentials = Credentials.pick(fields, fallback)

    def _find_credentials(self, settings: config.Settings) -> None:
        """Find the function's credentials, and tell the redactor every secret this invocation holds.

        The redactor learns whatever the context's credentials hold (even when incomplete, so unused),
        the ``ALIBABA_CLOUD_*`` ones and the callback token: the credentials the function uses are
        among them, whichever of the two places they came from.
        """
        held = getattr(self.context, "credentials", None)
        fields = Credentials.fields(held) if held is not None else (None, None, None)
        channels = (secret for channel in settings.notify_targets for secret in channel.secrets)
        redact.REDACTOR.register((*settings.environment_secrets, settings.callback_token, *fields, *channels))
        self.credentials = Credentials.pick(fields, settings.environment_credentials)


def _needs_a_person(result: dict[str, Any]) -> bool:
    """A result that changed state or found it changed (a failover, partial included), or needs a person
    (failed, refused, a configuration error): one that must reach someone, or be delivered again by FC."""
    data = result["data"]
    return data["outcome"] in outcomes.NEEDS_A_PERSON or any(
        t.get("outcome") in outcomes.NEWS for t in data["targets"]
    )


def _batch_decision(event: dict[str, Any], settings: config.Settings, now: float) -> Decision:
    """One event of an event-streaming batch: only an EventBridge event, and only a failover's decision
    (an element shaped like a manual request or a timer's drill, a CloudEvent's ``specversion`` added, is
    not one: a batch never carries a manual failover, and a drill never reaches the failover stage)."""
    decision = decide_event(event, settings, request_id=None, now=now)
    trigger = decision.trigger
    if trigger is not None and (trigger.kind != "eventbridge" or decision.plan.action != "failover"):
        return Decision(
            None,
            _nothing("rejected", "a batch holds EventBridge events only, not a manual request or a timer's"),
            {"code": "InvalidEvent", "field": ""},
        )
    return decision


def _nothing(outcome: str, reason: str) -> Plan:
    return Plan((), False, reason, outcome)


def _function_arn(context: Any) -> str:
    """``acs:fc:<region>:<account>:functions/<name>``: the result's ``source``, the log's ``function_arn``."""
    function = getattr(context, "function", None)
    name = getattr(function, "name", None) or "ebs-failover"
    region = getattr(context, "region", None) or "local"
    account = getattr(context, "account_id", None) or "local"
    return f"acs:fc:{region}:{account}:functions/{name}"


def _trace(tracing: Any) -> dict[str, str]:
    """``trace_id`` from FC's tracing context (python3.10's ``span_context``: ``trace:span:parent:flags``)."""
    span_context = getattr(tracing, "span_context", None)
    if isinstance(span_context, str) and span_context.split(":", 1)[0]:
        return {"trace_id": span_context.split(":", 1)[0]}
    return {}


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
