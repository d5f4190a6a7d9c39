"""A fake MNS (Simple Message Queue) topic endpoint on 127.0.0.1, for ``aliyun-mns-sdk``.

It speaks the one operation the function uses, ``PublishMessage``, exactly as
the SDK sends it::

    with FakeMnsServer() as mns:
        mns.create_topic("results")
        topic = Account(mns.endpoint, "testing", "testing").get_topic("results")
        topic.publish_message(TopicMessage("hi", "t"))
        mns.published["results"]            # [PublishedMessage(body="hi", tag="t", message_id=…)]

The request is ``POST /topics/<topic>/messages`` with
``<Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageBody>…</MessageBody><MessageTag>…</MessageTag></Message>``;
the answer a ``201`` with ``<Message><MessageId>…</MessageId><MessageBodyMD5>…</MessageBodyMD5></Message>``
(upper-case hex MD5 of the body's UTF-8) and an ``x-mns-request-id`` header.

Checks, in order, each answering MNS's documented XML error
(``<Error><Code/><Message/><RequestId/><HostId/></Error>``):

====================================================  ======  ============================
the server is :meth:`~FakeMnsServer.down`             —       connection closed, no answer
a :meth:`~FakeMnsServer.fail_next` fault              503     ``ServiceUnavailable`` (any)
not ``POST /topics/<name>/messages``                  400     ``InvalidRequestURL``
no ``Authorization``                                  400     ``MissingAuthorizationHeader``
``Authorization`` not ``MNS <id>:<signature>``        400     ``InvalidAuthorizationHeader``
no ``Date`` / an unparsable one                       400     ``MissingDateHeader`` / ``InvalidDateHeader``
``Date`` more than 15 min from the fake's clock       408     ``TimeExpired``
unknown AccessKeyId                                   403     ``InvalidAccessKeyId``
``content-md5`` is not the body's                     400     ``InvalidDegist`` (MNS's spelling)
signature differs                                     403     ``SignatureDoesNotMatch``
STS token missing or different                        403     ``AccessDenied``
unknown topic                                         404     ``TopicNotExist``
body not well-formed XML                              400     ``MalformedXML``
not a ``Message`` in MNS's namespace, no body,        400     ``InvalidArgument``
tag over 16 characters, body over 64 KiB
====================================================  ======  ============================

The signature is the SDK's (``mns_client.MNSClient.get_signature``): base64
HMAC-SHA1 with the AccessKey secret over ``VERB\\nContent-MD5\\nContent-Type\\nDate\\n``
+ every ``x-mns-*`` header as ``name:value\\n`` sorted by lower-case name + the
request URI. ``content-md5`` is, like the SDK sends it, the base64 of the
*hexadecimal* MD5 of the body. What MNS documents is followed; the clock window,
the STS code, the checks' order and the size limit are assumptions.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

from ebs_failover.testing._core.auth import Credential
from ebs_failover.testing._core.http import (
    FailsOnDemand,
    GoesDown,
    InjectedFault,
    InjectedFaults,
    LocalServer,
    QuietHandler,
)
from ebs_failover.testing.mns.models import (
    AUTHORIZATION,
    CLOCK_SKEW_SECONDS,
    MNS_VERSION,
    MNS_XMLNS,
    PUBLISH_PATH,
    TOPIC_NAME,
    MnsCall,
    MnsError,
    PublishedMessage,
)
from ebs_failover.testing.mns.responses import (
    content_md5,
    error_xml,
    mns_signature,
    new_request_id,
    parse_message,
)

__all__ = [
    "MNS_VERSION",
    "MNS_XMLNS",
    "FakeMnsServer",
    "MnsCall",
    "MnsError",
    "PublishedMessage",
    "content_md5",
    "mns_signature",
]


class FakeMnsServer(FailsOnDemand, GoesDown, LocalServer):
    """MNS topics served over HTTP on 127.0.0.1; a context manager.

    Accepts ``testing``/``testing`` until told otherwise
    (:meth:`register_credential`). State: :attr:`published` (per topic, in
    order) and :attr:`calls` (every request, dropped ones included).
    """

    FAIL_MESSAGE = "The service is unavailable."
    thread_name = "fake-mns"

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, clock: Callable[[], float] = time.time
    ) -> None:
        self.clock = clock
        self.topics: set[str] = set()
        self.published: dict[str, list[PublishedMessage]] = {}
        self.calls: list[MnsCall] = []
        self._credentials: dict[str, Credential] = {}
        self._faults = InjectedFaults()
        self._lock = threading.Lock()
        self.register_credential("testing", "testing")
        super().__init__(_handler_for(self), host, port)

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``, the SDK's ``Account`` host."""
        return f"http://{self.host_port}"

    # -- state and faults ----------------------------------------------------

    def create_topic(self, name: str) -> None:
        """Make ``name`` a topic (MNS's rule: a letter, then letters, digits and ``-``; at most 256)."""
        if not TOPIC_NAME.match(name):
            raise ValueError(f"invalid MNS topic name {name!r}")
        with self._lock:
            self.topics.add(name)
            self.published.setdefault(name, [])

    def _injected_errors(self) -> InjectedFaults:
        return self._faults

    def register_credential(self, access_key_id: str, secret: str, security_token: str | None = None) -> None:
        """Accept this AccessKey; with ``security_token``, only requests carrying that token."""
        with self._lock:
            self._credentials[access_key_id] = Credential(
                access_key_id, secret, security_token=security_token
            )

    # -- the API -------------------------------------------------------------

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        """Answer one request: ``(status, request id, XML body)``; records it in :attr:`calls`.

        ``headers`` must have lower-case names. Raises nothing: errors are answers.
        """
        request_id = new_request_id()
        topic: str | None = None
        access_key_id: str | None = None
        try:
            fault = self._take_fault()
            if fault is not None:
                raise MnsError(fault.status, fault.code, fault.message)
            matched = PUBLISH_PATH.match(path)
            if method != "POST" or matched is None:
                raise MnsError(400, "InvalidRequestURL", "Http request URL format invalid.")
            topic = matched.group(1)
            claimed = AUTHORIZATION.match(headers.get("authorization", ""))
            access_key_id = claimed.group(1) if claimed else None
            self._authenticate(method, path, headers, body)
            status, answer = 201, self._publish(topic, body, request_id)
            code = None
        except MnsError as error:
            status, code = error.status, error.code
            answer = error_xml(error, request_id, headers.get("host", ""))
        with self._lock:
            self.calls.append(MnsCall(method, path, topic, access_key_id, status, code, request_id))
        return status, request_id, answer

    def record_drop(self, method: str, path: str) -> None:
        """Log a request whose connection was closed unanswered."""
        matched = PUBLISH_PATH.match(path)
        with self._lock:
            self.calls.append(
                MnsCall(method, path, matched and matched.group(1), None, None, None, new_request_id())
            )

    def _take_fault(self) -> InjectedFault | None:
        return self._faults.take()

    def _authenticate(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> None:
        authorization = headers.get("authorization")
        if not authorization:
            raise MnsError(400, "MissingAuthorizationHeader", "Authorization header is required.")
        parsed = AUTHORIZATION.match(authorization)
        if parsed is None:
            raise MnsError(400, "InvalidAuthorizationHeader", "The Authorization header format is invalid.")
        access_key_id, signature = parsed.groups()
        self._check_date(headers.get("date"))
        with self._lock:
            credential = self._credentials.get(access_key_id)
        if credential is None:
            raise MnsError(403, "InvalidAccessKeyId", "The AccessKey Id you provided is not exist.")
        sent_md5 = headers.get("content-md5")
        if sent_md5 is not None and sent_md5 != content_md5(body):
            raise MnsError(400, "InvalidDegist", "The Content-MD5 you specified is invalid.")
        expected = mns_signature(credential.access_key_secret, method, headers, path)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise MnsError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
            )
        if credential.security_token is not None:
            token = headers.get("security-token", "")
            if not hmac.compare_digest(token.encode(), credential.security_token.encode()):
                raise MnsError(403, "AccessDenied", "The SecurityToken is missing or invalid.")

    def _check_date(self, value: str | None) -> None:
        if not value:
            raise MnsError(400, "MissingDateHeader", "Date header is required.")
        try:
            sent = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            raise MnsError(400, "InvalidDateHeader", "The Date header format is invalid.") from None
        if abs(self.clock() - sent) > CLOCK_SKEW_SECONDS:
            raise MnsError(408, "TimeExpired", "The http request you sent is expired.")

    def _publish(self, topic: str, body: bytes, request_id: str) -> bytes:
        with self._lock:
            known = topic in self.topics
        if not known:
            raise MnsError(404, "TopicNotExist", "The topic you provided does not exist.")
        message_body, tag = parse_message(body)
        message_id = (
            f"{uuid.uuid4().hex[:16].upper()}-1-{int(self.clock() * 1000):X}-{uuid.uuid4().hex[:9].upper()}"
        )
        with self._lock:
            self.published[topic].append(PublishedMessage(message_body, tag, message_id))
        md5 = hashlib.md5(message_body.encode()).hexdigest().upper()
        return (
            f'<?xml version="1.0" encoding="utf-8"?>\n<Message xmlns="{MNS_XMLNS}">'
            f"<MessageId>{message_id}</MessageId><MessageBodyMD5>{md5}</MessageBodyMD5></Message>"
        ).encode()


def _handler_for(server: FakeMnsServer) -> type[QuietHandler]:
    class Handler(QuietHandler):
        server_version = "fake-mns"
        protocol_version = "HTTP/1.1"  # MNS keeps connections alive, and the SDK asks it to
        timeout = 30  # an idle kept-alive connection ends here

        def do_PUT(self) -> None:
            self.dispatch(self._body())

        def do_DELETE(self) -> None:
            self.dispatch(self._body())

        def dispatch(self, body: bytes) -> None:
            if server.is_down:
                server.record_drop(self.command, self.path)
                self.drop()
                return
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, request_id, answer = server.handle(self.command, self.path, headers, body)
            self.send(
                status,
                {
                    "Content-Type": "text/xml;charset=utf-8",
                    "x-mns-request-id": request_id,
                    "x-mns-version": MNS_VERSION,
                },
                answer,
            )

    return Handler
