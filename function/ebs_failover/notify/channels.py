"""The channels ``NOTIFY_TARGETS`` names: what each one is, and what it needs. Pure: no I/O, no SDK.

``NOTIFY_TARGETS`` is a comma-separated list of ``<kind>:<name>``, each optionally followed by the
outcomes it wants in brackets (every outcome when there are none)::

    mns:ebs-failover-results,dingtalk:oncall[failed_over,failed,refused],eventbridge:ops-bus

========== ==================================== ==============================================
kind       name                                 from the environment (``<NAME>``: the name in
                                                upper case, ``-`` as ``_``)
========== ==================================== ==============================================
mns        an MNS topic of the function's       (the function's credentials)
           account and region
eventbridge an EventBridge event bus             (the function's credentials)
dingtalk   a DingTalk custom robot               ``NOTIFY_<NAME>_URL`` (its webhook, with
                                                ``access_token``), ``NOTIFY_<NAME>_SECRET`` (its
                                                signing secret, ``SEC…``)
lark       a Lark (Feishu) custom bot            ``NOTIFY_<NAME>_URL``, ``NOTIFY_<NAME>_SECRET``
wecom      a WeCom group robot                   ``NOTIFY_<NAME>_URL`` (with its ``key``; WeCom
                                                robots have no signing)
webhook    any HTTPS endpoint                    ``NOTIFY_<NAME>_URL``, ``NOTIFY_<NAME>_SECRET``
                                                (optional: an HMAC-SHA256 signature header)
========== ==================================== ==============================================

A robot's or a webhook's URL must be ``https://`` (``http://`` only to a loopback address, for the
fakes). Its URL and secret are secrets: the redactor learns them (``Channel.secrets``).

A filter sees every outcome of a result (:meth:`Channel.wants_any`): the invocation's, each target's and,
on a batch, each event's; ``failed_over`` in a filter also takes ``already_failed_over`` (a retry finding
the failover made is the same news).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ebs_failover.errors import ConfigError

__all__ = ["KINDS", "SAME_NEWS", "Channel", "Where", "parse_channels"]

#: Every kind of channel, and whether it reads ``NOTIFY_<NAME>_URL`` / needs ``NOTIFY_<NAME>_SECRET``.
KINDS: dict[str, tuple[bool, bool]] = {
    "mns": (False, False),
    "eventbridge": (False, False),
    "dingtalk": (True, True),
    "lark": (True, True),
    "wecom": (True, False),
    "webhook": (True, False),
}

#: An outcome a filter takes as another it lists: a retry that finds the failover made tells the news of
#: the failover (FC retries a delivery whose news reached nobody: this one may be the first to tell).
SAME_NEWS: dict[str, str] = {"already_failed_over": "failed_over"}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,255}$")
_LOOPBACK = re.compile(r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(/|$)")


@dataclass(frozen=True, slots=True)
class Channel:
    """One channel of ``NOTIFY_TARGETS``, with what it read from the environment."""

    kind: str
    name: str
    #: The outcomes it wants; None: every outcome.
    outcomes: frozenset[str] | None = None
    url: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """``<kind>:<name>``, as results and log lines name the channel (never its URL)."""
        return f"{self.kind}:{self.name}"

    def wants(self, outcome: str) -> bool:
        """Whether the filter lists ``outcome`` (or the outcome it is the same news as); no filter: yes."""
        if self.outcomes is None:
            return True
        return outcome in self.outcomes or SAME_NEWS.get(outcome) in self.outcomes

    def wants_any(self, outcomes: Iterable[str]) -> bool:
        """Whether the filter wants any of ``outcomes`` (a result's: see the module's docstring)."""
        return self.outcomes is None or any(self.wants(outcome) for outcome in outcomes)

    @property
    def secrets(self) -> tuple[str | None, ...]:
        """What must never be shown: the URL (a robot's token is in it) and the secret."""
        return (self.url, self.secret)


@dataclass(frozen=True, slots=True)
class Where:
    """What the channels need to know of the invocation that publishes."""

    #: The function's credentials (MNS and EventBridge sign with them).
    credentials: Any
    #: The function's region (the topic and the bus live there).
    region: str
    account_id: str
    #: ``MNS_ENDPOINT`` / ``EVENTBRIDGE_ENDPOINT`` overrides.
    mns_endpoint: str | None = None
    eventbridge_endpoint: str | None = None
    #: Seconds for each channel's whole delivery (connect, handshake, send, every read), counted from
    #: the start of :func:`~ebs_failover.notify.publish`.
    timeout: float = 5.0
    #: ``time.monotonic()`` by which every delivery ends; None until publish starts the clock.
    deadline: float | None = None

    def started(self) -> Where:
        """This, with its deadline set ``timeout`` seconds from now (unless one is set already)."""
        if self.deadline is not None:
            return self
        return dataclasses.replace(self, deadline=time.monotonic() + self.timeout)

    def left(self) -> float:
        """Seconds before the deadline (``timeout`` when none is set), never below zero."""
        if self.deadline is None:
            return self.timeout
        return max(self.deadline - time.monotonic(), 0.0)


def parse_channels(raw: str, environ: Any, outcomes: frozenset[str]) -> tuple[Channel, ...]:
    """The channels ``raw`` (``NOTIFY_TARGETS``) names, with their variables from ``environ``.

    Raises :class:`~ebs_failover.errors.ConfigError` naming the variable and what was expected.
    """
    channels: list[Channel] = []
    for item in _split(raw):
        kind, _, rest = item.partition(":")
        name, wanted = _filter(item, rest, outcomes)
        if kind not in KINDS or not _NAME.match(name):
            raise ConfigError(
                "NOTIFY_TARGETS", "channels such as mns:<topic>, dingtalk:<name>[failed_over,failed]", item
            )
        if any(c.label == f"{kind}:{name}" for c in channels):
            raise ConfigError("NOTIFY_TARGETS", "each channel once", item)
        reads_url, needs_secret = KINDS[kind]
        url = secret = None
        if reads_url:
            prefix = "NOTIFY_" + name.upper().replace("-", "_")
            url = _url(environ, prefix + "_URL", kind)
            secret = environ.get(prefix + "_SECRET") or None
            if needs_secret and secret is None:
                raise ConfigError(prefix + "_SECRET", f"the {kind} robot's signing secret", None)
        channels.append(Channel(kind, name, wanted, url, secret))
    return tuple(channels)


def _split(raw: str) -> list[str]:
    """The comma-separated items of ``raw``, commas inside brackets kept."""
    items, depth, current = [], 0, ""
    for char in raw:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return [item.strip() for item in items if item.strip()]


def _filter(item: str, rest: str, outcomes: frozenset[str]) -> tuple[str, frozenset[str] | None]:
    """The name, and the bracketed outcomes after it (None when there are none)."""
    if "[" not in rest:
        return rest, None
    name, _, listed = rest.partition("[")
    if not listed.endswith("]"):
        raise ConfigError("NOTIFY_TARGETS", "outcomes in brackets at the end: name[a,b]", item)
    wanted = frozenset(part.strip() for part in listed[:-1].split(",") if part.strip())
    unknown = sorted(wanted - outcomes)
    if unknown or not wanted:
        raise ConfigError("NOTIFY_TARGETS", "outcomes among " + ", ".join(sorted(outcomes)), item)
    return name, wanted


def _url(environ: Any, variable: str, kind: str) -> str:
    url = environ.get(variable) or ""
    if not (url.startswith("https://") or _LOOPBACK.match(url)):
        # Never the value: a robot's URL holds its token.
        raise ConfigError(variable, f"the {kind} channel's https:// URL", None)
    return str(url)
