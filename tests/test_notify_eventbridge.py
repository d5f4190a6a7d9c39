"""The EventBridge channel with the real ``alibabacloud-eventbridge20200401`` against FakeEventBridgeServer,
and the fake on its own."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from ebs_failover import notify
from ebs_failover.cloud import Credentials
from ebs_failover.notify.channels import Channel, Where
from ebs_failover.notify.eventbridge import deliver, entry
from ebs_failover.testing import PROXY_VARIABLES, FakeEventBridgeServer

BUS = "ops-bus"
CHANNEL = Channel("eventbridge", BUS)
TESTING = Credentials("testing", "testing")
SECRET = "eb-secret-9f8e7d6c5b4a"
TOKEN = "CAIS-eb-sts-token-0123456789abcdef"
STS = Credentials("STS.eb-key", SECRET, TOKEN)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def bridge() -> Iterator[FakeEventBridgeServer]:
    with FakeEventBridgeServer() as server:
        server.create_bus(BUS)
        server.register_credential(STS.access_key_id, SECRET, TOKEN)
        yield server
        server.release.set()


def _event(outcome: str = "failed_over") -> dict[str, Any]:
    """A result CloudEvent as results.build makes it, with text that JSON and forms must carry intact."""
    return {
        "specversion": "1.0",
        "id": "5f0c3c1e-8d4e-4a53-9a57-7d0b7c1f2a10",
        "source": "acs:fc:cn-hangzhou:1234567890123456:functions/ebs-failover",
        "type": f"ebs-failover.v1.{outcome}",
        "time": "2026-12-01T12:00:00.000Z",
        "datacontenttype": "application/json",
        "data": {
            "outcome": outcome,
            "targets": [{"pair_id": "pair-cn-1", "status": "failovered"}],
            "note": "héllo & = + % <&> ]]> 中文",
            "dry_run": False,
            "duration_ms": 812.5,
        },
        "subject": "pair-cn-1",
    }


def _where(
    bridge: FakeEventBridgeServer, credentials: Credentials | None = TESTING, timeout: float = 2.0
) -> Where:
    return Where(
        credentials, "cn-hangzhou", "1234567890123456", eventbridge_endpoint=bridge.url, timeout=timeout
    )


# -- deliver() with the real SDK ----------------------------------------------------------------


def test_delivery_puts_the_cloudevent_unchanged_and_the_fake_verifies_it(
    bridge: FakeEventBridgeServer,
) -> None:
    event = _event()
    result = deliver(event, CHANNEL, _where(bridge))
    [received] = bridge.events[BUS]
    [call] = bridge.calls
    assert result == {
        "channel": f"eventbridge:{BUS}",
        "ok": True,
        "event_id": event["id"],
        "request_id": call.request_id,
    }
    assert received.cloudevent() == event
    assert (call.action, call.bus, call.access_key_id, call.status) == ("PutEvents", BUS, "testing", 200)


def test_sts_credentials_send_their_token(bridge: FakeEventBridgeServer) -> None:
    assert deliver(_event(), CHANNEL, _where(bridge, STS))["ok"] is True
    wrong = Credentials(STS.access_key_id, SECRET, "CAIS-another-token")
    result = deliver(_event(), CHANNEL, _where(bridge, wrong))
    assert (result["ok"], result["code"]) == (False, "InvalidSecurityToken.MismatchWithAccessKey")


def test_a_wrong_secret_is_signature_does_not_match(bridge: FakeEventBridgeServer) -> None:
    result = deliver(_event(), CHANNEL, _where(bridge, Credentials("testing", "not-the-secret")))
    assert result["ok"] is False
    assert result["code"] == "SignatureDoesNotMatch"
    assert result["request_id"] == bridge.calls[-1].request_id
    assert bridge.calls[-1].status == 403
    assert bridge.events[BUS] == []


def test_a_missing_bus_is_event_bus_not_exist(bridge: FakeEventBridgeServer) -> None:
    result = deliver(_event(), Channel("eventbridge", "no-such-bus"), _where(bridge))
    assert (result["ok"], result["code"]) == (False, "EventBusNotExist")
    assert "no-such-bus" in result["error"]
    assert result["channel"] == "eventbridge:no-such-bus"


@pytest.mark.parametrize(
    ("status", "code"), [(503, "ServiceUnavailable"), (500, "InternalError"), (429, "TooManyRequests")]
)
def test_a_service_error_is_its_code(bridge: FakeEventBridgeServer, status: int, code: str) -> None:
    bridge.fail_next(status=status, code=code, message="try later")
    result = deliver(_event(), CHANNEL, _where(bridge))
    assert result == {
        "channel": f"eventbridge:{BUS}",
        "ok": False,
        "code": code,
        "error": "try later",
        "request_id": bridge.calls[-1].request_id,
    }
    assert len(bridge.calls) == 1  # the SDK's retries stay off


def test_a_refused_entry_is_failed_entry_with_its_code(bridge: FakeEventBridgeServer) -> None:
    bridge.fail_entries("EventBusNotAvailable", "bus disabled")
    result = deliver(_event(), CHANNEL, _where(bridge))
    assert (result["ok"], result["code"], result["entry_code"]) == (
        False,
        "FailedEntry",
        "EventBusNotAvailable",
    )
    assert "bus disabled" in result["error"]
    assert bridge.events[BUS] == []


def test_no_answer_within_the_timeout_is_timeout(bridge: FakeEventBridgeServer) -> None:
    bridge.stall()
    result = deliver(_event(), CHANNEL, _where(bridge, timeout=0.3))
    assert (result["ok"], result["code"]) == (False, "Timeout")


def test_a_dropped_connection_is_network_error(bridge: FakeEventBridgeServer) -> None:
    bridge.down()
    result = deliver(_event(), CHANNEL, _where(bridge))
    assert (result["ok"], result["code"]) == (False, "NetworkError")
    assert bridge.calls[-1].status is None


def test_a_refused_connection_is_network_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    where = Where(TESTING, "cn-hangzhou", "1", eventbridge_endpoint=f"http://127.0.0.1:{port}", timeout=1.0)
    result = deliver(_event(), CHANNEL, where)
    assert (result["ok"], result["code"]) == (False, "NetworkError")


def test_no_credentials_is_missing_credentials(bridge: FakeEventBridgeServer) -> None:
    result = deliver(_event(), CHANNEL, _where(bridge, None))
    assert (result["ok"], result["code"]) == (False, "MissingCredentials")
    assert bridge.calls == []


def test_no_secret_or_token_in_any_entry(bridge: FakeEventBridgeServer) -> None:
    entries = [deliver(_event(), CHANNEL, _where(bridge, STS))]
    bridge.fail_next(status=400, code="InvalidParameter", message=f"echo {SECRET} and {TOKEN}")
    entries.append(deliver(_event(), CHANNEL, _where(bridge, STS)))
    bridge.fail_entries("Refused", f"entry echoes {SECRET}")
    entries.append(deliver(_event(), CHANNEL, _where(bridge, STS)))
    entries.append(
        deliver(_event(), CHANNEL, _where(bridge, Credentials(STS.access_key_id, "x" + SECRET, TOKEN)))
    )
    entries.append(deliver(_event(), Channel("eventbridge", "gone"), _where(bridge, STS)))
    bridge.down()
    entries.append(deliver(_event(), CHANNEL, _where(bridge, STS)))
    assert [e["ok"] for e in entries] == [True, False, False, False, False, False]
    text = json.dumps(entries)
    assert SECRET not in text
    assert TOKEN not in text


def test_publish_hands_an_eventbridge_channel_to_this_module(bridge: FakeEventBridgeServer) -> None:
    channels = (CHANNEL, Channel("eventbridge", "gone", frozenset({"failed_over"})))
    results = notify.publish(_event(), channels, _where(bridge))
    assert [(r["channel"], r["ok"], r.get("code")) for r in results] == [
        (f"eventbridge:{BUS}", True, None),
        ("eventbridge:gone", False, "EventBusNotExist"),
    ]
    assert len(bridge.events[BUS]) == 1


def test_entry_leaves_out_absent_attributes() -> None:
    event = {"id": "1", "source": "s", "type": "t", "data": {"a": 1}, "subject": None}
    assert entry(event) == {"Id": "1", "Source": "s", "Type": "t", "Data": {"a": 1}}


def test_the_sdk_is_not_imported_until_an_event_is_delivered() -> None:
    probe = (
        "import sys, ebs_failover.handler, ebs_failover.notify, ebs_failover.notify.eventbridge\n"
        "loaded = [m for m in sys.modules if m.startswith('alibabacloud_eventbridge')]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)


# -- the fake on its own -------------------------------------------------------------------------


def _raw(
    bridge: FakeEventBridgeServer, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", bridge.port, timeout=5)
    try:
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_the_fake_refuses_an_unsigned_request(bridge: FakeEventBridgeServer) -> None:
    status, body = _raw(
        bridge, {"x-acs-action": "PutEvents", "x-acs-version": "2020-04-01"}, b"EventBusName=x"
    )
    assert (status, body["Code"]) == (400, "IncompleteSignature")
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}


def test_the_fake_refuses_another_version_or_action(bridge: FakeEventBridgeServer) -> None:
    assert (
        _raw(bridge, {"x-acs-action": "PutEvents", "x-acs-version": "2015-06-06"})[1]["Code"]
        == "InvalidVersion"
    )
    status, body = _raw(bridge, {"x-acs-action": "CreateEventBus", "x-acs-version": "2020-04-01"})
    assert (status, body["Code"]) == (404, "InvalidAction.NotFound")


def test_the_fake_refuses_an_unknown_access_key(bridge: FakeEventBridgeServer) -> None:
    result = deliver(_event(), CHANNEL, _where(bridge, Credentials("nobody", "x")))
    assert result["code"] == "InvalidAccessKeyId.NotFound"


def test_the_fake_rejects_bad_bus_names() -> None:
    with FakeEventBridgeServer() as server, pytest.raises(ValueError, match="invalid event bus name"):
        server.create_bus("a/b")
