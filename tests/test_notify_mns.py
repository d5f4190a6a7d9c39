"""The MNS channel with the real ``aliyun-mns-sdk`` against FakeMnsServer, and the fake on its own."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any
from xml.etree import ElementTree

import pytest

from ebs_failover.cloud import Credentials
from ebs_failover.notify import DEFAULT_TIMEOUT, NotifyError, default_endpoint, message_body
from ebs_failover.notify.mns import publish
from ebs_failover.testing import PROXY_VARIABLES, FakeMnsServer
from ebs_failover.testing.mns.server import MNS_XMLNS, content_md5, mns_signature

TOPIC = "ebs-failover-results"
TESTING = Credentials("testing", "testing")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mns() -> Iterator[FakeMnsServer]:
    with FakeMnsServer() as server:
        server.create_topic(TOPIC)
        yield server


def _event(outcome: str | None = "failed_over") -> dict[str, Any]:
    data: dict[str, Any] = {"pairs": [{"pair_id": "pair-1", "client_token": "tok"}], "note": "héllo <&> ]]>"}
    if outcome is not None:
        data["outcome"] = outcome
    return {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "acs:fc",
        "type": f"ebs-failover.v1.{outcome}",
        "data": data,
    }


def _publish(
    mns: FakeMnsServer, channels: list[str], credentials: Credentials | None = TESTING, **options: Any
) -> list[dict[str, Any]]:
    event = options.pop("event", None) or _event()
    return publish(
        event,
        channels,
        credentials=credentials,
        region="cn-hangzhou",
        account_id="1234567890123456",
        endpoint=mns.endpoint,
        **options,
    )


# -- publish() with the real SDK ----------------------------------------------------------------


def test_publish_delivers_the_exact_json_body_and_the_outcome_as_tag(mns: FakeMnsServer) -> None:
    event = _event("failed_over")
    results = _publish(mns, [f"mns:{TOPIC}"], event=event)
    [message] = mns.published[TOPIC]
    assert results == [{"channel": f"mns:{TOPIC}", "ok": True, "message_id": message.message_id}]
    assert message.body == message_body(event)
    assert json.loads(message.body) == event
    assert message.tag == "failed_over"
    [call] = mns.calls
    assert (call.method, call.path, call.access_key_id, call.status) == (
        "POST",
        f"/topics/{TOPIC}/messages",
        "testing",
        201,
    )


def test_a_long_outcome_is_cut_to_the_16_characters_mns_allows(mns: FakeMnsServer) -> None:
    [result] = _publish(mns, [f"mns:{TOPIC}"], event=_event("already_failed_over"))
    assert result["ok"] is True
    assert mns.published[TOPIC][0].tag == "already_done"


def test_an_event_without_outcome_is_published_without_tag(mns: FakeMnsServer) -> None:
    [result] = _publish(mns, [f"mns:{TOPIC}"], event=_event(None))
    assert result["ok"] is True
    assert mns.published[TOPIC][0].tag is None


def test_every_channel_is_attempted_even_after_a_missing_topic(mns: FakeMnsServer) -> None:
    mns.create_topic("second")
    results = _publish(mns, ["mns:missing", f"mns:{TOPIC}", "mns:second"])
    assert [(r["channel"], r["ok"]) for r in results] == [
        ("mns:missing", False),
        (f"mns:{TOPIC}", True),
        ("mns:second", True),
    ]
    assert results[0]["code"] == "TopicNotExist"
    assert results[0]["request_id"] == mns.calls[0].request_id
    assert [c.topic for c in mns.calls] == ["missing", TOPIC, "second"]
    assert len(mns.published[TOPIC]) == len(mns.published["second"]) == 1


def test_a_wrong_secret_is_reported_as_signature_does_not_match(mns: FakeMnsServer) -> None:
    [result] = _publish(mns, [f"mns:{TOPIC}"], Credentials("testing", "not-the-secret"))
    assert result["ok"] is False
    assert result["code"] == "SignatureDoesNotMatch"
    assert mns.published[TOPIC] == []


def test_an_unknown_access_key_is_reported(mns: FakeMnsServer) -> None:
    [result] = _publish(mns, [f"mns:{TOPIC}"], Credentials("LTAInobody", "testing"))
    assert (result["ok"], result["code"]) == (False, "InvalidAccessKeyId")


def test_sts_credentials_need_their_token(mns: FakeMnsServer) -> None:
    mns.register_credential("STS.key", "sts-secret", security_token="the-token")
    good = _publish(mns, [f"mns:{TOPIC}"], Credentials("STS.key", "sts-secret", "the-token"))
    wrong = _publish(mns, [f"mns:{TOPIC}"], Credentials("STS.key", "sts-secret", "another-token"))
    missing = _publish(mns, [f"mns:{TOPIC}"], Credentials("STS.key", "sts-secret"))
    assert good[0]["ok"] is True
    assert (wrong[0]["ok"], wrong[0]["code"]) == (False, "AccessDenied")
    assert (missing[0]["ok"], missing[0]["code"]) == (False, "AccessDenied")
    assert len(mns.published[TOPIC]) == 1


def test_a_down_server_is_a_network_error_reported_quickly(mns: FakeMnsServer) -> None:
    mns.down()
    started = time.monotonic()
    results = _publish(mns, [f"mns:{TOPIC}", "mns:other"])
    assert time.monotonic() - started < 3
    assert [(r["ok"], r["code"]) for r in results] == [(False, "NetworkError")] * 2
    # The SDK's own single retry on a closed connection, then nothing more: two requests per channel.
    assert [(c.topic, c.status) for c in mns.calls] == [(TOPIC, None)] * 2 + [("other", None)] * 2
    mns.up()
    assert _publish(mns, [f"mns:{TOPIC}"])[0]["ok"] is True


@pytest.fixture
def black_hole() -> Iterator[str]:
    """``127.0.0.1:PORT`` that accepts connections (the kernel does) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_an_endpoint_that_never_answers_fails_within_the_timeout(black_hole: str, scheme: str) -> None:
    started = time.monotonic()
    [result] = publish(
        _event(),
        [f"mns:{TOPIC}"],
        credentials=TESTING,
        region="cn-hangzhou",
        account_id="1",
        endpoint=f"{scheme}://{black_hole}",
        timeout=0.3,
    )
    assert time.monotonic() - started < 2
    assert (result["ok"], result["code"]) == (False, "NetworkError")


def test_the_default_timeout_is_bounded() -> None:
    assert 0 < DEFAULT_TIMEOUT <= 10


def test_a_503_is_reported_and_the_next_publish_succeeds(mns: FakeMnsServer) -> None:
    mns.fail_next(1)
    first = _publish(mns, [f"mns:{TOPIC}"])
    second = _publish(mns, [f"mns:{TOPIC}"])
    assert (first[0]["ok"], first[0]["code"]) == (False, "ServiceUnavailable")
    assert mns.calls[0].status == 503
    assert second[0]["ok"] is True
    assert len(mns.published[TOPIC]) == 1


def test_missing_credentials_fail_every_channel_without_a_request(mns: FakeMnsServer) -> None:
    results = _publish(mns, [f"mns:{TOPIC}", "mns:other"], credentials=None)
    assert [(r["channel"], r["ok"], r["code"]) for r in results] == [
        (f"mns:{TOPIC}", False, "MissingCredentials"),
        ("mns:other", False, "MissingCredentials"),
    ]
    assert mns.calls == []


def test_an_unsupported_channel_does_not_stop_the_others(mns: FakeMnsServer) -> None:
    results = _publish(mns, ["dingtalk:robot", f"mns:{TOPIC}", "mns:"])
    assert [(r["ok"], r.get("code")) for r in results] == [
        (False, "UnsupportedChannel"),
        (True, None),
        (False, "UnsupportedChannel"),
    ]


def test_the_endpoint_defaults_to_the_accounts_regional_one() -> None:
    assert default_endpoint("1234", "cn-shanghai") == "https://1234.mns.cn-shanghai.aliyuncs.com"
    [result] = publish(_event(), ["mns:t"], credentials=TESTING, region="cn-shanghai", account_id="")
    assert (result["ok"], result["code"]) == (False, "InvalidEndpoint")


def test_the_secret_and_token_never_appear_in_a_result(mns: FakeMnsServer) -> None:
    secret, token = "S3cr3t-never-shown", "T0ken-never-shown"
    mns.register_credential("STS.leaky", secret, security_token=token)
    leaky = Credentials("STS.leaky", secret, token)
    outputs: list[Any] = []
    mns.fail_next(
        1, status=500, code="InternalError", message=f"echo {secret} and {token}"
    )  # a server echoing
    outputs += _publish(mns, [f"mns:{TOPIC}"], leaky)
    outputs += _publish(mns, [f"mns:{TOPIC}", "mns:missing"], leaky)
    outputs += _publish(mns, [f"mns:{TOPIC}"], Credentials("STS.leaky", secret + "x", token))
    outputs += _publish(mns, [f"mns:{TOPIC}"], Credentials("STS.leaky", secret, token + "x"))
    mns.down()
    outputs += _publish(mns, [f"mns:{TOPIC}"], leaky)
    failures = [r for r in outputs if not r["ok"]]
    assert {r["code"] for r in failures} == {
        "InternalError",
        "TopicNotExist",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "NetworkError",
    }
    assert "***" in failures[0]["error"]
    errors = [str(NotifyError(r["channel"], r["code"], r["error"])) for r in failures]
    text = json.dumps(outputs) + "".join(errors) + repr(leaky)
    assert secret not in text
    assert token not in text


def test_notify_error_carries_channel_code_and_message() -> None:
    error = NotifyError("mns:topic-a", "TopicNotExist", "The topic you provided does not exist.")
    assert (error.channel, error.code, error.message) == (
        "mns:topic-a",
        "TopicNotExist",
        "The topic you provided does not exist.",
    )
    assert str(error) == "mns:topic-a: TopicNotExist: The topic you provided does not exist."


def test_importing_the_channel_does_not_import_the_sdk() -> None:
    code = "import sys, ebs_failover.notify; assert 'mns' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the fake on its own, with raw requests -----------------------------------------------------


def _xml(body: str, tag: str | None = None) -> bytes:
    tag_xml = f"<MessageTag>{tag}</MessageTag>" if tag is not None else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><Message xmlns="{MNS_XMLNS}">'
        f"<MessageBody>{body}</MessageBody>{tag_xml}</Message>"
    ).encode()


def _signed(
    body: bytes, path: str = f"/topics/{TOPIC}/messages", secret: str = "testing", date: str | None = None
) -> dict[str, str]:
    headers = {
        "content-md5": content_md5(body),
        "content-type": "text/xml;charset=UTF-8",
        "x-mns-version": "2015-06-06",
        "date": date or formatdate(usegmt=True),
    }
    headers["authorization"] = f"MNS testing:{mns_signature(secret, 'POST', headers, path)}"
    return headers


def _send(
    mns: FakeMnsServer, body: bytes, headers: dict[str, str], path: str = f"/topics/{TOPIC}/messages"
) -> tuple[int, dict[str, str], ElementTree.Element]:
    connection = http.client.HTTPConnection("127.0.0.1", mns.port, timeout=5)
    try:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), ElementTree.fromstring(response.read())
    finally:
        connection.close()


def _code(answer: ElementTree.Element) -> str | None:
    return answer.findtext(f"{{{MNS_XMLNS}}}Code")


def test_the_signature_is_the_sdks() -> None:
    from mns.auth import Credentials as SdkCredentials
    from mns.mns_client import MNSClient

    headers = {
        "content-md5": "abc",
        "content-type": "text/xml;charset=UTF-8",
        "date": "Tue, 08 Dec 2015 06:13:40 GMT",
        "x-mns-version": "2015-06-06",
        "x-mns-user-request-id": "r-1",
        "host": "h",
    }
    client = MNSClient("http://h")
    sdk = client.get_signature("POST", headers, "/topics/t/messages", SdkCredentials("id", "secret"))
    assert sdk == f"MNS id:{mns_signature('secret', 'POST', headers, '/topics/t/messages')}"


def test_a_signed_raw_request_is_published_with_mns_answer(mns: FakeMnsServer) -> None:
    body = _xml("hello &amp; bye", "tag-1")
    status, headers, answer = _send(mns, body, _signed(body))
    assert status == 201
    assert headers["x-mns-request-id"] == mns.calls[-1].request_id
    assert answer.tag == f"{{{MNS_XMLNS}}}Message"
    [message] = mns.published[TOPIC]
    assert (message.body, message.tag) == ("hello & bye", "tag-1")
    assert answer.findtext(f"{{{MNS_XMLNS}}}MessageId") == message.message_id
    assert (
        answer.findtext(f"{{{MNS_XMLNS}}}MessageBodyMD5") == hashlib.md5(b"hello & bye").hexdigest().upper()
    )


def test_a_tampered_body_under_the_original_content_md5_is_invalid_digest(mns: FakeMnsServer) -> None:
    body = _xml("original")
    headers = _signed(body)
    status, _, answer = _send(mns, _xml("tampered"), headers)
    assert (status, _code(answer)) == (400, "InvalidDegist")
    assert mns.published[TOPIC] == []


def test_a_tampered_body_with_a_fresh_content_md5_breaks_the_signature(mns: FakeMnsServer) -> None:
    body = _xml("original")
    headers = _signed(body)
    tampered = _xml("tampered")
    headers["content-md5"] = content_md5(tampered)
    status, _, answer = _send(mns, tampered, headers)
    assert (status, _code(answer)) == (403, "SignatureDoesNotMatch")
    assert mns.published[TOPIC] == []


def test_a_tampered_x_mns_header_breaks_the_signature(mns: FakeMnsServer) -> None:
    body = _xml("original")
    headers = _signed(body)
    headers["x-mns-version"] = "2099-01-01"
    status, _, answer = _send(mns, body, headers)
    assert (status, _code(answer)) == (403, "SignatureDoesNotMatch")


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"authorization": None}, 400, "MissingAuthorizationHeader"),
        ({"authorization": "Bearer nope"}, 400, "InvalidAuthorizationHeader"),
        ({"date": None}, 400, "MissingDateHeader"),
        ({"date": "yesterday"}, 400, "InvalidDateHeader"),
        ({"date": "Tue, 08 Dec 2015 06:13:40 GMT"}, 408, "TimeExpired"),
    ],
)
def test_malformed_authentication_is_refused(
    mns: FakeMnsServer, change: dict[str, str | None], status: int, code: str
) -> None:
    body = _xml("hello")
    headers = _signed(body)
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    answered, _, answer = _send(mns, body, headers)
    assert (answered, _code(answer)) == (status, code)
    assert mns.published[TOPIC] == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<Message><MessageBody>unclosed", "MalformedXML"),
        (b'<Message xmlns="urn:other"><MessageBody>x</MessageBody></Message>', "InvalidArgument"),
        (f'<Message xmlns="{MNS_XMLNS}"><MessageTag>t</MessageTag></Message>'.encode(), "InvalidArgument"),
        (_xml("x", "a-tag-longer-than-16"), "InvalidArgument"),
    ],
)
def test_a_bad_message_document_is_refused(mns: FakeMnsServer, body: bytes, code: str) -> None:
    status, _, answer = _send(mns, body, _signed(body))
    assert (status, _code(answer)) == (400, code)
    assert mns.published[TOPIC] == []


def test_only_publish_message_is_spoken(mns: FakeMnsServer) -> None:
    path = f"/topics/{TOPIC}"
    body = _xml("x")
    status, _, answer = _send(mns, body, _signed(body, path=path), path=path)
    assert (status, _code(answer)) == (400, "InvalidRequestURL")


def test_error_answers_decode_with_the_sdks_decoder(mns: FakeMnsServer) -> None:
    from mns.mns_xml_handler import ErrorDecoder

    connection = http.client.HTTPConnection("127.0.0.1", mns.port, timeout=5)
    body = _xml("x")
    connection.request("POST", "/topics/nope/messages", body, _signed(body, path="/topics/nope/messages"))
    response = connection.getresponse()
    code, message, request_id, host_id, _ = ErrorDecoder.decodeError(response.read().decode())
    connection.close()
    assert (response.status, code) == (404, "TopicNotExist")
    assert request_id == response.getheader("x-mns-request-id")
    assert host_id == f"127.0.0.1:{mns.port}"
    assert message == "The topic you provided does not exist."


def test_topic_names_follow_mns_rules(mns: FakeMnsServer) -> None:
    with pytest.raises(ValueError, match="invalid MNS topic name"):
        mns.create_topic("9-starts-with-a-digit")
    with pytest.raises(ValueError, match="n must be"):
        mns.fail_next(0)
