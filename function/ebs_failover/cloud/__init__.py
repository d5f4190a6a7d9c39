"""The cloud's side: one client module per service, the call under a deadline, the one retry layer.

- :mod:`._call`: :class:`Budget` (the invocation's time) and one call under it: its turn under the
  pacing, its deadline, its failure reduced to :class:`~ebs_failover.errors.CloudCallError`.
- :mod:`.retry`: :func:`retrying`, the only place a failed call is tried again.
- :mod:`.pacing`: :class:`Pacer`, a token bucket per API action.
- :mod:`.credentials`: :class:`Credentials`, never printed.
- :mod:`.ebs`: :class:`EbsClient`, the replica pairs, groups and drills (OSS, OOS and CloudMonitor
  clients take their places beside it).

Nothing here judges an answer: what an answer means for a target is the act stage's (:mod:`ebs_failover.act`).
"""

from __future__ import annotations

from ._call import Budget
from .credentials import Credentials
from .ebs import DESCRIBE_LIMIT, EbsClient, client_for
from .pacing import Pacer
from .retry import Attempts, Tally, retrying

__all__ = [
    "DESCRIBE_LIMIT",
    "Attempts",
    "Budget",
    "Credentials",
    "EbsClient",
    "Pacer",
    "Tally",
    "client_for",
    "retrying",
]
