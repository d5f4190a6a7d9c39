"""Every exception the package raises on purpose, in one place.

The hierarchy::

    EbsFailoverError            the base: catch it to catch anything ebs-failover means to raise
    ├── InvalidEvent            parse: the event is not a shape the function accepts (-> ``rejected``)
    ├── DuplicateKey            parse and config: a JSON object names one key twice (raised by
    │                           :mod:`ebs_failover.strictjson`, turned at once into InvalidEvent
    │                           or ConfigError)
    ├── ConfigError             config: an environment variable holds a value the function cannot use
    ├── CloudCallError          act: a cloud call did not succeed (``action``, ``transient``, ``code``)
    │   ├── EbsError            EBS answered an error, or did not answer (reduced to what we act on)
    │   ├── OutOfTime           no time was left in the invocation's budget for the call (or its turn
    │   │                       under the pacing): nothing was sent; our own, never an EBS code
    │   └── UnusableAnswer      EBS answered, but not in a form the function can use (no DrillId, pages
    │                           that never end); our own, never an EBS code
    ├── TransientFailure        act: EBS kept failing transiently until the time budget ran out;
    │                           raised out of the handler so that FC's async retry delivers the event again
    ├── NotifyError             tell: a channel did not take the result; raised out of the handler when a
    │                           result that changed state reached nobody
    ├── DeliveryFailed          tell, inside ``notify/`` only: one delivery's failure (``code``, ``message``,
    │                           ``details`` such as the RequestId), on its way to that channel's entry
    ├── LedgerError             the incident ledger (``operation``): never a gate for a failover
    │   ├── LedgerUnavailable   the store did not answer (down, slow, refused): the delivery goes on
    │   │                       without the ledger and says so
    │   └── LedgerUnusable      the store answered in a way that breaks the ledger's promise (it overwrote
    │                           instead of refusing: a versioned bucket); told until fixed
    └── CliError                the command line: a verb cannot go on (one stderr line and an exit code)

Each carries the fields its handler needs (the offending field, the variable, EBS's code and RequestId, the
channel), and a message that names them. A message may quote a value from outside (``InvalidEvent.got``,
EBS's message): whatever shows it (the result, a log line, the command line) masks it through
:mod:`ebs_failover.redact` first.
"""

from __future__ import annotations

from typing import Any

from .ebs_codes import CodeRule, rule_for
from .redact import shorten

__all__ = [
    "CliError",
    "CloudCallError",
    "ConfigError",
    "DeliveryFailed",
    "DuplicateKey",
    "EbsError",
    "EbsFailoverError",
    "InvalidEvent",
    "LedgerError",
    "LedgerUnavailable",
    "LedgerUnusable",
    "NotifyError",
    "OutOfTime",
    "TransientFailure",
    "UnusableAnswer",
]

#: Longest rendering of an offending value inside a message.
_GOT_LIMIT = 80


class EbsFailoverError(Exception):
    """The base of every exception ebs-failover raises on purpose."""


class InvalidEvent(EbsFailoverError):
    """The event is not one ``parse`` accepts.

    ``field``: JSON-pointer-ish path of the offending field, segments joined with ``/`` and no leading slash
    (``"alertState"``, ``"data/resourceId"``, ``"body/alertState"`` inside an HTTP envelope); ``""`` for the
    whole event. ``expected``: what was expected. ``got``: the offending value as text, or ``None`` (a missing
    field, or a value not worth echoing); rendered with ``repr`` and shortened.
    """

    def __init__(self, field: str, expected: str, got: str | None = None) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        where = f"event field {field!r}" if field else "event"
        message = f"{where}: expected {expected}"
        if got is not None:
            message += f", got {shorten(got, _GOT_LIMIT)!r}"
        super().__init__(message)


class DuplicateKey(EbsFailoverError):
    """A JSON object names ``key`` twice (see :mod:`ebs_failover.strictjson`)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class ConfigError(EbsFailoverError):
    """One environment variable has a value the function cannot use."""

    def __init__(self, variable: str, expected: str, got: str | None = None) -> None:
        self.variable = variable
        self.expected = expected
        shown = "" if got is None else f", got {shorten(got, _GOT_LIMIT)!r}"
        super().__init__(f"environment variable {variable}: expected {expected}{shown}")


class CloudCallError(EbsFailoverError):
    """A cloud call that did not succeed, in the terms the act stage judges it by.

    ``action``: the API action (``FailoverDiskReplicaPair``…), when known. ``code``: the service's error code,
    or None when the failure is the function's own (:class:`OutOfTime`, :class:`UnusableAnswer`).
    ``transient``: whether the same call, with the same ClientToken, may succeed later.
    """

    code: str | None = None
    status: int | None = None
    request_id: str | None = None
    #: Seconds the service asked to wait before a retry (its ``x-acs-retry-after``, in milliseconds).
    retry_after: float | None = None

    def __init__(self, message: str, *, action: str | None = None) -> None:
        self.message, self.action = message, action
        super().__init__(message)

    @property
    def transient(self) -> bool:
        return False


class EbsError(CloudCallError):
    """An error answer (or no answer: ``status`` None) from EBS, reduced to what we act on."""

    code: str

    def __init__(
        self,
        code: str,
        status: int | None,
        message: str,
        request_id: str | None,
        retry_after: float | None = None,
        *,
        action: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}", action=action)
        self.code, self.status, self.message, self.request_id = code, status, message, request_id
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """Whether the same call, with the same ClientToken, may succeed later."""
        return self.rule.transient

    @property
    def rule(self) -> CodeRule:
        """What the code means: retried or final, the outcome and the hint (:mod:`ebs_failover.ebs_codes`)."""
        return rule_for(self.code, self.status)


class OutOfTime(CloudCallError):
    """No time was left in the invocation's budget for the call, or for its turn under the pacing: nothing
    was sent. FC's async retry may do what this delivery could not, so it counts as transient."""

    @property
    def transient(self) -> bool:
        return True


class UnusableAnswer(CloudCallError):
    """EBS answered, but not in a form the function can use (a start that names no DrillId, pages that never
    end). Retried like a passing fault: the same call may answer properly."""

    @property
    def transient(self) -> bool:
        return True


class TransientFailure(EbsFailoverError):
    """EBS kept failing transiently until the time budget ran out; FC should deliver the event again.

    ``code``: what EBS answered last, or None when no answer stood in the way (the budget left no time).
    """

    def __init__(self, target_id: str, code: str | None, attempts: int) -> None:
        self.target_id, self.code, self.attempts = target_id, code, attempts
        why = code or "no time left"
        super().__init__(f"{target_id}: {why} after {attempts} attempts; the time budget ran out")


class NotifyError(EbsFailoverError):
    """Publishing to one channel failed.

    ``channel`` is the channel as configured (``"mns:topic-a"``), ``code`` the service's error code or
    ``"NetworkError"``, ``message`` a human-readable reason that never holds a secret.
    """

    def __init__(self, channel: str, code: str, message: str) -> None:
        super().__init__(channel, code, message)
        self.channel, self.code, self.message = channel, code, message

    def __str__(self) -> str:
        return f"{self.channel}: {self.code}: {self.message}"


class DeliveryFailed(EbsFailoverError):
    """One delivery to a channel failed: ``code`` (the service's, or ``Timeout``, ``NetworkError``…), a
    ``message`` (scrubbed before it is shown) and ``details`` the channel's entry carries beside them
    (``request_id``, ``status``…). Raised and caught inside :mod:`ebs_failover.notify`: what leaves it is
    the channel's entry in the result, never this exception."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(code, message)
        self.code, self.message = code, message
        self.details = {name: value for name, value in details.items() if value is not None}


class LedgerError(EbsFailoverError):
    """The incident ledger could not do ``operation`` (create, read, list): ``message`` says why, never with
    a secret."""

    def __init__(self, operation: str, message: str, code: str | None = None) -> None:
        super().__init__(f"ledger {operation}: {message}")
        self.operation, self.message, self.code = operation, message, code


class LedgerUnavailable(LedgerError):
    """The store did not answer (down, slow, an error status): the delivery goes on without the ledger."""


class LedgerUnusable(LedgerError):
    """The store broke the ledger's promise: a create-if-absent that overwrote (a versioned bucket ignores
    forbid-overwrite). No record of it can be trusted until the bucket is fixed."""


class CliError(EbsFailoverError):
    """A command-line verb cannot go on: ``message`` becomes the one stderr line, ``code`` the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
