"""The HTTP trigger's gate: the callback URL's secret token and, optionally, the caller's address.

CloudMonitor cannot sign its callbacks, so the HTTP trigger is anonymous; the
callback URL carries ``?token=<CALLBACK_TOKEN>`` instead, compared in constant
time. With ``CALLBACK_ALLOWED_IPS`` the caller's address must also be in the
listed networks (``cloudmonitor-intl`` stands for CloudMonitor's documented
international ranges). A request failing either is ``rejected``: it never
reaches EBS, is logged and never published, and its caller gets 401 or 403
with a body that says nothing more. Pure: no I/O.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from ebs_failover.triggers import HttpRequestInfo

__all__ = ["CLOUDMONITOR_INTL_RANGES", "TOKEN_PARAMETER", "Refusal", "parse_networks", "refusal"]

TOKEN_PARAMETER = "token"

#: CloudMonitor's callback source addresses, international site (document 60714).
CLOUDMONITOR_INTL_RANGES = (
    "47.74.206.0/26",
    "47.74.206.64/26",
    "47.74.206.128/26",
    "47.74.206.192/26",
    "8.222.159.116/32",
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(raw: str) -> tuple[Network, ...]:
    """``CALLBACK_ALLOWED_IPS``: comma-separated CIDRs or addresses; ``cloudmonitor-intl`` expands."""
    items: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        if item == "cloudmonitor-intl":
            items.extend(CLOUDMONITOR_INTL_RANGES)
        elif item:
            items.append(item)
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an HTTP request may not trigger anything: ``status`` 401 (no or a wrong token) or 403 (a caller
    outside ``CALLBACK_ALLOWED_IPS``), and the reason, for the log only."""

    status: int
    reason: str

    @property
    def code(self) -> str:
        return "Unauthorized" if self.status == 401 else "Forbidden"


def refusal(http: HttpRequestInfo, token: str | None, allowed: Sequence[Network]) -> Refusal | None:
    """Why this HTTP request may not trigger anything, or None when it may."""
    if token is None:
        return Refusal(
            401, "the HTTP trigger needs CALLBACK_TOKEN configured; refusing an unauthenticated callback"
        )
    sent = http.query.get(TOKEN_PARAMETER, "")
    if not hmac.compare_digest(sent.encode(), token.encode()):
        return Refusal(401, f"the callback URL's {TOKEN_PARAMETER} parameter is missing or wrong")
    if allowed:
        try:
            address = ipaddress.ip_address(http.source_ip or "")
        except ValueError:
            return Refusal(403, "the caller's address is unknown and CALLBACK_ALLOWED_IPS is set")
        if not any(address in network for network in allowed):
            return Refusal(403, f"the caller {address} is not in CALLBACK_ALLOWED_IPS")
    return None
