"""What a failed call means for its target: the outcome and the hint a person reads, from the error.

One table (:data:`HINTS`) for every action, a few rules per action on top; the
caller records the code and RequestId beside the verdict (:func:`note_failure`).
A hint never formats text that came from EBS: only the function's own templates.
"""

from __future__ import annotations

from ebs_failover.errors import CloudCallError, OutOfTime

from .checks import Action, Verdict
from .records import TargetResult

__all__ = ["HINTS", "explain", "note_failure"]

#: What to tell the operator about an error code that retrying will not fix: (outcome, hint template).
HINTS: dict[str, tuple[str, str]] = {
    "Forbidden": ("failed", "the function's RAM role lacks ebs:{action} on this target"),
    "Forbidden.Action": (
        "failed",
        "grant the function's RAM role ebs:{action} (and the other actions its policy in template.yml lists)",
    ),
    "OperationDenied.OperateNotAllowedForPrimary": (
        "failed",
        "FAILOVER_REGION must be the standby region (the pair's DestinationRegion), not the primary's",
    ),
    "OperationDenied.OperateNotAllowedForStandby": (
        "failed",
        "EBS refused the call on the secondary site; check the pair's regions and FAILOVER_REGION",
    ),
    "OperationDenied": (
        "refused",
        "EBS does not allow a failover of this target now; check it in the console",
    ),
    "OperationDenied.NoPairInGroup": ("refused", "the replica group has no pairs: nothing to fail over"),
    "OperationDenied.PairGroupStatusConflict": (
        "refused",
        "a pair of the group is in a status that forbids the group's failover; check it in the console",
    ),
    "NoSuchResource": (
        "failed",
        "the target does not exist in FAILOVER_REGION; check FAILOVER_TARGETS and the region",
    ),
    "IdempotentParameterMismatch": (
        "failed",
        "the ClientToken was used with other parameters; report this as a bug",
    ),
    "InvalidAccessKeyId.NotFound": ("failed", "the credentials are unknown to Alibaba Cloud"),
    "SignatureDoesNotMatch": ("failed", "the credentials' secret is wrong"),
    "InvalidSecurityToken.Expired": ("failed", "the STS token has expired"),
    "InvalidSecurityToken.MismatchWithAccessKey": (
        "failed",
        "the STS token does not belong to the AccessKey",
    ),
    "InvalidSecurityToken.Malformed": ("failed", "the STS token is missing or malformed"),
    "MissingParameter": ("failed", "a required parameter was not sent; report this as a bug"),
    "InvalidParameter": ("failed", "EBS rejected a parameter; check FAILOVER_TARGETS and FAILOVER_REGION"),
    # The group-only codes of FailoverDiskReplicaGroup (EBS's API metadata).
    "OperationDenied.PairGroupAZoneConflict": (
        "refused",
        "a pair of the group does not replicate between the group's zones; check the group in the console",
    ),
    "OperationDenied.PairInAnotherGroup": (
        "refused",
        "a pair of the group belongs to another replica group; check the groups in the console",
    ),
    # The drill APIs' own codes (EBS's API metadata).
    "OperationDenied.StartDrillShouldOnDestRegion": (
        "failed",
        "a drill starts in the secondary's region: FAILOVER_REGION must be the standby region",
    ),
    "OperationDenied.RecoverPointNotFound": (
        "refused",
        "the secondary has no recovery point to drill from yet: the first synchronisation has not finished",
    ),
    "NoPermission.SLR": (
        "failed",
        "EBS needs its service-linked role AliyunServiceLinkedRoleForEBS and the caller may not create "
        "it: create the role once in the RAM console (the docs do not say which call first needs it)",
    ),
    "InvalidAccountStatus.NotEnoughBalance": (
        "failed",
        "the account's balance cannot pay for the drill's pay-as-you-go disks: top it up",
    ),
    "InvalidApi.NotFound": (
        "failed",
        "EBS does not know {action} at this endpoint: check EBS_ENDPOINT and the region",
    ),
}


#: The OperationDenied codes a drill answers with that say more than "refused" (the rest read as one).
_DRILL_KNOWN = frozenset(
    {
        "OperationDenied.StartDrillShouldOnDestRegion",
        "OperationDenied.RecoverPointNotFound",
        "OperationDenied.OperateNotAllowedForPrimary",
    }
)


def explain(error: CloudCallError, call: str, action: Action) -> Verdict:
    """What ``error``, the answer to ``call`` (an EBS action) made for ``action``, means for the target."""
    if isinstance(error, OutOfTime):
        return Verdict("failed", f"no time was left in the invocation for {call} ({error.message})")
    code = error.code
    if code is None:  # an answer the function could not use
        return Verdict("failed", f"EBS's answer to {call} could not be used ({error.message})")
    if error.transient:
        return Verdict("failed", f"EBS could not be reached ({code}) for {call}")
    if action.name == "drill" and code.startswith("OperationDenied") and code not in _DRILL_KNOWN:
        return Verdict("refused", f"EBS refused {call} ({code}): check the target in the console")
    if code == "OperationDenied.InvalidStatus":
        return Verdict("refused", "EBS refused the failover in the target's current status")
    if code in HINTS:
        outcome, template = HINTS[code]
        return Verdict(outcome, template.format(action=call))
    return Verdict("failed", f"EBS answered {code}: {error.message}")


def note_failure(result: TargetResult, error: CloudCallError, verdict: Verdict) -> None:
    """Record an explained failure on ``result``: its outcome, hint, EBS's code and RequestId."""
    result.outcome, result.hint = verdict.outcome, verdict.hint
    result.error_code = error.code
    result.request_id = error.request_id or result.request_id
