"""The MNS protocol as the fake speaks it: the MNS signature, Content-MD5, the message XML and the
error body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from ebs_failover.testing.mns.models import (
    MAX_BODY_BYTES,
    MAX_TAG_LENGTH,
    MNS_XMLNS,
    MnsError,
)

__all__ = ["content_md5", "error_xml", "mns_signature", "new_request_id", "parse_message", "schema_error"]


def content_md5(body: bytes) -> str:
    """The SDK's ``content-md5``: base64 of the hexadecimal MD5 digest (not of the raw digest)."""
    return base64.b64encode(hashlib.md5(body).hexdigest().encode()).decode()


def mns_signature(secret: str, method: str, headers: Mapping[str, str], resource: str) -> str:
    """The base64 HMAC-SHA1 signature of a request; ``headers`` must have lower-case names."""
    mns_headers = "".join(
        f"{name}:{headers[name]}\n" for name in sorted(headers) if name.startswith("x-mns-")
    )
    string_to_sign = (
        f"{method}\n{headers.get('content-md5', '')}\n{headers.get('content-type', '')}\n"
        f"{headers.get('date', '')}\n{mns_headers}{resource}"
    )
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def parse_message(body: bytes) -> tuple[str, str | None]:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise MnsError(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    ns = f"{{{MNS_XMLNS}}}"
    if root.tag != f"{ns}Message":
        raise schema_error("Message")
    message_body = root.findtext(f"{ns}MessageBody")
    if not message_body:
        raise schema_error("MessageBody")
    if len(message_body.encode()) > MAX_BODY_BYTES:
        raise MnsError(
            400, "InvalidArgument", f"The value of MessageBody should between 1 and {MAX_BODY_BYTES} bytes."
        )
    tag = root.findtext(f"{ns}MessageTag")
    if tag is not None and len(tag) > MAX_TAG_LENGTH:
        raise MnsError(
            400, "InvalidArgument", f"The length of MessageTag should between 1 and {MAX_TAG_LENGTH}."
        )
    return message_body, tag or None


def schema_error(element: str) -> MnsError:
    return MnsError(
        400,
        "InvalidArgument",
        f"The XML you provided did not validate against our published schema, cause by {element} Element.",
    )


def error_xml(error: MnsError, request_id: str, host: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error xmlns="{MNS_XMLNS}">'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>{escape(host)}</HostId></Error>"
    ).encode()


def new_request_id() -> str:
    return uuid.uuid4().hex[:24].upper()
