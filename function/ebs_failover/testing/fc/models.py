"""The fake FC invoke API's records (an invocation, a call, a function), its error and its routes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ebs_failover.testing._core.http import ServiceError

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "DUPLICATE_TASK_CODE",
    "FC2_API_VERSION",
    "FC2_PATH",
    "FC3_API_VERSION",
    "FC3_PATH",
    "FcCall",
    "FcError",
    "FcFunctionSpec",
    "FcInvocation",
    "Handler",
    "Route",
    "TASK_ID",
]


FC3_API_VERSION = "2023-03-30"
FC2_API_VERSION = "2016-08-15"


#: The code of the 409 answering a repeated async task id ([Unverified]: FC documents the 409, not a code).
DUPLICATE_TASK_CODE = "AsyncTaskAlreadyExists"
FC3_PATH = re.compile(rf"^/{FC3_API_VERSION}/functions/(?P<function>[^/]+)/invocations$")


FC2_PATH = re.compile(
    rf"^/{FC2_API_VERSION}/services/(?P<service>[^/.]+)(?:\.(?P<qualifier>[^/]+))?"
    r"/functions/(?P<function>[^/]+)/invocations$"
)


#: FC's rule for an async task id: a letter or underscore first, [A-Za-z0-9_-], at most 128 characters.
TASK_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")
CLOCK_SKEW_SECONDS = 15 * 60


@dataclass(frozen=True)
class FcInvocation:
    """One invoke FC accepted: ``api`` is ``"3.0"`` or ``"2.0"`` (``service`` None for 3.0)."""

    api: str
    function: str
    service: str | None
    qualifier: str | None
    invocation_type: str
    task_id: str | None
    payload: bytes
    request_id: str
    access_key_id: str


@dataclass(frozen=True)
class FcCall:
    """One request as the fake saw it, answered or refused."""

    method: str
    path: str
    api: str | None
    function: str | None
    service: str | None
    qualifier: str | None
    invocation_type: str | None
    task_id: str | None
    access_key_id: str | None
    status: int
    code: str | None
    request_id: str


#: A function's code: given the invocation, returns its result (bytes, str or JSON-able) or raises.
Handler = Callable[[FcInvocation], Any]


@dataclass
class FcFunctionSpec:
    """A deployed function: what a synchronous invoke runs, and which qualifiers exist."""

    name: str
    service: str | None = None
    handler: Handler | None = None
    result: Any = None
    qualifiers: frozenset[str] = field(default_factory=lambda: frozenset({"LATEST"}))


class FcError(ServiceError):
    """An FC error answer: HTTP ``status``, ``code``, ``message``."""


@dataclass(frozen=True)
class Route:
    api: str
    function: str
    service: str | None
    qualifier: str | None
