"""State of the fake EBS: one account's replica pairs, groups and drills, as moto's EC2 backend holds
its resources: a backend composed of one mixin per resource, all sharing one state and one lock.

This package knows nothing of HTTP. Imports go one way: :mod:`.records` (plain data) ←
:mod:`.state` (the shared state and machinery: idempotence, ids, the status machine, lookups, checks)
← :mod:`.pairs`, :mod:`.groups`, :mod:`.drills` (each resource's operations) ← :class:`EbsBackend`
(here, composing them). Operations raise the errors of :mod:`..exceptions` and
:mod:`ebs_failover.testing._core.errors`.
"""

from __future__ import annotations

from .controls import Drills
from .drills import DrillsMixin
from .groups import GroupsMixin
from .pairs import PairsMixin
from .records import (
    DRILL_OUTCOMES,
    DRILL_STATUSES,
    PAIR_STATUSES,
    Drill,
    DrillDisk,
    DrillOperation,
    Operation,
    ReplicaGroup,
    ReplicaPair,
    Transition,
    Transitions,
)

__all__ = [
    "DRILL_OUTCOMES",
    "DRILL_STATUSES",
    "PAIR_STATUSES",
    "Drill",
    "DrillDisk",
    "DrillOperation",
    "Drills",
    "EbsBackend",
    "Operation",
    "ReplicaGroup",
    "ReplicaPair",
    "Transition",
    "Transitions",
]


class EbsBackend(PairsMixin, GroupsMixin, DrillsMixin):
    """One account's replica pairs, groups and drills.

    Every public method is one EBS operation's semantics, called with already parsed arguments, under
    one lock: the fake is safe to drive from threads.
    """
