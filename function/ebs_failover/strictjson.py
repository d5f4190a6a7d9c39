"""JSON read strictly: an object that names one key twice is an error, not its last value.

A duplicate key in an alarm or in ``FAILOVER_TARGETS`` is ambiguous (two JSON readers may keep different
values): :func:`unique_pairs`, as ``json.loads``' ``object_pairs_hook``, raises
:class:`~ebs_failover.errors.DuplicateKey`, which the reader turns into its own error at once
(``InvalidEvent``, ``ConfigError``) naming the key.
"""

from __future__ import annotations

from typing import Any

from .errors import DuplicateKey

__all__ = ["DuplicateKey", "unique_pairs"]


def unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The object of ``pairs``; :class:`DuplicateKey` naming the first key that appears twice."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(key)
        result[key] = value
    return result
