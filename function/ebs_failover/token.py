"""ClientToken derivation: one token per (alarm, pair), the same on every redelivery.

EBS answers a repeated ClientToken with the first answer and no second
failover, so deriving the token from the alarm's identity (never from the
delivery) makes a redelivered alarm safe. The token is
``ebsfo-`` + the first 58 hex digits of SHA-256 over the identity and the pair
id: ASCII, exactly 64 characters, and different for another alarm or another
pair of the same alarm.
"""

from __future__ import annotations

import hashlib

__all__ = ["TOKEN_PREFIX", "client_token", "drill_token"]

TOKEN_PREFIX = "ebsfo-"
_MAX_LENGTH = 64


def client_token(identity: str, pair_id: str) -> str:
    """The ClientToken for failing ``pair_id`` over because of the trigger ``identity``."""
    digest = hashlib.sha256(f"{identity}\n{pair_id}".encode()).hexdigest()
    return TOKEN_PREFIX + digest[: _MAX_LENGTH - len(TOKEN_PREFIX)]


def drill_token(identity: str, target_id: str) -> str:
    """The ClientToken of a drill of ``target_id`` for the trigger ``identity``: never a failover's (another
    action, so another token), the same for every redelivery (FC's retry follows the same drill)."""
    return client_token(identity, f"drill/{target_id}")
