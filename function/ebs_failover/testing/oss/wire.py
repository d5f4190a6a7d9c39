"""How a request reaches the fake OSS, read off the wire: its bucket, key and operation
(:class:`OssRequest`), and OSS's V4 signature rebuilt from it (``alibabacloud_oss_v2/signer/v4.py``,
1.4.1): the ``Authorization`` header, the canonical request, the string to sign. :mod:`.responses`
answers what this reads.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import time
from calendar import timegm
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ebs_failover.testing._core.auth import Credential
from ebs_failover.testing.oss.models import (
    OssError,
)

ALGORITHM = "OSS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
CLOCK_SKEW_SECONDS = 15 * 60
DEFAULT_CREDENTIAL = Credential("testing", "testing")

#: Hosts that are an endpoint, not ``<bucket>.<endpoint>``.
_ENDPOINT_HOST = re.compile(r"^(localhost|oss-[a-z0-9-]+\.aliyuncs\.com)$")
_V4_FIELD = re.compile(r"\s*(Credential|AdditionalHeaders|Signature)=([^,]*)")
_CLAIMED_KEY = re.compile(r"Credential=([^/,\s]+)|^OSS ([^:\s]+):")
#: The query parameters each operation takes; any other is a sub-resource the fake does not implement.
_LIST_PARAMETERS = frozenset(
    {
        "list-type",
        "prefix",
        "delimiter",
        "start-after",
        "continuation-token",
        "max-keys",
        "fetch-owner",
        "encoding-type",
    }
)
_RESPONSE_OVERRIDES = frozenset(
    {
        "response-content-type",
        "response-content-language",
        "response-expires",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
    }
)
#: The RAM action each operation needs.
ACTION_OF = {
    "PutObject": "oss:PutObject",
    "GetObject": "oss:GetObject",
    "HeadObject": "oss:GetObject",
    "GetObjectMeta": "oss:GetObject",
    "DeleteObject": "oss:DeleteObject",
    "ListObjectsV2": "oss:ListObjects",
}


# -- the request ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OssRequest:
    """One request, parsed: ``headers`` have lower-case names, ``key`` is decoded (None: bucket level),
    ``raw_query`` is the query as sent (the signature's), ``params`` its decoded pairs."""

    method: str
    host: str
    raw_query: str
    bucket: str | None
    key: str | None
    params: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    @classmethod
    def build(cls, method: str, url: str, headers: Mapping[str, str], body: bytes) -> OssRequest:
        parts = urlsplit(url)
        lower = {name.lower(): value for name, value in headers.items()}
        host = lower.get("host") or parts.netloc
        bucket, key = _target(host, parts.path or "/")
        return cls(
            method=method.upper(),
            host=host,
            raw_query=parts.query,
            bucket=bucket,
            key=key,
            params=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=lower,
            body=body,
        )


def _target(host: str, path: str) -> tuple[str | None, str | None]:
    """``(bucket, key)`` of a request: virtual-hosted when the host is ``<bucket>.<endpoint>``."""
    hostname = urlsplit(f"//{host}").hostname or ""
    if _is_ip(hostname) or _ENDPOINT_HOST.match(hostname) or "." not in hostname:
        bucket, _, rest = path[1:].partition("/")
        if not bucket:
            return None, None
        return bucket, (unquote(rest) if rest else None)
    rest = path[1:]
    return hostname.split(".", 1)[0], (unquote(rest) if rest else None)


def _is_ip(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


def operation_of(request: OssRequest) -> str:
    """The operation a request asks for, or 501 ``NotImplemented``."""
    params = set(request.params)
    operation: str | None = None
    allowed: frozenset[str] = frozenset()
    if request.bucket is not None and request.key is None:
        if request.method == "GET" and request.params.get("list-type") == "2":
            operation, allowed = "ListObjectsV2", _LIST_PARAMETERS
    elif request.bucket is not None and request.method == "PUT":
        if "x-oss-copy-source" not in request.headers:
            operation = "PutObject"
    elif request.bucket is not None and request.method == "GET":
        operation, allowed = "GetObject", _RESPONSE_OVERRIDES
    elif request.bucket is not None and request.method == "HEAD":
        operation = "GetObjectMeta" if "objectMeta" in params else "HeadObject"
        allowed = frozenset({"objectMeta"})
    elif request.bucket is not None and request.method == "DELETE":
        operation = "DeleteObject"
    if operation is None or not params <= allowed:
        raise OssError(
            501,
            "NotImplemented",
            f"The fake OSS does not implement {request.method} "
            f"{'/' + (request.key or '') if request.bucket else 'on the service'}"
            f"{' with ' + ', '.join(sorted(params - allowed)) if params - allowed else ''}.",
        )
    return operation


# -- V4 signatures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class V4Authorization:
    """An ``Authorization: OSS4-HMAC-SHA256 Credential=<id>/<scope>[,AdditionalHeaders=a;b],Signature=<hex>``
    header, split."""

    access_key_id: str
    day: str
    region: str
    product: str
    terminator: str
    additional_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.day}/{self.region}/{self.product}/{self.terminator}"

    @classmethod
    def parse(cls, value: str) -> V4Authorization:
        if value.startswith("OSS "):
            raise OssError(
                403, "AccessDenied", "The fake OSS checks V4 signatures (OSS4-HMAC-SHA256) only, not V1."
            )
        if not value.startswith(ALGORITHM + " "):
            raise malformed("the algorithm is not OSS4-HMAC-SHA256")
        fields: dict[str, str] = {}
        for part in value[len(ALGORITHM) + 1 :].split(","):
            matched = _V4_FIELD.fullmatch(part)
            if matched is None:
                raise malformed(f"unexpected {part.strip()!r}")
            fields[matched.group(1)] = matched.group(2)
        credential = fields.get("Credential", "").split("/")
        if len(credential) != 5 or not all(credential) or not fields.get("Signature"):
            raise malformed("Credential=<AccessKeyId>/<scope> and Signature=<hex> are required")
        if "AdditionalHeaders" in fields and not fields["AdditionalHeaders"]:
            raise malformed("AdditionalHeaders is empty")
        additional = tuple(fields["AdditionalHeaders"].split(";")) if "AdditionalHeaders" in fields else ()
        access_key_id, day, region, product, terminator = credential
        return cls(access_key_id, day, region, product, terminator, additional, fields["Signature"])


def malformed(why: str) -> OssError:
    return OssError(400, "InvalidArgument", f"Authorization header is invalid: {why}.")


def claimed_access_key_id(headers: Mapping[str, str]) -> str | None:
    """The AccessKeyId an ``Authorization`` header names, valid or not (for the call log)."""
    matched = _CLAIMED_KEY.search(headers.get("authorization", ""))
    return (matched.group(1) or matched.group(2)) if matched else None


def canonical_request(request: OssRequest, additional_headers: Iterable[str]) -> str:
    """The SDK's canonical request (``SignerV4._calc_canonical_request``), rebuilt from the wire."""
    additional = sorted(additional_headers)
    uri = "/" + (f"{request.bucket}/" if request.bucket is not None else "") + (request.key or "")
    pairs = sorted(
        (name, value) for name, _, value in (p.partition("=") for p in request.raw_query.split("&") if p)
    )
    query = "&".join(f"{name}={value}" if value else name for name, value in pairs)
    signed = sorted(
        (name, value)
        for name, value in request.headers.items()
        if name.startswith("x-oss-") or name in ("content-type", "content-md5") or name in additional
    )
    headers = "".join(f"{name}:{value}\n" for name, value in signed)
    payload = request.headers.get("x-oss-content-sha256", UNSIGNED_PAYLOAD)
    return "\n".join([request.method, quote(uri, safe="/"), query, headers, ";".join(additional), payload])


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


def v4_signature(secret: str, authorization: V4Authorization, to_sign: str) -> str:
    """The hex HMAC-SHA256 of ``to_sign`` with the key derived from ``secret`` and the scope."""
    key = ("aliyun_v4" + secret).encode()
    for part in (authorization.day, authorization.region, authorization.product, "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def parse_oss_date(value: str) -> float:
    try:
        return float(timegm(time.strptime(value, "%Y%m%dT%H%M%SZ")))
    except ValueError:
        raise OssError(400, "InvalidArgument", f"x-oss-date {value!r} is not yyyymmddThhmmssZ.") from None
