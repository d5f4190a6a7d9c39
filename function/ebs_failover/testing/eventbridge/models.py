"""The fake EventBridge's records (an event received, a call), its error and its constants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ebs_failover.testing._core.http import InjectedFaults, ServiceError

__all__ = [
    "ANSWER_OF",
    "EVENTBRIDGE_VERSION",
    "EventBridgeCall",
    "EventBridgeError",
    "Faults",
    "ReceivedEvent",
]


EVENTBRIDGE_VERSION = "2020-04-01"
#: EventBridge's error-code page gives these their own status and message (the gateway's differ).
ANSWER_OF = {
    "SignatureDoesNotMatch": (
        403,
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    ),
}


@dataclass(frozen=True)
class ReceivedEvent:
    """A CloudEvent a bus accepted, decoded back to CloudEvent attribute names."""

    id: str
    source: str
    type: str
    subject: str | None
    time: str | None
    datacontenttype: str | None
    specversion: str | None
    data: Any
    event_id: str

    def cloudevent(self) -> dict[str, Any]:
        """The event as a CloudEvent dict (attributes that were not sent left out)."""
        fields = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time,
            "datacontenttype": self.datacontenttype,
            "subject": self.subject,
            "data": self.data,
        }
        return {key: value for key, value in fields.items() if value is not None}


@dataclass(frozen=True)
class EventBridgeCall:
    """One request as the fake saw it; ``status``/``code`` None when it was dropped or stalled away."""

    method: str
    path: str
    action: str | None
    bus: str | None
    access_key_id: str | None
    status: int | None
    code: str | None
    request_id: str


class EventBridgeError(ServiceError):
    """An EventBridge error answer: HTTP ``status``, ``code``, ``message``."""


@dataclass
class Faults:
    errors: InjectedFaults = field(default_factory=InjectedFaults)
    entries: list[tuple[str, str]] = field(default_factory=list)
    stalls: int = 0
