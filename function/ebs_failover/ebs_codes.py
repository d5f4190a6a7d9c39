"""What an error answer from EBS means: the one table every retry and every hint is read from.

Each :class:`CodeRule` says, for one error code, whether the same call (with the same ClientToken) is
tried again, what the target's outcome is when it is not, the hint a person reads, and where the fact
comes from. :func:`rule_for` adds the rules that go by pattern rather than by name (any 5xx, any 429,
every code containing ``Throttling``, no answer at all) and the default for a code no source documents.

The sources, by their short names in :attr:`CodeRule.source`:

- ``metadata``: Alibaba Cloud's OpenAPI metadata for ``ebs`` 2021-07-30 (``apis.<API>.errorCodes``), the
  per-API table in ``docs/reference/ebs-error-codes.md``;
- ``terraform``: aliyun/terraform-provider-alicloud, which calls these APIs in production (its retry rules:
  ``alicloud/errors.go``; the pair and group resources retry ``OperationDenied.InvalidStatus`` on Failover);
- ``other-ebs-apis``: the metadata of other EBS APIs (429 ``BLOCK.LimitedRequest``);
- ``idempotence``: Alibaba Cloud's guide to ClientToken idempotence, common to the APIs that take one;
- ``gateway``: Alibaba Cloud's API gateway (POP), common to every RPC API: signatures, credentials, STS;
- ``ours``: the function's own reading where no source says more.

This module imports nothing from the package: the error classes (:mod:`ebs_failover.errors`) read it
before any SDK is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["NO_ANSWER", "RULES", "CodeRule", "Retry", "rule_for"]

#: ``now``: the same call again, after a backoff (the retry layer). ``after_look``: the Failover again after
#: a look at the target, concluding from the look (a status that may be passing). ``no``: final.
Retry = Literal["now", "after_look", "no"]


@dataclass(frozen=True, slots=True)
class CodeRule:
    """What one error code means for the call that got it and for its target.

    ``outcome`` and ``hint`` apply when the code is final (``retry`` ``"no"``), or when the retries it
    allows are used up; ``hint`` may name ``{action}``, the EBS action that got the answer.
    """

    code: str
    retry: Retry
    outcome: Literal["failed", "refused"]
    hint: str
    source: str

    @property
    def transient(self) -> bool:
        """Whether the same call, with the same ClientToken, may succeed later by itself."""
        return self.retry == "now"


def _final(code: str, outcome: Literal["failed", "refused"], hint: str, source: str) -> CodeRule:
    return CodeRule(code, "no", outcome, hint, source)


def _passing(code: str, source: str) -> CodeRule:
    return CodeRule(code, "now", "failed", "EBS could not be reached ({code}) for {action}", source)


#: Every code the function branches on, by name.
RULES: dict[str, CodeRule] = {
    rule.code: rule
    for rule in (
        # -- passing: the same call again, with the same ClientToken -------------------------------------
        _passing("InternalError", "metadata: 500 on every API"),
        _passing("RequestTimeout", "metadata: 504 on every API"),
        _passing("ServiceUnavailable", "gateway: 503, the service is briefly unavailable"),
        _passing(
            "LastTokenProcessing",
            "metadata: 403 on the drill APIs, the previous request with this ClientToken is still running",
        ),
        _passing("BLOCK.LimitedRequest", "other-ebs-apis: 429, the request rate is limited"),
        # -- a status that may be passing: look, then the Failover again ---------------------------------
        CodeRule(
            "OperationDenied.InvalidStatus",
            "after_look",
            "refused",
            "EBS refused the failover in the target's current status",
            "metadata: 403 on both Failover APIs; terraform retries it on FailoverDiskReplicaPair and "
            "FailoverDiskReplicaGroup",
        ),
        # -- the call went to the wrong site or found nothing ------------------------------------------
        _final(
            "OperationDenied.OperateNotAllowedForPrimary",
            "failed",
            "FAILOVER_REGION must be the standby region (the pair's DestinationRegion), not the primary's",
            "metadata: 403 on the Failover and Reprotect APIs",
        ),
        _final(
            "OperationDenied.OperateNotAllowedForStandby",
            "failed",
            "EBS refused the call on the secondary site; check the pair's regions and FAILOVER_REGION",
            "metadata: 403 on the Failover and Reprotect APIs",
        ),
        _final(
            "NoSuchResource",
            "failed",
            "the target does not exist in FAILOVER_REGION; check FAILOVER_TARGETS and the region",
            "metadata: 404 on every API",
        ),
        _final(
            "InvalidApi.NotFound",
            "failed",
            "EBS does not know {action} at this endpoint: check EBS_ENDPOINT and the region",
            "metadata: 404 on the drill APIs; the gateway's answer to an unknown action",
        ),
        # -- EBS will not do it now ----------------------------------------------------------------------
        _final(
            "OperationDenied",
            "refused",
            "EBS does not allow a failover of this target now; check it in the console",
            "metadata: 403 on every API",
        ),
        _final(
            "OperationDenied.NoPairInGroup",
            "refused",
            "the replica group has no pairs: nothing to fail over",
            "metadata: 403 on FailoverDiskReplicaGroup",
        ),
        _final(
            "OperationDenied.PairGroupStatusConflict",
            "refused",
            "a pair of the group is in a status that forbids the group's failover; check it in the console",
            "metadata: 403 on FailoverDiskReplicaGroup",
        ),
        _final(
            "OperationDenied.PairGroupAZoneConflict",
            "refused",
            "a pair of the group does not replicate between the group's zones; "
            "check the group in the console",
            "metadata: 403 on FailoverDiskReplicaGroup",
        ),
        _final(
            "OperationDenied.PairInAnotherGroup",
            "refused",
            "a pair of the group belongs to another replica group; check the groups in the console",
            "metadata: 403 on FailoverDiskReplicaGroup",
        ),
        _final(
            "OperationDenied.StartDrillShouldOnDestRegion",
            "failed",
            "a drill starts in the secondary's region: FAILOVER_REGION must be the standby region",
            "metadata: 403 on StartPairDrill and StartReplicaGroupDrill",
        ),
        _final(
            "OperationDenied.RecoverPointNotFound",
            "refused",
            "the secondary has no recovery point to drill from yet: "
            "the first synchronisation has not finished",
            "metadata: 403 on StartPairDrill and StartReplicaGroupDrill",
        ),
        # -- the account or the role --------------------------------------------------------------------
        _final(
            "Forbidden",
            "failed",
            "the function's RAM role lacks ebs:{action} on this target",
            "metadata: 403 on every API",
        ),
        _final(
            "Forbidden.Action",
            "failed",
            "grant the function's RAM role ebs:{action} "
            "(and the other actions its policy in template.yml lists)",
            "metadata: 403 on every API",
        ),
        _final(
            "NoPermission.SLR",
            "failed",
            "EBS needs its service-linked role AliyunServiceLinkedRoleForEBS and the caller may not create "
            "it: create the role once in the RAM console (the docs do not say which call first needs it)",
            "metadata: 403 on the drill APIs",
        ),
        _final(
            "InvalidAccountStatus.NotEnoughBalance",
            "failed",
            "the account's balance cannot pay for the drill's pay-as-you-go disks: top it up",
            "metadata: 403 on the drill APIs",
        ),
        # -- what was sent ------------------------------------------------------------------------------
        _final(
            "MissingParameter",
            "failed",
            "a required parameter was not sent; report this as a bug",
            "metadata: 400 on the drill APIs; gateway",
        ),
        _final(
            "InvalidParameter",
            "failed",
            "EBS rejected a parameter; check FAILOVER_TARGETS and FAILOVER_REGION",
            "metadata: 400 on the drill APIs; gateway",
        ),
        _final(
            "InvalidParameter.Conflict",
            "failed",
            "EBS found the parameters of {action} in conflict; report this as a bug",
            "metadata: 400 on the drill APIs",
        ),
        _final(
            "InvalidParameter.Format",
            "failed",
            "EBS rejected the format of a parameter of {action}; check FAILOVER_TARGETS",
            "metadata: 400 on the drill APIs",
        ),
        _final(
            "IdempotentParameterMismatch",
            "failed",
            "the ClientToken was used with other parameters; report this as a bug",
            "idempotence: Alibaba Cloud's idempotence guide (any API taking a ClientToken); the metadata "
            "lists it for CreateDiskReplicaPair only",
        ),
        # -- the credentials ----------------------------------------------------------------------------
        _final(
            "InvalidAccessKeyId.NotFound", "failed", "the credentials are unknown to Alibaba Cloud", "gateway"
        ),
        _final("SignatureDoesNotMatch", "failed", "the credentials' secret is wrong", "gateway"),
        _final("InvalidSecurityToken.Expired", "failed", "the STS token has expired", "gateway"),
        _final(
            "InvalidSecurityToken.MismatchWithAccessKey",
            "failed",
            "the STS token does not belong to the AccessKey",
            "gateway",
        ),
        _final(
            "InvalidSecurityToken.Malformed", "failed", "the STS token is missing or malformed", "gateway"
        ),
    )
}

#: No answer at all (a network fault, a timeout): the same call may get one.
NO_ANSWER = _passing(
    "(no answer)", "ours: a request that got no answer may be sent again with its ClientToken"
)
_THROTTLED = _passing("Throttling", "terraform: every code containing Throttling is retried (errors.go)")
_TOO_MANY = _passing("429", "ours, after terraform and other-ebs-apis: any 429 is a rate limit")
_SERVER = _passing("5xx", "ours: any 5xx is the service's own failure")


def rule_for(code: str | None, status: int | None) -> CodeRule:
    """The rule for an error answer: by name first, then by pattern, else final with EBS's own words.

    ``status`` None means no answer came (``code`` is then ours, e.g. a timeout).
    """
    if status is None:
        return NO_ANSWER
    named = RULES.get(code) if code is not None else None
    if named is not None and named.retry == "now":
        return named
    if code is not None and "Throttling" in code:
        return _THROTTLED
    if status == 429:
        return _TOO_MANY
    if status >= 500:  # the service's own failure, whatever the code says
        return _SERVER
    if named is not None:
        return named
    return CodeRule(
        code or "", "no", "failed", "EBS answered {code}: {message}", "ours: a code no source names"
    )
