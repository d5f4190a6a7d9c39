"""A stand-in for FC's invocation context (python3.10 shape, with ``credentials``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

__all__ = ["FcContext", "FcCredentials", "FcFunction", "FcTracing"]


@dataclass(frozen=True)
class FcFunction:
    name: str = "ebs-failover"
    handler: str = "index.handler"
    memory: int = 256
    timeout: int = 60


@dataclass(frozen=True)
class FcCredentials:
    access_key_id: str = "testing"
    access_key_secret: str = "testing"
    security_token: str = ""

    def __repr__(self) -> str:
        return "FcCredentials(***)"


@dataclass(frozen=True)
class FcTracing:
    """FC's tracing context (python3.10): ``span_context`` is Jaeger's ``trace:span:parent:flags``."""

    span_context: str = ""
    jaeger_endpoint: str = ""
    span_baggages: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FcContext:
    """What the handler reads of FC's context; ``credentials=None`` is the python3.12 shape."""

    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function: FcFunction = field(default_factory=FcFunction)
    credentials: FcCredentials | None = field(default_factory=FcCredentials)
    region: str = "cn-shanghai"
    account_id: str = "1234567890123456"
    tracing: FcTracing | None = None
