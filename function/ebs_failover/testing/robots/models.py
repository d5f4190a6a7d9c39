"""The fake robots' records (a call, a refusal, an injected fault), their limits and paths."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_LIMITS",
    "HOOK_PATH",
    "HOUR",
    "KINDS",
    "LARK_PATH",
    "Refused",
    "RobotCall",
    "RobotFault",
    "WEBHOOK_TOLERANCE",
]


KINDS = ("dingtalk", "lark", "wecom", "webhook")
DEFAULT_LIMITS = {"dingtalk": 20, "lark": 100, "wecom": 20}


HOUR = 3600
WEBHOOK_TOLERANCE = 300


LARK_PATH = re.compile(r"^/open-apis/bot/v2/hook/([^/?]+)$")
HOOK_PATH = re.compile(r"^/hooks/([^/?]+)$")


@dataclass(frozen=True)
class RobotCall:
    """One request as the fake saw it: the robot (None: no robot's path), its answer's status and code.

    ``status`` is None when the connection was dropped; ``code`` the robot's code (0: accepted) or None.
    """

    kind: str | None
    name: str | None
    status: int | None
    code: int | None


class Refused(Exception):
    """An answer other than acceptance: HTTP ``status`` and the robot's JSON ``body``."""

    def __init__(self, status: int, body: dict[str, Any], code: int | None) -> None:
        super().__init__(status, body)
        self.status, self.body, self.code = status, body, code


@dataclass
class RobotFault:
    """An injected fault for the next ``times`` requests (to ``kind``'s robots, or any): an error
    ``status``, a ``stall`` (seconds) before the request is handled, or a ``trickle``: the answer sent one
    byte every so many seconds."""

    times: int
    kind: str | None
    status: int = 500
    body: bytes = b""
    stall: float = 0.0
    trickle: float = 0.0
