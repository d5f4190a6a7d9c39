"""The FC handler: parse -> decide -> act -> tell, and one canonical log line.

The one place that composes the stages. Every invocation ends in exactly one
result (returned) and one ``result`` log line. Two things raise on purpose,
after logging, so that FC's async retry delivers the event again (safe: the
ClientToken is the same): a transient EBS failure that outlived the time
budget, and a result that changed state but could not be published.
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any

# ebs is light (it imports the SDK when its first client is built): importing it here, not in
# _act, spares every failover importlib's Python code that a function-level import runs.
from . import config, ebs, log, results
from .credentials import Credentials
from .policy import Plan, decide
from .triggers import InvalidEvent, Trigger, parse

__all__ = ["handler"]

_cold_start = True
_DEFAULT_TIMEOUT_SECONDS = 60.0
_RESOURCES_SHOWN = 50


def handler(event: Any, context: Any) -> dict[str, Any]:
    """FC entry point: ``event`` is bytes on FC (str and dict also accepted)."""
    global _cold_start  # Powertools' cold_start: the first invocation of the instance
    started = time.perf_counter()
    cold, _cold_start = _cold_start, False
    settings: config.Settings | config.ConfigError
    try:
        settings = config.current()
        service = settings.service
    except config.ConfigError as error:
        settings, service = error, os.environ.get("SERVICE_NAME") or "ebs-failover"
    function = getattr(context, "function", None)
    with log.invocation(
        service=service,
        cold_start=cold,
        function_name=getattr(function, "name", None),
        function_memory_size=getattr(function, "memory", None),
        function_request_id=getattr(context, "request_id", None),
    ):
        invocation = _Invocation(event, context, started)
        result = invocation.run(settings)
        deliveries = invocation.tell(result)
        log.LOGGER.info(
            "result",
            outcome=result["data"]["outcome"],
            notifications=deliveries,
            # Rendered (and scrubbed) once, when the result was built: the line embeds that text.
            result=invocation.rendered_result or result,
        )
        if cold:
            # The modules and clients the cold start built live as long as the instance:
            # keep the collector from rescanning them on every warm invocation.
            gc.freeze()
        if invocation.retry is not None:
            raise invocation.retry
        undelivered = [d for d in deliveries if not d["ok"]]
        if undelivered and result["data"]["outcome"] == "failed_over":
            # The state changed and nobody was told: FC's retry finds the pair failed over and tells.
            from .notify import NotifyError

            first = undelivered[0]
            # FC prints a raised error with its message: scrub it like every log line.
            message = log.REDACTOR.scrub(str(first.get("error")))
            raise NotifyError(first["channel"], str(first.get("code")), message)
        return result


class _Invocation:
    """One event's trip through the stages; ``run`` never raises."""

    def __init__(self, event: Any, context: Any, started: float) -> None:
        self.event, self.context, self.started = event, context, started
        self.request_id: str | None = getattr(context, "request_id", None)
        self.retry: Exception | None = None
        self.trigger: Trigger | None = None
        self.region: str | None = None
        self.settings: config.Settings | None = None
        self.credentials: Credentials | None = None
        #: The result's JSON as scrubbed (:meth:`_result`), for the log line to embed.
        self.rendered_result: log.Rendered | None = None

    def tell(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        """Publish the result to every configured channel; a channel failure is reported, not raised."""
        if self.settings is None or not self.settings.notify_targets:
            return []
        from .notify import publish

        try:
            return publish(
                result,
                self.settings.notify_targets,
                credentials=self.credentials,
                # The topic lives where the function runs, whatever FAILOVER_REGION says.
                region=getattr(self.context, "region", None) or self.region or "",
                account_id=str(getattr(self.context, "account_id", None) or ""),
                endpoint=self.settings.mns_endpoint,
            )
        except Exception as error:  # a channel must never turn into a traceback
            return [
                {"channel": ",".join(self.settings.notify_targets), "ok": False, "code": type(error).__name__}
            ]

    def run(self, settings: config.Settings | config.ConfigError) -> dict[str, Any]:
        try:
            return self._run(settings)
        except Exception as error:  # the last line of defence: a result, never a traceback
            log.LOGGER.error("unexpected_error", error_type=type(error).__name__)
            return self._result("failed", "unexpected error", error={"code": type(error).__name__})

    def _run(self, settings: config.Settings | config.ConfigError) -> dict[str, Any]:
        if isinstance(settings, config.ConfigError):
            return self._result(
                "failed", str(settings), error={"code": "ConfigError", "variable": settings.variable}
            )
        self.settings = settings
        self._find_credentials(settings)
        if settings.log_event:
            log.LOGGER.info("raw_event", raw_event=_printable(self.event))
        try:
            self.trigger = parse(self.event, request_id=self.request_id)
        except InvalidEvent as error:
            return self._result("rejected", str(error), error={"code": "InvalidEvent", "field": error.field})
        log.bind(correlation_id=self.trigger.identity)
        if self.trigger.http is not None:
            from . import callback  # ipaddress and hmac: only HTTP-trigger events pay for them

            refused = callback.refusal(self.trigger.http, settings.callback_token, settings.callback_networks)
            if refused is not None:
                return self._result("rejected", refused, error={"code": "Unauthorized"})
        plan = decide(self.trigger, settings)
        self.region = settings.region or getattr(self.context, "region", None)
        if plan.outcome is not None:
            return self._result(plan.outcome, plan.reason)
        if not plan.live:
            targets = [
                {"pair_id": t.pair_id, "client_token": t.client_token, "outcome": "dry_run"}
                for t in plan.targets
            ]
            return self._result("dry_run", plan.reason + " (FAILOVER_MODE is dry-run)", targets)
        return self._act(plan, settings)

    def _act(self, plan: Plan, settings: config.Settings) -> dict[str, Any]:
        if self.region is None:
            return self._result("failed", "no region: set FAILOVER_REGION", error={"code": "ConfigError"})
        function = getattr(self.context, "function", None)
        timeout = float(getattr(function, "timeout", None) or _DEFAULT_TIMEOUT_SECONDS)
        elapsed = time.perf_counter() - self.started
        budget = ebs.Budget(timeout - settings.time_margin - elapsed)
        client = ebs.client_for(
            self.region,
            self.credentials,
            endpoint=settings.ebs_endpoint,
            protocol=settings.ebs_protocol,
        )
        done: list[dict[str, Any]] = []
        for target in plan.targets:
            log.bind(client_token=target.client_token, replica_pair_id=target.pair_id)
            try:
                outcome = ebs.fail_over(client, target, budget)
            except ebs.TransientFailure as failure:
                self.retry = failure
                outcome = ebs.TargetResult(
                    target.pair_id,
                    target.client_token,
                    "failed",
                    error_code=failure.code,
                    attempts=failure.attempts,
                    hint="EBS kept failing transiently; FC's async retry will deliver the event again",
                )
            done.append(outcome.to_dict())
        overall = results.aggregate([t["outcome"] for t in done])
        return self._result(overall, plan.reason, done)

    def _result(
        self,
        outcome: str,
        reason: str,
        targets: list[dict[str, Any]] | None = None,
        error: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        trigger = self.trigger
        summary = None
        if trigger is not None:
            summary = {
                "kind": trigger.kind,
                "identity": trigger.identity,
                "state": trigger.state,
                "level": trigger.level,
                # Bounded: an alarm may name thousands of resources, the result must fit a message.
                "resource_ids": list(trigger.resource_ids[:_RESOURCES_SHOWN]),
                "resource_count": len(trigger.resource_ids),
                "rule": trigger.rule,
                "event_type": trigger.event_type,
                **({"summary": dict(trigger.summary)} if trigger.summary else {}),
            }
        # What came from outside (the event, EBS's answers) may hold a secret: one scrub of the whole.
        # Its keys are all the function's own (the summaries pick fixed fields): only values can leak.
        result, self.rendered_result = log.REDACTOR.scrub_rendered(
            results.build(
                outcome=outcome,
                source=_source(self.context),
                request_id=self.request_id,
                trigger=summary,
                targets=targets or (),
                region=self.region,
                dry_run=outcome == "dry_run",
                reason=reason,
                duration_ms=(time.perf_counter() - self.started) * 1000,
                error=error,
            )
        )
        return result  # type: ignore[no-any-return]

    def _find_credentials(self, settings: config.Settings) -> None:
        """Find the function's credentials, and tell the redactor every secret this invocation holds.

        The redactor learns whatever the context's credentials hold, in either spelling and even
        when incomplete (so unused), the ``ALIBABA_CLOUD_*`` ones and the callback token: the
        credentials the function uses are among them, whichever the two places they came from.
        Registering the same secrets as the last invocation is a no-op.
        """
        held = getattr(self.context, "credentials", None)
        fields = Credentials.fields(held) if held is not None else (None, None, None)
        log.REDACTOR.register((*settings.environment_secrets, settings.callback_token, *fields))
        self.credentials = Credentials.pick(fields, settings.environment_credentials)


def _source(context: Any) -> str:
    function = getattr(context, "function", None)
    name = getattr(function, "name", None) or "ebs-failover"
    region = getattr(context, "region", None) or "local"
    account = getattr(context, "account_id", None) or "local"
    return f"acs:fc:{region}:{account}:functions/{name}"


def _printable(event: Any) -> Any:
    if isinstance(event, bytes):
        return event.decode("utf-8", "replace")[:65536]
    return event
