"""The OSS protocol as the fake speaks it to ``alibabacloud-oss-v2``: :class:`FakeOss`.

The requests, as the SDK (1.4.1) sends them:

=================  ==========================================  ==========================================
operation          request                                     answer
=================  ==========================================  ==========================================
PutObject          ``PUT /<key>`` (``x-oss-forbid-overwrite``,  200, ``ETag``, ``Content-MD5``,
                   ``Content-MD5``, ``x-oss-meta-*``)           ``x-oss-hash-crc64ecma``, ``x-oss-version-id``
GetObject          ``GET /<key>``                               200, the body and the object's headers
HeadObject         ``HEAD /<key>``                              200, the object's headers, no body
GetObjectMeta      ``HEAD /<key>?objectMeta``                   200, ETag, size, Last-Modified, CRC
ListObjectsV2      ``GET /?list-type=2`` (``prefix``,           200, ``<ListBucketResult>``
                   ``delimiter``, ``start-after``, ``max-keys``,
                   ``continuation-token``, ``encoding-type``)
DeleteObject       ``DELETE /<key>``                            204 (a missing key too)
=================  ==========================================  ==========================================

The bucket is the first label of a virtual-hosted ``Host`` (``<bucket>.oss-<region>.aliyuncs.com``) or,
path style, the first segment of the path (``/<bucket>/<key>``): the SDK's choice for an IP endpoint or
``use_path_style``. A host that is an IP, ``localhost`` or ``oss-*.aliyuncs.com`` names no bucket.

Checks, in order, each answering OSS's XML error
(``<Error><Code/><Message/><RequestId/><HostId/></Error>`` with ``x-oss-request-id``; to a HEAD, no body
and the XML base64-encoded in ``x-oss-err``, which the SDK decodes):

========================================================  ======  =======================================
the fake is :meth:`FakeOss.down`                          —       connection closed, no answer
a :meth:`FakeOss.fail_next` fault                         503     ``ServiceUnavailable`` (or any)
another operation or sub-resource                         501     ``NotImplemented``
unknown bucket                                            404     ``NoSuchBucket``
no ``Authorization`` (anonymous, or a presigned URL)      403     ``AccessDenied``
not ``OSS4-HMAC-SHA256 Credential=…,Signature=…``         400/403 ``InvalidArgument``/``AccessDenied`` (V1)
unknown AccessKeyId; an STS token missing, or sent with   403     ``InvalidAccessKeyId``
a permanent key
STS token different / expired                             403     ``InvalidSecurityToken`` /
                                                                  ``SecurityTokenExpired``
``x-oss-content-sha256`` not ``UNSIGNED-PAYLOAD``,        400     ``InvalidArgument``
``x-oss-date`` unreadable or not the scope's day, scope
not ``<day>/<region>/oss/aliyun_v4_request``, another
region than :attr:`FakeOss.region` (when set)
``x-oss-date`` more than 15 min from the fake's clock     403     ``RequestTimeTooSkewed``
signature differs                                         403     ``SignatureDoesNotMatch``
no :class:`~.models.OssGrant` of the key allows it        403     ``AccessDenied``
the operation's own: ``NoSuchKey`` 404,
``FileAlreadyExists`` 409, ``InvalidDigest`` 400 (a wrong
``Content-MD5``), ``InvalidObjectName`` 400 (key over
1023 bytes), ``InvalidArgument`` 400 (a bad ``max-keys``,
``continuation-token`` or ``x-oss-forbid-overwrite``)
========================================================  ======  =======================================

The V4 signature is recomputed as the SDK's ``signer/v4.py`` computes it: the canonical request
(method; ``quote("/<bucket>/<key>", safe="/")`` whatever the URL style; the raw query pairs sorted,
``k=v`` or a bare ``k``; every ``x-oss-*`` header plus ``content-type`` and ``content-md5`` plus the
``AdditionalHeaders``, ``name:value`` sorted; the ``AdditionalHeaders`` list; ``x-oss-content-sha256``),
then ``OSS4-HMAC-SHA256\\n<x-oss-date>\\n<scope>\\n<hex sha256 of it>``, signed HMAC-SHA256 with the key
chained from ``"aliyun_v4" + secret`` over the day, region, ``oss`` and ``aliyun_v4_request``.

Codes and statuses are OSS's (its error pages; ``InvalidSecurityToken`` is named from its description,
EC 0002-00000006); what is assumed: the checks' order, the messages, and the codes for a malformed
V4 header and scope (``InvalidArgument``). A ``SignatureDoesNotMatch`` also carries ``StringToSign``,
``CanonicalRequest``, ``SignatureProvided`` and ``OSSAccessKeyId`` elements (the fake's aid to whoever
debugs a signer; which of them real OSS sends for V4 is not checked).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import quote
from xml.sax.saxutils import escape

from ebs_failover.testing._core.auth import Credential
from ebs_failover.testing._core.http import FailsOnDemand, GoesDown, InjectedFaults
from ebs_failover.testing.oss.models import (
    DEFAULT_MAX_KEYS,
    MAX_KEY_BYTES,
    MAX_KEYS,
    ListPage,
    OssBackend,
    OssCall,
    OssError,
    OssGrant,
    StoredObject,
)
from ebs_failover.testing.oss.wire import (
    ACTION_OF,
    ALGORITHM,
    CLOCK_SKEW_SECONDS,
    DEFAULT_CREDENTIAL,
    UNSIGNED_PAYLOAD,
    OssRequest,
    V4Authorization,
    canonical_request,
    claimed_access_key_id,
    malformed,
    operation_of,
    parse_oss_date,
    string_to_sign,
    v4_signature,
)

__all__ = [
    "ALGORITHM",
    "CLOCK_SKEW_SECONDS",
    "DEFAULT_CREDENTIAL",
    "FakeOss",
    "OssAnswer",
    "OssRequest",
    "V4Authorization",
    "canonical_request",
    "v4_signature",
]

# -- answers -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OssAnswer:
    """An answer: ``headers`` include ``Content-Length`` (the object's size for a HEAD, whose ``body`` is
    always empty)."""

    status: int
    headers: dict[str, str]
    body: bytes


def _answer(status: int, headers: dict[str, str], body: bytes, request_id: str, now: float) -> OssAnswer:
    common = {"Server": "AliyunOSS", "Date": formatdate(now, usegmt=True), "x-oss-request-id": request_id}
    return OssAnswer(status, {**common, "Content-Length": str(len(body)), **headers}, body)


def error_answer(error: OssError, request_id: str, request: OssRequest, now: float) -> OssAnswer:
    extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in error.fields.items())
    ec = f"<EC>{error.ec}</EC>" if error.ec else ""
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>{escape(request.host)}</HostId>{ec}{extra}</Error>"
    ).encode()
    headers = {"Content-Type": "application/xml"}
    if error.ec:
        headers["x-oss-ec"] = error.ec
    if request.method == "HEAD":  # no body: the SDK reads the XML from x-oss-err
        headers["x-oss-err"] = base64.b64encode(xml).decode()
        return _answer(error.status, headers, b"", request_id, now)
    return _answer(error.status, headers, xml, request_id, now)


def object_headers(stored: StoredObject) -> dict[str, str]:
    headers = {
        "Content-Type": stored.content_type,
        "ETag": stored.etag,
        "Last-Modified": formatdate(stored.last_modified, usegmt=True),
        "x-oss-hash-crc64ecma": str(stored.crc64),
        "x-oss-object-type": "Normal",
        "x-oss-storage-class": "Standard",
        "Accept-Ranges": "bytes",
        **{f"x-oss-meta-{name}": value for name, value in stored.metadata},
    }
    if stored.version_id is not None:
        headers["x-oss-version-id"] = stored.version_id
    return headers


def list_xml(
    bucket: str, params: Mapping[str, str], max_keys: int, page: ListPage, next_token: str | None
) -> bytes:
    url = params.get("encoding-type") == "url"

    def text(value: str) -> str:
        return escape(quote(value, safe="") if url else value)

    optional = "".join(
        f"<{element}>{text(params[name])}</{element}>"
        for name, element in (
            ("delimiter", "Delimiter"),
            ("start-after", "StartAfter"),
            ("continuation-token", "ContinuationToken"),
        )
        if params.get(name)
    )
    contents = "".join(
        f"<Contents><Key>{text(o.key)}</Key>"
        f"<LastModified>{_iso(o.last_modified)}</LastModified><ETag>{escape(o.etag)}</ETag>"
        f"<Type>Normal</Type><Size>{o.size}</Size><StorageClass>Standard</StorageClass></Contents>"
        for o in page.objects
    )
    prefixes = "".join(
        f"<CommonPrefixes><Prefix>{text(p)}</Prefix></CommonPrefixes>" for p in page.common_prefixes
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>'
        f"<Name>{escape(bucket)}</Name><Prefix>{text(params.get('prefix', ''))}</Prefix>"
        f"<MaxKeys>{max_keys}</MaxKeys>{optional}"
        + ("<EncodingType>url</EncodingType>" if url else "")
        + f"<IsTruncated>{'true' if page.is_truncated else 'false'}</IsTruncated>"
        f"<KeyCount>{len(page.objects) + len(page.common_prefixes)}</KeyCount>"
        + (f"<NextContinuationToken>{text(next_token)}</NextContinuationToken>" if next_token else "")
        + f"{contents}{prefixes}</ListBucketResult>"
    ).encode()


def _iso(timestamp: float) -> str:
    millis = int(timestamp * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{millis:03d}Z"


def encode_token(key: str) -> str:
    """A continuation token: the next page's first key, opaque to the client (as OSS's are)."""
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise OssError(400, "InvalidArgument", "The continuation token provided is incorrect.") from None


def new_request_id() -> str:
    """24 upper-case hex digits, the shape of OSS's request ids."""
    return uuid.uuid4().hex[:24].upper()


# -- the service -------------------------------------------------------------------------------------


class FakeOss(FailsOnDemand, GoesDown):
    """A stateful OSS: buckets of objects (:attr:`backend`), the credentials it knows, its faults and its
    call log (:attr:`calls`). Mount it with :class:`~.server.FakeOssServer` (a socket) or
    :class:`~.server.MockOss` (``responses``); both may share one.

    ``buckets`` are created empty; ``region``, when set, is the only signing region accepted (None: any);
    ``latency`` is how long each answer takes, in seconds, under either mounting (settable); ``clock`` is
    the fake's time (``x-oss-date`` freshness, Last-Modified). Knows ``testing``/``testing``.
    Faults: :meth:`down`/:meth:`up` (connections closed unanswered), :meth:`fail_next`
    (``n`` requests answer ``status`` ``code``; 503 ``ServiceUnavailable`` by default), :attr:`latency`.
    """

    FAIL_MESSAGE = "Service is unavailable, please try again later."

    def __init__(
        self,
        *,
        buckets: Iterable[str] = (),
        region: str | None = None,
        latency: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.region = region
        self.latency = latency
        self.backend = OssBackend(clock)
        self.calls: list[OssCall] = []
        self._credentials: dict[str, Credential] = {}
        self._grants: dict[str, tuple[OssGrant, ...]] = {}
        self._faults = InjectedFaults()
        self._lock = threading.Lock()
        self.register_credential(DEFAULT_CREDENTIAL.access_key_id, DEFAULT_CREDENTIAL.access_key_secret)
        for name in buckets:
            self.create_bucket(name)

    # -- state, credentials and faults --------------------------------------------------------------

    def create_bucket(self, name: str, *, versioning: bool = False) -> None:
        """Create ``name`` empty if absent; with ``versioning``, forbid-overwrite is ignored in it."""
        self.backend.create_bucket(name, versioning=versioning)

    def objects(self, bucket: str) -> dict[str, StoredObject]:
        """A snapshot of ``bucket``'s objects by key."""
        return self.backend.objects(bucket)

    def register_credential(
        self,
        access_key_id: str,
        secret: str,
        security_token: str | None = None,
        *,
        expires_at: float | None = None,
        grants: Iterable[OssGrant] | None = None,
    ) -> None:
        """Accept this AccessKey: with ``security_token``, only with that token (and before
        ``expires_at``, a Unix time); with ``grants``, only for what one of them allows (None: anything)."""
        with self._lock:
            self._credentials[access_key_id] = Credential(
                access_key_id, secret, security_token=security_token, expires_at=expires_at
            )
            if grants is None:
                self._grants.pop(access_key_id, None)
            else:
                self._grants[access_key_id] = tuple(grants)

    def reset(self) -> None:
        """Forget every bucket, credential (but ``testing``), fault and call; come back up."""
        self.backend.reset()
        self._faults.clear()
        self.up()
        with self._lock:
            self.calls.clear()
            self._credentials.clear()
            self._grants.clear()
        self.register_credential(DEFAULT_CREDENTIAL.access_key_id, DEFAULT_CREDENTIAL.access_key_secret)

    def _injected_errors(self) -> InjectedFaults:
        return self._faults

    # -- the API ------------------------------------------------------------------------------------

    def handle(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> OssAnswer | None:
        """Answer one request (None: the fake is down, close the connection); record it in :attr:`calls`.

        The transports wait :attr:`latency` first. Raises nothing: errors are answers.
        """
        request = OssRequest.build(method, url, headers, body)
        request_id = new_request_id()
        if self.is_down:
            self._record(request, "Unknown", None, None, request_id)
            return None
        operation = "Unknown"
        try:
            fault = self._faults.take()
            if fault is not None:
                raise OssError(fault.status, fault.code, fault.message)
            operation = operation_of(request)
            assert request.bucket is not None  # operation_of answers NotImplemented otherwise
            if not self.backend.has_bucket(request.bucket):
                raise OssError(404, "NoSuchBucket", "The specified bucket does not exist.")
            self._authenticate(request)
            self._authorize(operation, request)
            answer = self._perform(operation, request, request_id)
        except OssError as error:
            answer = error_answer(error, request_id, request, self.clock())
            self._record(request, operation, answer.status, error.code, request_id)
            return answer
        self._record(request, operation, answer.status, None, request_id)
        return answer

    def _record(
        self, request: OssRequest, operation: str, status: int | None, code: str | None, request_id: str
    ) -> None:
        call = OssCall(
            method=request.method,
            operation=operation,
            bucket=request.bucket,
            key=request.key,
            access_key_id=claimed_access_key_id(request.headers),
            status=status,
            code=code,
            request_id=request_id,
            at=self.clock(),
        )
        with self._lock:
            self.calls.append(call)

    # -- authentication -----------------------------------------------------------------------------

    def _authenticate(self, request: OssRequest) -> None:
        value = request.headers.get("authorization")
        if not value:
            raise OssError(
                403, "AccessDenied", "You have no right to access this object because of bucket acl."
            )
        authorization = V4Authorization.parse(value)
        with self._lock:
            credential = self._credentials.get(authorization.access_key_id)
        if credential is None:
            raise _unknown_key(authorization.access_key_id)
        self._check_token(credential, request.headers.get("x-oss-security-token"))
        self._check_scope(authorization, request.headers)
        canonical = canonical_request(request, authorization.additional_headers)
        to_sign = string_to_sign(request.headers["x-oss-date"], authorization.scope, canonical)
        expected = v4_signature(credential.access_key_secret, authorization, to_sign)
        if not hmac.compare_digest(expected.encode(), authorization.signature.encode()):
            raise OssError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
                fields={
                    "OSSAccessKeyId": authorization.access_key_id,
                    "SignatureProvided": authorization.signature,
                    "StringToSign": to_sign,
                    "CanonicalRequest": canonical,
                },
            )

    def _check_token(self, credential: Credential, sent: str | None) -> None:
        expected = credential.security_token
        if (expected is None) != (sent is None):
            # A token with a permanent key makes OSS look the key up among STS ones (EC 0002-00000002);
            # an STS key without its token is unknown among permanent ones.
            raise _unknown_key(credential.access_key_id)
        if expected is None or sent is None:
            return
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise OssError(
                403, "InvalidSecurityToken", "The security token you provided is invalid.", ec="0002-00000006"
            )
        if credential.expires_at is not None and self.clock() > credential.expires_at:
            raise OssError(
                403,
                "SecurityTokenExpired",
                "The security token you provided has expired.",
                ec="0002-00000007",
            )

    def _check_scope(self, authorization: V4Authorization, headers: Mapping[str, str]) -> None:
        if headers.get("x-oss-content-sha256") != UNSIGNED_PAYLOAD:
            raise OssError(400, "InvalidArgument", "x-oss-content-sha256 must be UNSIGNED-PAYLOAD.")
        stamp = headers.get("x-oss-date", "")
        sent = parse_oss_date(stamp)
        if authorization.day != stamp[:8]:
            raise malformed("the scope's day is not the day of x-oss-date")
        if authorization.product != "oss" or authorization.terminator != "aliyun_v4_request":
            raise malformed("the scope must end /oss/aliyun_v4_request")
        if self.region is not None and authorization.region != self.region:
            raise OssError(
                400,
                "InvalidArgument",
                f"Invalid signing region in Authorization header: {authorization.region}.",
            )
        if abs(self.clock() - sent) > CLOCK_SKEW_SECONDS:
            raise OssError(
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            )

    def _authorize(self, operation: str, request: OssRequest) -> None:
        access_key_id = claimed_access_key_id(request.headers) or ""
        with self._lock:
            grants = self._grants.get(access_key_id)
        if grants is None:
            return
        action = ACTION_OF[operation]
        subject = request.params.get("prefix", "") if operation == "ListObjectsV2" else request.key or ""
        assert request.bucket is not None
        if not any(grant.allows(action, request.bucket, subject) for grant in grants):
            raise OssError(
                403, "AccessDenied", f"You have no right to access this object: {action} is denied."
            )

    # -- operations ---------------------------------------------------------------------------------

    def _perform(self, operation: str, request: OssRequest, request_id: str) -> OssAnswer:
        bucket, key, now = request.bucket or "", request.key or "", self.clock()
        if operation == "PutObject":
            return _answer(200, self._put(bucket, key, request), b"", request_id, now)
        if operation == "ListObjectsV2":
            return self._list(bucket, request.params, request_id, now)
        if operation == "DeleteObject":
            self.backend.delete(bucket, key)
            return _answer(204, {}, b"", request_id, now)
        stored = self.backend.get(bucket, key)
        if operation == "GetObject":
            return _answer(200, object_headers(stored), stored.body, request_id, now)
        headers = object_headers(stored)
        if operation == "GetObjectMeta":
            keep = ("ETag", "Last-Modified", "x-oss-hash-crc64ecma", "x-oss-version-id")
            headers = {name: value for name, value in headers.items() if name in keep}
        answer = _answer(200, headers, b"", request_id, now)
        answer.headers["Content-Length"] = str(stored.size)  # a HEAD tells the size it does not send
        return answer

    def _put(self, bucket: str, key: str, request: OssRequest) -> dict[str, str]:
        if len(key.encode()) > MAX_KEY_BYTES:
            raise OssError(400, "InvalidObjectName", "The specified object is not valid.")
        forbid = request.headers.get("x-oss-forbid-overwrite", "false").lower()
        if forbid not in ("true", "false"):
            raise OssError(400, "InvalidArgument", "x-oss-forbid-overwrite must be true or false.")
        digest = hashlib.md5(request.body).digest()
        md5 = base64.b64encode(digest).decode()
        sent_md5 = request.headers.get("content-md5")
        if sent_md5 is not None and sent_md5 != md5:
            raise OssError(400, "InvalidDigest", "The Content-MD5 you specified is not valid.")
        stored = self.backend.put(
            bucket,
            key,
            request.body,
            content_type=request.headers.get("content-type") or "application/octet-stream",
            forbid_overwrite=forbid == "true",
            metadata=[
                (name[len("x-oss-meta-") :], value)
                for name, value in request.headers.items()
                if name.startswith("x-oss-meta-")
            ],
        )
        headers = {"ETag": stored.etag, "Content-MD5": md5, "x-oss-hash-crc64ecma": str(stored.crc64)}
        if stored.version_id is not None:
            headers["x-oss-version-id"] = stored.version_id
        return headers

    def _list(self, bucket: str, params: Mapping[str, str], request_id: str, now: float) -> OssAnswer:
        raw_max = params.get("max-keys", str(DEFAULT_MAX_KEYS))
        if not raw_max.isdigit() or not 1 <= int(raw_max) <= MAX_KEYS:
            raise OssError(400, "InvalidArgument", f"max-keys must be between 1 and {MAX_KEYS}.")
        if params.get("encoding-type", "url") != "url":
            raise OssError(400, "InvalidArgument", "The encoding-type must be url.")
        token = params.get("continuation-token")
        page = self.backend.list(
            bucket,
            prefix=params.get("prefix", ""),
            delimiter=params.get("delimiter", ""),
            start_after=params.get("start-after", ""),
            from_key=decode_token(token) if token else None,
            max_keys=int(raw_max),
        )
        next_token = encode_token(page.next_key) if page.next_key is not None else None
        body = list_xml(bucket, params, int(raw_max), page, next_token)
        return _answer(200, {"Content-Type": "application/xml"}, body, request_id, now)


def _unknown_key(access_key_id: str) -> OssError:
    return OssError(
        403,
        "InvalidAccessKeyId",
        "The OSS Access Key Id you provided does not exist in our records.",
        fields={"OSSAccessKeyId": access_key_id},
    )
