"""The errors only EBS answers with; the gateway's common ones are in :mod:`.._core.errors`.

The codes and messages are the ones of the FailoverDiskReplicaPair error table and of the other
async-replication API pages.
"""

from __future__ import annotations

from typing import ClassVar

from ebs_failover.testing._core.errors import ApiError

__all__ = ["IdempotentParameterMismatch", "NoSuchResource", "OperationDenied"]


class IdempotentParameterMismatch(ApiError):
    code = "IdempotentParameterMismatch"
    default_message = "The specified parameter has changed while using an already used clientToken."


class OperationDenied(ApiError):
    """403 ``OperationDenied`` or one of its sub-codes (``code=`` picks it)."""

    status = 403
    code = "OperationDenied"
    default_message = "The operation is not allowed."

    #: The documented messages of the sub-codes.
    MESSAGES: ClassVar[dict[str, str]] = {
        "OperationDenied": "The operation is not allowed.",
        "OperationDenied.InvalidStatus": "The operation is not allowed in current status.",
        "OperationDenied.OperateNotAllowedForPrimary": "Operation is not allowed on the primary site.",
        "OperationDenied.OperateNotAllowedForStandby": "Operation is not allowed on the secondary site.",
        "OperationDenied.PairInAnotherGroup": "The replica pair is already in another group.",
        "OperationDenied.PairNotInGroup": "The replica pair is not in the group.",
        "OperationDenied.NoPairInGroup": "There is no replica pair in the group.",
        "OperationDenied.PairGroupAZoneConflict": "The zones of the pair and the group conflict.",
        "OperationDenied.PairGroupStatusConflict": "The status of the pair and the group conflict.",
        "OperationDenied.QuotaExceed": "The quota is exceeded.",
        "OperationDenied.StartDrillShouldOnDestRegion": (
            "The drill should be started in the destination region."
        ),
        "OperationDenied.RecoverPointNotFound": "The recover point is not found.",
    }

    def __init__(self, code: str = "OperationDenied", detail: str | None = None) -> None:
        message = self.MESSAGES.get(code, self.default_message)
        if detail:
            message = f"{message} {detail}"
        super().__init__(message, code=code)


class NoSuchResource(ApiError):
    status = 404
    code = "NoSuchResource"
    default_message = "The specified resource does not exist."
