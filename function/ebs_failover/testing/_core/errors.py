"""Errors the fakes answer with: Alibaba Cloud's common (gateway) ones, one class per failure mode.

Every class carries the HTTP status, the ``Code`` and the ``Message`` that the
real service (or its API gateway) uses; the wire layer turns any of them into
the JSON body ``{RequestId, HostId, Code, Message, Recommend}``.

Hierarchy::

    ApiError                         any error answer
    ├── GatewayError                    refused before the EBS service saw it
    │   ├── IncompleteSignature         400  no or malformed Authorization
    │   ├── InvalidAccessKeyIdNotFound  404  unknown AccessKeyId
    │   ├── SignatureDoesNotMatch       400  the HMAC does not match
    │   ├── SignatureNonceUsed          400  x-acs-signature-nonce replayed
    │   ├── InvalidTimeStampExpired     400  x-acs-date too far from now
    │   ├── InvalidTimeStampFormat      400  x-acs-date unreadable
    │   ├── SecurityTokenError          400  STS token missing, wrong or expired
    │   ├── InvalidVersion              400  x-acs-version is not 2021-07-30
    │   ├── InvalidApiNotFound          404  unknown x-acs-action (InvalidApi.NotFound)
    │   ├── MissingParameter            400  a required parameter is absent
    │   ├── InvalidParameter            400  a parameter is malformed
    │   └── Throttling                  400  Throttling.User: the caller's quota is used up
    ├── (EBS's own, in :mod:`ebs_failover.testing.ebs.exceptions`: IdempotentParameterMismatch,
    │    OperationDenied and its sub-codes, NoSuchResource)
    └── InjectedError                   any  a fault injected by a test

The codes and messages of the EBS-specific errors are the ones of the
FailoverDiskReplicaPair error table; the gateway ones are Alibaba Cloud's
common error codes.
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "GatewayError",
    "IncompleteSignature",
    "InjectedError",
    "InvalidAccessKeyIdNotFound",
    "InvalidApiNotFound",
    "InvalidParameter",
    "InvalidTimeStampExpired",
    "InvalidTimeStampFormat",
    "InvalidVersion",
    "MissingParameter",
    "SecurityTokenError",
    "SignatureDoesNotMatch",
    "SignatureNonceUsed",
    "Throttling",
]


class ApiError(Exception):
    """An error answer: HTTP ``status``, ``code`` and ``message``."""

    status: int = 400
    code: str = "InvalidParameter"
    default_message: str = ""

    #: Sent as ``x-acs-retry-after`` when set (milliseconds, as darabonba reads it).
    retry_after: int | None = None

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        if code is not None:
            self.code = code
        super().__init__(f"{self.status} {self.code}: {self.message}")


class GatewayError(ApiError):
    """Refused by the API gateway before the EBS service saw the request."""


class IncompleteSignature(GatewayError):
    code = "IncompleteSignature"
    default_message = "The request signature does not conform to Aliyun standards."


class InvalidAccessKeyIdNotFound(GatewayError):
    status = 404
    code = "InvalidAccessKeyId.NotFound"
    default_message = "Specified access key is not found."


class SignatureDoesNotMatch(GatewayError):
    code = "SignatureDoesNotMatch"
    default_message = "Specified signature is not matched with our calculation."


class SignatureNonceUsed(GatewayError):
    code = "SignatureNonceUsed"
    default_message = "Specified signature nonce was used already."


class InvalidTimeStampExpired(GatewayError):
    code = "InvalidTimeStamp.Expired"
    default_message = "Specified time stamp or date value is expired."


class InvalidTimeStampFormat(GatewayError):
    code = "InvalidTimeStamp.Format"
    default_message = "Specified time stamp or date value is not well formatted."


class SecurityTokenError(GatewayError):
    """``InvalidSecurityToken.Malformed``, ``.MismatchWithAccessKey`` or ``.Expired``."""

    code = "InvalidSecurityToken.MismatchWithAccessKey"
    default_message = "Specified SecurityToken mismatch with the AccessKey."


class InvalidVersion(GatewayError):
    code = "InvalidVersion"
    default_message = "Specified parameter Version is not valid."


class InvalidApiNotFound(GatewayError):
    """EBS's code for an unknown action (its API metadata: ``InvalidApi.NotFound``)."""

    status = 404
    code = "InvalidApi.NotFound"
    default_message = "Specified api is not found, please check your url and method."


class MissingParameter(GatewayError):
    code = "MissingParameter"

    def __init__(self, name: str) -> None:
        self.parameter = name
        super().__init__(
            f'The input parameter "{name}" that is mandatory for processing this request is not supplied.'
        )


class InvalidParameter(GatewayError):
    code = "InvalidParameter"

    def __init__(self, name: str, why: str) -> None:
        self.parameter = name
        super().__init__(f"The parameter {name} is invalid: {why}")


class Throttling(GatewayError):
    """The flow control of a :class:`~ebs_failover.testing.Quota`: 400, as users see it in practice."""

    code = "Throttling.User"
    default_message = "Request was denied due to user flow control."

    def __init__(self, retry_after: int | None = None) -> None:
        self.retry_after = retry_after
        super().__init__()


class InjectedError(ApiError):
    """An error answer injected by a test through :class:`~ebs_failover.testing.FaultPlan`."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(message, code=code)
