"""What a failed call means for its target: the outcome and the hint a person reads, from the error.

The meaning of each EBS code is :mod:`ebs_failover.ebs_codes`' (one table, with its sources); this module
adds what depends on the action (a drill reads the OperationDenied codes the drill APIs do not document as
one refusal) and records the verdict (:func:`note_failure`). A hint never formats text that came from
EBS, except the message of a code no source names.
"""

from __future__ import annotations

from ebs_failover.ebs_codes import RULES
from ebs_failover.errors import CloudCallError, EbsError, OutOfTime

from .checks import Action, Verdict
from .records import TargetResult

__all__ = ["explain", "hint_for", "note_failure"]

#: The OperationDenied codes a drill answers with that say more than "refused" (the rest read as one).
_DRILL_KNOWN = frozenset(
    {
        "OperationDenied.StartDrillShouldOnDestRegion",
        "OperationDenied.RecoverPointNotFound",
        "OperationDenied.OperateNotAllowedForPrimary",
    }
)


def hint_for(code: str, call: str) -> str:
    """The table's hint for a code the function itself concludes (e.g. a target seen on the wrong site)."""
    return RULES[code].hint.format(action=call)


def explain(error: CloudCallError, call: str, action: Action) -> Verdict:
    """What ``error``, the answer to ``call`` (an EBS action) made for ``action``, means for the target."""
    if isinstance(error, OutOfTime):
        return Verdict("failed", f"no time was left in the invocation for {call} ({error.message})")
    if not isinstance(error, EbsError):  # an answer the function could not use
        return Verdict("failed", f"EBS's answer to {call} could not be used ({error.message})")
    code, rule = error.code, error.rule
    drill_refusal = action.name == "drill" and code.startswith("OperationDenied") and code not in _DRILL_KNOWN
    if drill_refusal and not rule.transient:
        return Verdict("refused", f"EBS refused {call} ({code}): check the target in the console")
    return Verdict(rule.outcome, rule.hint.format(action=call, code=code, message=error.message))


def note_failure(result: TargetResult, error: CloudCallError, verdict: Verdict) -> None:
    """Record an explained failure on ``result``: its outcome, hint, EBS's code and RequestId."""
    result.outcome, result.hint = verdict.outcome, verdict.hint
    result.error_code = error.code
    result.request_id = error.request_id or result.request_id
