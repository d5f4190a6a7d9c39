"""What each robot answers: its refusal bodies (DingTalk, Lark, WeCom), success bodies and rate-limit
answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ebs_failover.testing.robots.models import (
    Refused,
)

__all__ = ["RATE_LIMITED", "SUCCESS", "ding_refusal", "lark_refusal", "read_json", "wecom_refusal"]


def ding_refusal(code: int, message: str) -> Refused:
    return Refused(200, {"errcode": code, "errmsg": message}, code)


def lark_refusal(code: int, message: str) -> Refused:
    return Refused(200, {"code": code, "data": {}, "msg": message}, code)


def wecom_refusal(code: int, message: str) -> Refused:
    return Refused(200, {"errcode": code, "errmsg": message}, code)


SUCCESS: dict[str, dict[str, Any]] = {
    "dingtalk": {"errcode": 0, "errmsg": "ok"},
    "lark": {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"},
    "wecom": {"errcode": 0, "errmsg": "ok"},
    "webhook": {"ok": True},
}


RATE_LIMITED: dict[str, Callable[[], Refused]] = {
    "dingtalk": lambda: ding_refusal(130101, "send too fast, exceed 20 times per minute"),
    "lark": lambda: lark_refusal(11232, "frequency limited psm[lark.oapi.app_platform_runtime]"),
    "wecom": lambda: wecom_refusal(45009, "api freq out of limit"),
}


def read_json(body: bytes, refused: Refused) -> dict[str, Any]:
    try:
        decoded = json.loads(body)
    except ValueError:
        raise refused from None
    if not isinstance(decoded, dict):
        raise refused
    return decoded
