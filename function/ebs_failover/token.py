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
from collections.abc import Callable
from typing import Any

__all__ = ["TOKEN_PREFIX", "client_token"]


def _builtin_sha256() -> Callable[[bytes], Any]:
    """CPython's own SHA-256 (the same digest as OpenSSL's), else hashlib's.

    Measured right after an SDK call, OpenSSL's ``sha256`` costs about twice as much as the
    interpreter's built-in one (it looks the algorithm up in its providers on every call).
    """
    for name in ("_sha2", "_sha256"):  # Python 3.12+, 3.10-3.11
        try:
            module = __import__(name)
        except ImportError:
            continue
        return module.sha256  # type: ignore[no-any-return]
    return hashlib.sha256


_sha256 = _builtin_sha256()

TOKEN_PREFIX = "ebsfo-"
_MAX_LENGTH = 64


def client_token(identity: str, pair_id: str) -> str:
    """The ClientToken for failing ``pair_id`` over because of the trigger ``identity``."""
    digest: str = _sha256(f"{identity}\n{pair_id}".encode()).hexdigest()
    return TOKEN_PREFIX + digest[: _MAX_LENGTH - len(TOKEN_PREFIX)]
