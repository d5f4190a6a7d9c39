"""The FC handler: route the event, bind the log's keys, run the stages, tell, log one line, answer.

The stages are :mod:`ebs_failover.pipeline`'s; this module only routes (an event; a request through the
HTTP trigger, whose caller gets an HTTP answer; a timer's drill is an event like the others) and raises
for FC's retry. Every invocation ends in exactly one result (returned) and one ``result`` log line, whose
level follows the outcome (:func:`ebs_failover.outcomes.log_level`; ``ERROR`` for every invocation that
raises). Two things raise on purpose, after logging, so that FC's async retry delivers the event again
(safe: the ClientToken is the same): a transient EBS failure that outlived the time budget, and a result
that changed state but could not be published.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from . import log, outcomes, pipeline
from .pipeline import Decision, decide_event
from .web import answer

__all__ = ["Decision", "Invoked", "decide_event", "handler", "invoke"]

_cold_start = True


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
    invocation = pipeline.Invocation.of(event, context)
    function = getattr(context, "function", None)
    log.bind(
        service=os.environ.get("SERVICE_NAME") or "ebs-failover",  # as config reads it, even when invalid
        cold_start=cold,
        function_name=getattr(function, "name", None),
        function_memory_size=getattr(function, "memory", None),
        function_arn=invocation.function_arn,
        function_request_id=invocation.request_id,
        **_trace(getattr(context, "tracing", None)),
    )
    ended = pipeline.run(invocation)
    deliveries = pipeline.tell(ended, invocation)
    failure = pipeline.failure(ended, deliveries)
    result = ended.result
    outcome = result["data"]["outcome"]
    level = "error" if failure is not None else outcomes.log_level(outcome)
    keys: dict[str, Any] = {"exc_info": failure} if failure is not None else {}
    getattr(log.LOGGER, level)("result", outcome=outcome, notifications=deliveries, result=result, **keys)
    if failure is not None:
        raise failure
    return Invoked(result, answer.response(result) if invocation.over_http else result)


def _trace(tracing: Any) -> dict[str, str]:
    """``trace_id`` from FC's tracing context (python3.10's ``span_context``: ``trace:span:parent:flags``)."""
    span_context = getattr(tracing, "span_context", None)
    if isinstance(span_context, str) and span_context.split(":", 1)[0]:
        return {"trace_id": span_context.split(":", 1)[0]}
    return {}
