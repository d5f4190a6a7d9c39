"""The fake OSS's state: buckets of objects, and the records it keeps. No HTTP here.

One :class:`OssBackend` holds every bucket behind one lock, so that a create-if-absent
(:meth:`OssBackend.put` with ``forbid_overwrite``) is atomic however many threads race for one key: the
property an append-only ledger relies on.

Only the newest version of an object is kept, in a versioned bucket too (its id is answered, older ones
are not listed or readable), and a delete removes an object outright (no delete marker).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ebs_failover.testing._core.http import ServiceError

__all__ = [
    "ACTIONS",
    "BUCKET_NAME",
    "DEFAULT_MAX_KEYS",
    "EC_FILE_ALREADY_EXISTS",
    "MAX_KEYS",
    "MAX_KEY_BYTES",
    "ListPage",
    "OssGrant",
    "OssBackend",
    "OssCall",
    "OssError",
    "StoredObject",
    "crc64",
]

#: OSS's rule: 3 to 63 lower-case letters, digits and hyphens, starting and ending with a letter or digit.
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
#: An object key is 1 to 1023 bytes of UTF-8.
MAX_KEY_BYTES = 1023
#: ListObjectsV2's ``max-keys``: 100 when absent, at most 1000.
DEFAULT_MAX_KEYS = 100
MAX_KEYS = 1000
#: The fine-grained code OSS's documentation gives for FileAlreadyExists (EC 0026-00000002).
EC_FILE_ALREADY_EXISTS = "0026-00000002"

#: The RAM actions the fake's operations need: HeadObject and GetObjectMeta are oss:GetObject,
#: ListObjectsV2 is oss:ListObjects.
ACTIONS = frozenset({"oss:PutObject", "oss:GetObject", "oss:ListObjects", "oss:DeleteObject"})

_CRC64_POLY = 0xC96C5795D7870F42  # CRC-64/ECMA-182, reflected: OSS's x-oss-hash-crc64ecma
_CRC64_MASK = 0xFFFFFFFFFFFFFFFF


def _crc64_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC64_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC64_TABLE = _crc64_table()


def crc64(data: bytes) -> int:
    """CRC-64/ECMA of ``data`` as OSS sends it in ``x-oss-hash-crc64ecma`` (the SDK checks a PUT's)."""
    crc = _CRC64_MASK
    for byte in data:
        crc = _CRC64_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ _CRC64_MASK


class OssError(ServiceError):
    """An OSS error answer: HTTP ``status``, ``code``, ``message``; ``ec`` is OSS's fine-grained code (sent
    only where a public source gives it) and ``fields`` more elements of the ``<Error>`` body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        ec: str | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, code, message)
        self.ec = ec
        self.fields = dict(fields or {})


@dataclass(frozen=True)
class StoredObject:
    """One object as the fake keeps it; ``etag`` is OSS's quoted upper-case MD5 of the body."""

    key: str
    body: bytes
    etag: str
    content_type: str
    #: Unix time of the write.
    last_modified: float
    crc64: int
    #: Set in a versioned bucket only.
    version_id: str | None = None
    #: The ``x-oss-meta-*`` headers, names lower-case and without the prefix.
    metadata: tuple[tuple[str, str], ...] = ()

    @property
    def size(self) -> int:
        return len(self.body)


@dataclass(frozen=True)
class ListPage:
    """One page of a listing, in key order; ``next_key`` (the first key of the next page) is set when the
    listing is truncated."""

    objects: tuple[StoredObject, ...]
    common_prefixes: tuple[str, ...]
    next_key: str | None

    @property
    def is_truncated(self) -> bool:
        return self.next_key is not None


@dataclass(frozen=True)
class OssGrant:
    """An Allow statement of a RAM policy, reduced to what the fake checks: ``actions`` on the objects of
    ``bucket`` whose key starts with ``prefix``; for ``oss:ListObjects``, a listing whose ``prefix``
    parameter starts with it (the ``StringLike oss:Prefix`` condition of a real policy)."""

    bucket: str
    prefix: str = ""
    actions: frozenset[str] = ACTIONS

    def allows(self, action: str, bucket: str, subject: str) -> bool:
        """Whether ``action`` on ``subject`` (a key, or a listing's prefix) in ``bucket`` is allowed."""
        return action in self.actions and bucket == self.bucket and subject.startswith(self.prefix)


@dataclass(frozen=True)
class OssCall:
    """One request as the fake saw it.

    ``access_key_id`` is the one the ``Authorization`` header claims (verified or not); ``status`` and
    ``code`` are None when the connection was dropped (the fake was down), ``code`` also on success.
    """

    method: str
    operation: str
    bucket: str | None
    key: str | None
    access_key_id: str | None
    status: int | None
    code: str | None
    request_id: str
    at: float


@dataclass
class _Bucket:
    name: str
    versioning: bool = False
    objects: dict[str, StoredObject] = field(default_factory=dict)


class OssBackend:
    """Every bucket and object of the fake, thread-safe (one lock); ``clock`` stamps Last-Modified."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    # -- buckets -------------------------------------------------------------

    def create_bucket(self, name: str, *, versioning: bool = False) -> None:
        """Create ``name`` empty if absent (an existing bucket keeps its objects); set its versioning."""
        if not BUCKET_NAME.match(name):
            raise ValueError(f"invalid OSS bucket name {name!r}")
        with self._lock:
            self._buckets.setdefault(name, _Bucket(name)).versioning = versioning

    def set_versioning(self, name: str, enabled: bool) -> None:
        """Turn versioning on or off. Off is "never enabled": real OSS can only suspend versioning, and a
        suspended bucket still ignores forbid-overwrite, which the fake's "off" honours again."""
        with self._lock:
            self._bucket(name).versioning = enabled

    def delete_bucket(self, name: str) -> None:
        with self._lock:
            self._buckets.pop(name, None)

    def bucket_names(self) -> list[str]:
        with self._lock:
            return sorted(self._buckets)

    def has_bucket(self, name: str) -> bool:
        with self._lock:
            return name in self._buckets

    def is_versioned(self, name: str) -> bool:
        with self._lock:
            return self._bucket(name).versioning

    def objects(self, bucket: str) -> dict[str, StoredObject]:
        """A snapshot of ``bucket``'s objects by key."""
        with self._lock:
            return dict(self._bucket(bucket).objects)

    def reset(self) -> None:
        """Forget every bucket."""
        with self._lock:
            self._buckets.clear()

    # -- objects -------------------------------------------------------------

    def put(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        content_type: str = "application/octet-stream",
        forbid_overwrite: bool = False,
        metadata: Iterable[tuple[str, str]] = (),
    ) -> StoredObject:
        """Store ``body`` at ``key``. With ``forbid_overwrite`` an existing key is 409 FileAlreadyExists,
        checked and written under the lock; a versioned bucket ignores the flag, as OSS does."""
        digest = hashlib.md5(body).hexdigest().upper()
        with self._lock:
            target = self._bucket(bucket)
            if forbid_overwrite and not target.versioning and key in target.objects:
                raise OssError(
                    409,
                    "FileAlreadyExists",
                    "The object you specified already exists and can not be overwritten.",
                    ec=EC_FILE_ALREADY_EXISTS,
                )
            stored = StoredObject(
                key=key,
                body=body,
                etag=f'"{digest}"',
                content_type=content_type,
                last_modified=self.clock(),
                crc64=crc64(body),
                version_id=_new_version_id() if target.versioning else None,
                metadata=tuple(sorted(metadata)),
            )
            target.objects[key] = stored
            return stored

    def get(self, bucket: str, key: str) -> StoredObject:
        with self._lock:
            stored = self._bucket(bucket).objects.get(key)
        if stored is None:
            raise OssError(404, "NoSuchKey", "The specified key does not exist.")
        return stored

    def delete(self, bucket: str, key: str) -> StoredObject | None:
        """Remove ``key``; return what was there (a missing key is no error, as in OSS)."""
        with self._lock:
            return self._bucket(bucket).objects.pop(key, None)

    def list(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        start_after: str = "",
        from_key: str | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> ListPage:
        """Up to ``max_keys`` entries (objects, and common prefixes when ``delimiter`` is set) whose key
        starts with ``prefix``, is after ``start_after`` and not before ``from_key`` (a continuation)."""
        with self._lock:
            objects = self._bucket(bucket).objects
            keys = sorted(
                k
                for k in objects
                if k.startswith(prefix) and k > start_after and (from_key is None or k >= from_key)
            )
            found: list[StoredObject] = []
            prefixes: list[str] = []
            for key in keys:
                common = _common_prefix(key, prefix, delimiter)
                if common is not None and prefixes and prefixes[-1] == common:
                    continue  # rolled up into the prefix already listed
                if len(found) + len(prefixes) == max_keys:
                    return ListPage(tuple(found), tuple(prefixes), key)
                if common is None:
                    found.append(objects[key])
                else:
                    prefixes.append(common)
        return ListPage(tuple(found), tuple(prefixes), None)

    def _bucket(self, name: str) -> _Bucket:
        bucket = self._buckets.get(name)
        if bucket is None:
            raise OssError(404, "NoSuchBucket", "The specified bucket does not exist.")
        return bucket


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    """The common prefix ``key`` rolls up into, or None when it is listed itself."""
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


def _new_version_id() -> str:
    # Opaque, like OSS's (base64-looking strings starting CAEQ); only its presence matters to a client.
    return "CAEQ" + uuid.uuid4().hex.upper()
