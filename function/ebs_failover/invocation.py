"""What one invocation's stages hand on: the records of :mod:`ebs_failover.pipeline`.

:class:`Invocation` (what FC handed over, the event decoded once) → :class:`Prepared` (the settings stage)
→ :class:`Decided` (one :class:`Decision` per event) → :class:`Ended` (the result and what telling it
needs). Frozen: a stage makes its own, it never changes another's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import config
from .cloud.credentials import Credentials
from .errors import InvalidEvent, TransientFailure
from .notify.channels import Channel
from .policy import Plan
from .triggers import Batch, Payload, Trigger, decode

if TYPE_CHECKING:
    from .ledger.journal import Journal
from .web import envelope

__all__ = ["Decided", "Decision", "Ended", "Invocation", "Prepared", "function_arn"]

_DEFAULT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Invocation:
    """What FC handed over: the event (decoded once) and the context, and when the invocation began."""

    event: Any
    context: Any
    request_id: str | None
    #: ``time.perf_counter()`` when the handler was entered.
    started: float
    #: The event decoded (one event or a batch), or why it could not be.
    decoded: Payload | Batch | InvalidEvent

    @classmethod
    def of(cls, event: Any, context: Any) -> Invocation:
        started = time.perf_counter()
        try:
            decoded: Payload | Batch | InvalidEvent = decode(event)
        except InvalidEvent as error:
            decoded = error
        return cls(event, context, getattr(context, "request_id", None), started, decoded)

    @property
    def over_http(self) -> bool:
        """The event came through the HTTP trigger: its caller gets an HTTP answer, not the result."""
        return isinstance(self.decoded, Payload) and envelope.is_http_request(self.decoded)

    def timeout(self) -> float:
        function = getattr(self.context, "function", None)
        return float(getattr(function, "timeout", None) or _DEFAULT_TIMEOUT_SECONDS)

    def left(self) -> float:
        """Seconds before FC ends the invocation."""
        return self.timeout() - (time.perf_counter() - self.started)

    @property
    def function_arn(self) -> str:
        """``acs:fc:<region>:<account>:functions/<name>``: the result's ``source``, the log's
        ``function_arn``."""
        return function_arn(self.context)


@dataclass(frozen=True, slots=True)
class Prepared:
    """The settings stage's output: the validated settings, the credentials, the region, the channels."""

    settings: config.Settings
    credentials: Credentials | None
    region: str | None
    channels: tuple[Channel, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """What the function would do with one event, before any cloud call: the trigger and the plan.

    ``trigger`` is None for a rejected event; ``error`` says why an event was rejected.
    """

    trigger: Trigger | None
    plan: Plan
    error: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Decided:
    """The decide stage's output: one event's decision, or each decision of a batch (``batch``)."""

    decisions: tuple[Decision, ...]
    batch: bool = False


@dataclass(frozen=True, slots=True)
class Ended:
    """How the invocation ended: its result (the CloudEvent, scrubbed), and what telling it needs."""

    result: dict[str, Any]
    channels: tuple[Channel, ...] = ()
    credentials: Credentials | None = None
    region: str | None = None
    settings: config.Settings | None = None
    #: Set when EBS kept failing transiently until the time budget ran out: FC's retry is asked for.
    retry: TransientFailure | None = None
    #: The single event's trigger, when it was parsed (None for a batch or a rejected event).
    trigger: Trigger | None = field(default=None, compare=False)
    #: The incident's journal in the ledger, when this delivery used one (telling reads and records it).
    journal: Journal | None = field(default=None, compare=False)


def function_arn(context: Any) -> str:
    """``acs:fc:<region>:<account>:functions/<name>`` of the FC context."""
    function = getattr(context, "function", None)
    name = getattr(function, "name", None) or "ebs-failover"
    region = getattr(context, "region", None) or "local"
    account = getattr(context, "account_id", None) or "local"
    return f"acs:fc:{region}:{account}:functions/{name}"
