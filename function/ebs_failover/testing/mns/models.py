"""The fake MNS's records (a published message, a call), its error and its constants."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ebs_failover.testing._core.http import (
    ServiceError,
)

__all__ = [
    "AUTHORIZATION",
    "CLOCK_SKEW_SECONDS",
    "MAX_BODY_BYTES",
    "MAX_TAG_LENGTH",
    "MNS_VERSION",
    "MNS_XMLNS",
    "MnsCall",
    "MnsError",
    "PUBLISH_PATH",
    "PublishedMessage",
    "TOPIC_NAME",
]


MNS_XMLNS = "http://mns.aliyuncs.com/doc/v1/"
MNS_VERSION = "2015-06-06"


CLOCK_SKEW_SECONDS = 15 * 60
MAX_TAG_LENGTH = 16


MAX_BODY_BYTES = 65536
TOPIC_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,255}$")


PUBLISH_PATH = re.compile(r"^/topics/([^/?]+)/messages$")
AUTHORIZATION = re.compile(r"^MNS ([^:\s]+):(\S+)$")


@dataclass(frozen=True)
class PublishedMessage:
    """A message a topic accepted."""

    body: str
    tag: str | None
    message_id: str


@dataclass(frozen=True)
class MnsCall:
    """One request, as the fake saw it.

    ``access_key_id`` is the one the ``Authorization`` header claims (verified
    or not); ``status`` and ``code`` are None when the connection was dropped.
    """

    method: str
    path: str
    topic: str | None
    access_key_id: str | None
    status: int | None
    code: str | None
    request_id: str


class MnsError(ServiceError):
    """An MNS error answer: HTTP ``status``, ``code``, ``message``."""
