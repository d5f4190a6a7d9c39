"""The ledger's store on OSS (``LEDGER=oss://<bucket>[/<prefix>]``), with the official SDK
``alibabacloud-oss-v2``, imported here only: a function with no ledger never loads it.

Create-if-absent is PutObject with ``x-oss-forbid-overwrite: true``: OSS answers 409 ``FileAlreadyExists``
when the key exists. Two things make that answer less simple than it looks:

- **The echo of our own write.** The SDK retries a PutObject whose answer was lost (a 5xx, a timeout); the
  retry then meets the object the first attempt wrote and gets 409. So a 409 is read back and compared:
  the same bytes are ours (every record names the delivery that wrote it, so two deliveries' records never
  have one body).
- **A versioned bucket ignores the header** and overwrites (OSS's PutObject docs). Its answer then carries
  ``x-oss-version-id``, which an unversioned bucket's never does: seen on the claim's own answer, with no
  extra request or permission, it makes the ledger unusable (:class:`LedgerUnusable`).

Whether two concurrent first writes of one key are atomic is not documented (the bucket-level overwrite
rules' docs warn they may not be). If they are not, two deliveries could each believe they claimed one
step: two Failover calls with the same ClientToken (EBS makes the second a replay) or one news told twice;
never a step lost.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import alibabacloud_oss_v2 as oss

from ebs_failover.cloud.credentials import Credentials
from ebs_failover.errors import LedgerUnavailable, LedgerUnusable

__all__ = ["OssStore"]

#: Seconds to connect and for each read: the ledger is never a gate for a failover.
CONNECT_TIMEOUT, READ_TIMEOUT = 2.0, 3.0
#: Attempts per request (the SDK's retry of 5xx and timeouts; a retried create may come back as an echo).
ATTEMPTS = 2
_PAGE = 1000


class OssStore:
    """The :class:`~.store.Store` primitives on one OSS bucket, under ``prefix``."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        region: str,
        credentials: Callable[[], Credentials | None],
        endpoint: str | None = None,
    ) -> None:
        self.bucket, self.prefix = bucket, prefix
        self._client = oss.Client(_config(region, credentials, endpoint))

    def create(self, key: str, body: bytes) -> bool:
        request = oss.PutObjectRequest(
            bucket=self.bucket, key=key, body=body, forbid_overwrite=True, content_type="application/json"
        )
        try:
            answer = self._client.put_object(request)
        except oss.exceptions.OperationError as error:
            if _code(error) != (409, "FileAlreadyExists"):
                raise _unavailable("create", key, error) from error
            return self.read(key) == body  # our own earlier attempt's echo, or another writer's
        except Exception as error:  # the transport: unavailable, never a bug
            raise LedgerUnavailable("create", f"OSS did not create {key} ({type(error).__name__})") from error
        if answer.version_id:
            raise LedgerUnusable(
                "create",
                f"bucket {self.bucket} is versioned, so OSS overwrote {key} instead of refusing: a ledger "
                "needs a bucket whose versioning was never enabled",
            )
        return True

    def read(self, key: str) -> bytes | None:
        try:
            answer = self._client.get_object(oss.GetObjectRequest(bucket=self.bucket, key=key))
            body: bytes = answer.body.content  # streamed: a stall here is the read's too
        except oss.exceptions.OperationError as error:
            if _code(error)[1] == "NoSuchKey":
                return None
            raise _unavailable("read", key, error) from error
        except Exception as error:  # the body's transport (a timeout mid-body): unavailable, never a bug
            raise LedgerUnavailable("read", f"OSS did not read {key} ({type(error).__name__})") from error
        return body

    def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        paginator = self._client.list_objects_v2_paginator(limit=_PAGE)
        try:
            for page in paginator.iter_page(oss.ListObjectsV2Request(bucket=self.bucket, prefix=prefix)):
                found.extend(str(item.key) for item in page.contents or ())
        except oss.exceptions.OperationError as error:
            raise _unavailable("list", prefix, error) from error
        except Exception as error:  # a page's transport: unavailable, never a bug
            raise LedgerUnavailable("list", f"OSS did not list {prefix} ({type(error).__name__})") from error
        return found


def _config(region: str, credentials: Callable[[], Credentials | None], endpoint: str | None) -> Any:
    config = oss.config.load_default()
    config.region = region
    config.credentials_provider = oss.credentials.CredentialsProviderFunc(
        lambda: _oss_credentials(credentials)
    )
    config.connect_timeout, config.readwrite_timeout = CONNECT_TIMEOUT, READ_TIMEOUT
    config.retry_max_attempts = ATTEMPTS
    if endpoint:
        config.endpoint = endpoint
        host = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}").hostname or ""
        config.use_path_style = host == "localhost" or _is_ip(host)
        if endpoint.startswith("http://"):
            config.disable_ssl = True
    return config


def _oss_credentials(credentials: Callable[[], Credentials | None]) -> Any:
    """The function's credentials as the OSS SDK wants them, read afresh for every request (FC rotates the
    STS token of a warm instance)."""
    held = credentials()
    if held is None:
        return oss.credentials.Credentials("", "")
    return oss.credentials.Credentials(held.access_key_id, held.access_key_secret, held.security_token)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _code(error: oss.exceptions.OperationError) -> tuple[int | None, str | None]:
    cause = error.unwrap()
    if isinstance(cause, oss.exceptions.ServiceError):
        return cause.status_code, cause.code
    return None, None


def _unavailable(operation: str, key: str, error: oss.exceptions.OperationError) -> LedgerUnavailable:
    status, code = _code(error)
    why = f"{status} {code}" if code else f"{type(error.unwrap()).__name__}: {str(error.unwrap())[:200]}"
    return LedgerUnavailable(operation, f"OSS did not {operation} {key} ({why})", code)
