"""Server-side ACS3-HMAC-SHA256 verification, as the API gateway does it.

The verifier recomputes the signature exactly as ``alibabacloud-tea-openapi``
computes it (canonical request -> string to sign -> HMAC-SHA256 with the
AccessKey secret), checks the STS token of temporary credentials, refuses a
replayed ``x-acs-signature-nonce`` and an ``x-acs-date`` more than 15 minutes
from the fake's clock.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from calendar import timegm
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from time import strptime
from urllib.parse import parse_qsl, quote, urlsplit

from ebs_failover.testing._core.errors import (
    IncompleteSignature,
    InvalidAccessKeyIdNotFound,
    InvalidTimeStampExpired,
    InvalidTimeStampFormat,
    SecurityTokenError,
    SignatureDoesNotMatch,
    SignatureNonceUsed,
)

__all__ = ["DEFAULT_ACCOUNT_ID", "Credential", "CredentialStore", "verify_acs3"]

ALGORITHM = "ACS3-HMAC-SHA256"
DEFAULT_ACCOUNT_ID = "1234567890123456"
_CLOCK_SKEW_SECONDS = 15 * 60
_NONCES_KEPT = 100_000


@dataclass(frozen=True)
class Credential:
    """An AccessKey the fake accepts; ``security_token`` makes it STS credentials."""

    access_key_id: str
    access_key_secret: str
    account_id: str = DEFAULT_ACCOUNT_ID
    security_token: str | None = None
    #: Unix time after which the STS token is ``InvalidSecurityToken.Expired``.
    expires_at: float | None = None

    def __repr__(self) -> str:  # the secret and token never reach a log
        return f"Credential(access_key_id={self.access_key_id!r}, account_id={self.account_id!r})"


class CredentialStore:
    """The registered credentials, plus the nonces already seen."""

    def __init__(self) -> None:
        self._by_key: dict[str, Credential] = {}
        self._nonces: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def register(self, credential: Credential) -> Credential:
        self._by_key[credential.access_key_id] = credential
        return credential

    def get(self, access_key_id: str) -> Credential | None:
        return self._by_key.get(access_key_id)

    def clear(self) -> None:
        self._by_key.clear()
        with self._lock:
            self._nonces.clear()

    def use_nonce(self, access_key_id: str, nonce: str) -> None:
        key = f"{access_key_id}:{nonce}"
        with self._lock:
            if key in self._nonces:
                raise SignatureNonceUsed()
            self._nonces[key] = None
            if len(self._nonces) > _NONCES_KEPT:
                self._nonces.popitem(last=False)


def canonical_query(url: str) -> str:
    pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    return "&".join(f"{k}={quote(v, safe='~')}" for k, v in sorted(pairs))


def string_to_sign(
    method: str, url: str, headers: Mapping[str, str], signed_headers: list[str], body: bytes
) -> str:
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed_headers)
    canonical_request = "\n".join(
        [
            method.upper(),
            urlsplit(url).path or "/",
            canonical_query(url),
            canonical_headers,
            ";".join(signed_headers),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    return f"{ALGORITHM}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"


def _parse_authorization(value: str) -> tuple[str, list[str], str]:
    if not value.startswith(ALGORITHM + " "):
        raise IncompleteSignature()
    fields: dict[str, str] = {}
    for part in value[len(ALGORITHM) + 1 :].split(","):
        name, sep, item = part.strip().partition("=")
        if not sep:
            raise IncompleteSignature()
        fields[name] = item
    try:
        return fields["Credential"], fields["SignedHeaders"].split(";"), fields["Signature"]
    except KeyError:
        raise IncompleteSignature() from None


def _parse_date(value: str) -> float:
    try:
        return float(timegm(strptime(value, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        raise InvalidTimeStampFormat() from None


def verify_acs3(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    store: CredentialStore,
    clock: Callable[[], float],
) -> Credential:
    """Check one request's signature; return its credential or raise a gateway error.

    ``headers`` must have lower-case names.
    """
    authorization = headers.get("authorization")
    if not authorization:
        raise IncompleteSignature("The request has no Authorization header.")
    access_key_id, signed_headers, signature = _parse_authorization(authorization)
    credential = store.get(access_key_id)
    if credential is None:
        raise InvalidAccessKeyIdNotFound()
    for required in ("host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce"):
        if required not in signed_headers or required not in headers:
            raise IncompleteSignature(f"The header {required} is missing or not signed.")
    if headers["x-acs-content-sha256"] != hashlib.sha256(body).hexdigest():
        raise SignatureDoesNotMatch("The x-acs-content-sha256 header does not match the body.")
    expected = hmac.new(
        credential.access_key_secret.encode(),
        string_to_sign(method, url, headers, signed_headers, body).encode(),
        hashlib.sha256,
    ).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise SignatureDoesNotMatch()
    _check_security_token(credential, headers, signed_headers, clock)
    if abs(clock() - _parse_date(headers["x-acs-date"])) > _CLOCK_SKEW_SECONDS:
        raise InvalidTimeStampExpired()
    store.use_nonce(access_key_id, headers["x-acs-signature-nonce"])
    return credential


def _check_security_token(
    credential: Credential,
    headers: Mapping[str, str],
    signed_headers: list[str],
    clock: Callable[[], float],
) -> None:
    sent = headers.get("x-acs-security-token")
    if credential.security_token is None:
        if sent is not None:
            raise SecurityTokenError(
                "A SecurityToken was sent with a permanent AccessKey.",
                code="InvalidSecurityToken.MismatchWithAccessKey",
            )
        return
    if sent is None or "x-acs-security-token" not in signed_headers:
        raise SecurityTokenError(
            "The SecurityToken of a temporary AccessKey is missing.",
            code="InvalidSecurityToken.Malformed",
        )
    if not hmac.compare_digest(sent.encode(), credential.security_token.encode()):
        raise SecurityTokenError()
    if credential.expires_at is not None and clock() > credential.expires_at:
        raise SecurityTokenError("Specified SecurityToken is expired.", code="InvalidSecurityToken.Expired")
