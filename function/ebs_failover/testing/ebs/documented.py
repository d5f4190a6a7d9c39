"""The error answers EBS documents, per API: what the fake may answer, and the guard that holds it to them.

Source: Alibaba Cloud's OpenAPI metadata for ``ebs`` 2021-07-30 (``apis.<API>.errorCodes``), copied in
``docs/reference/ebs-error-codes.md`` (a test holds this table and that page equal). The fake's own
models may answer only these codes, each with its documented status, for the APIs listed; the gateway's
common errors (:class:`~ebs_failover.testing._core.errors.GatewayError`: signatures, credentials,
throttling, an unknown action) and a test's injected faults are the gateway's and the test's, not EBS's.

An answer outside the table is a bug of the fake. :func:`check_answer` records it in :data:`VIOLATIONS`
(process-wide, so the socket fake's thread reports too) and the test suite fails any test that leaves one.
"""

from __future__ import annotations

import threading

__all__ = ["ACROSS_APIS", "DOCUMENTED_ERRORS", "VIOLATIONS", "check_answer", "documents", "take_violations"]

_Codes = frozenset[tuple[int, str]]

_COMMON: _Codes = frozenset(
    {
        (403, "OperationDenied"),
        (403, "Forbidden"),
        (403, "Forbidden.Action"),
        (404, "NoSuchResource"),
        (500, "InternalError"),
        (504, "RequestTimeout"),
    }
)
_WRONG_SITE: _Codes = frozenset(
    {
        (403, "OperationDenied.OperateNotAllowedForPrimary"),
        (403, "OperationDenied.OperateNotAllowedForStandby"),
    }
)
_INVALID_STATUS: _Codes = frozenset({(403, "OperationDenied.InvalidStatus")})
_DRILL_COMMON: _Codes = _COMMON | frozenset(
    {
        (400, "InvalidParameter"),
        (400, "InvalidParameter.Conflict"),
        (400, "InvalidParameter.Format"),
        (400, "MissingParameter"),
        (403, "InvalidAccountStatus.NotEnoughBalance"),
        (403, "LastTokenProcessing"),
        (403, "NoPermission.SLR"),
        (404, "InvalidApi.NotFound"),
    }
)
_DRILL_START: _Codes = _DRILL_COMMON | frozenset(
    {(403, "OperationDenied.RecoverPointNotFound"), (403, "OperationDenied.StartDrillShouldOnDestRegion")}
)

#: Per API: the (HTTP status, code) pairs its metadata documents.
DOCUMENTED_ERRORS: dict[str, _Codes] = {
    "DescribeDiskReplicaPairs": _COMMON | _INVALID_STATUS,
    "DescribeDiskReplicaGroups": _COMMON | _INVALID_STATUS,
    "FailoverDiskReplicaPair": _COMMON | _INVALID_STATUS | _WRONG_SITE,
    "FailoverDiskReplicaGroup": _COMMON
    | _INVALID_STATUS
    | _WRONG_SITE
    | frozenset(
        {
            (403, "OperationDenied.NoPairInGroup"),
            (403, "OperationDenied.PairGroupStatusConflict"),
            (403, "OperationDenied.PairGroupAZoneConflict"),
            (403, "OperationDenied.PairInAnotherGroup"),
        }
    ),
    "StartPairDrill": _DRILL_START,
    "StartReplicaGroupDrill": _DRILL_START,
    "DescribePairDrills": _DRILL_COMMON,
    "DescribeReplicaGroupDrills": _DRILL_COMMON,
    "ClearPairDrill": _DRILL_COMMON,
    "ClearReplicaGroupDrill": _DRILL_COMMON,
    "ReprotectDiskReplicaPair": _COMMON
    | _INVALID_STATUS
    | _WRONG_SITE
    | frozenset(
        {
            (403, "OperationDenied.NoPairInGroup"),
            (403, "OperationDenied.PairGroupAZoneConflict"),
            (403, "OperationDenied.PairGroupStatusConflict"),
            (403, "OperationDenied.PairNotInGroup"),
        }
    ),
    "ReprotectDiskReplicaGroup": _COMMON
    | _INVALID_STATUS
    | _WRONG_SITE
    | frozenset({(403, "OperationDenied.NoPairInGroup")}),
}

#: Answers the fake gave outside :data:`DOCUMENTED_ERRORS`: (action, status, code).
VIOLATIONS: list[tuple[str, int, str]] = []
_LOCK = threading.Lock()


#: Answers documented across APIs rather than per API: a ClientToken used again with other parameters
#: (Alibaba Cloud's idempotence guide, common to the APIs that take a ClientToken; EBS's metadata lists it
#: for CreateDiskReplicaPair only).
ACROSS_APIS: _Codes = frozenset({(400, "IdempotentParameterMismatch")})


def documents(action: str, status: int, code: str) -> bool:
    """Whether EBS documents ``code`` with ``status`` for ``action`` (an API outside the table: yes)."""
    documented = DOCUMENTED_ERRORS.get(action)
    return documented is None or (status, code) in documented | ACROSS_APIS


def check_answer(action: str, status: int, code: str) -> None:
    """Record an answer of the fake's models that EBS does not document for ``action``."""
    if not documents(action, status, code):
        with _LOCK:
            VIOLATIONS.append((action, status, code))


def take_violations() -> list[tuple[str, int, str]]:
    """The violations recorded so far, forgotten as they are returned."""
    with _LOCK:
        taken = list(VIOLATIONS)
        VIOLATIONS.clear()
        return taken
