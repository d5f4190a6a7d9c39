"""Act: look at every target, act on those that pass every check, watch them settle.

The only package that decides what EBS's answers mean. Its rooms, in the order a
target goes through them:

- :mod:`.records`: what the stage is told, sees and reports (frozen where it can be);
- :mod:`.preflight`: the batched Describes (one per 100 ids, per site);
- :mod:`.checks`: ONE chain of checks, one tuple of them per action (failover, drill);
- :mod:`.explain`: what a failed call means for its target, from the error code;
- :mod:`.failover`: the Failover calls side by side, and when to look at them;
- :mod:`.verify`: the only place a target becomes verified; the schedule every watch looks by;
- :mod:`.drills`: a drill of each target (the same preflight, checks and schedule).

The public surface is what the handler, the CLI and the benchmarks use: :func:`fail_over`,
:func:`drill`, and the records they take and give. The two actions are imported on first use: a cold
start that fails over never loads the drill, and one that rejects its event loads neither.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .records import SYSTEM_CLOCK, Acted, Clock, Guards, TargetResult

if TYPE_CHECKING:
    from .drills import drill
    from .failover import fail_over

__all__ = ["SYSTEM_CLOCK", "Acted", "Clock", "Guards", "TargetResult", "drill", "fail_over"]

#: The lazily imported names, and the module of each.
_ON_USE = {"drill": ".drills", "fail_over": ".failover"}


def __getattr__(name: str) -> object:
    """``fail_over`` and ``drill``, each imported when first asked for (PEP 562)."""
    if name in _ON_USE:
        value = getattr(importlib.import_module(_ON_USE[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
