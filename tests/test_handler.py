"""The handler end to end: the real SDK against the fake EBS, through ``responses``."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ebs_failover import config
from ebs_failover.handler import handler, invoke
from ebs_failover.testing import FakeEbs, FcContext, FcCredentials, FcFunction, MockEbs
from ebs_failover.token import client_token

from .conftest import live_settings, run_fresh_python, seed_pair

STANDBY = "cn-shanghai"
PAIR = "pair-cn-demo0db01"
APP_PAIR = "pair-cn-demo0app01"
TARGETS = {"d-bp1demo0primary01": PAIR, "i-bp1demo0app01": [APP_PAIR]}
SECRET = "Sup3rS3cretValue-9f8e7d"
STS = "STS-token-value-1a2b3c4d5e"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEbs]:
    live_settings(monkeypatch, TARGETS)
    fake = FakeEbs(seed=3)
    fake.register_credential("STS.fc-role", SECRET, security_token=STS)
    fake.load_seed(
        {"pairs": [seed_pair(PAIR, "d-bp1demo0primary01"), seed_pair(APP_PAIR, "d-bp1demo0app0data1")]}
    )
    with MockEbs(fake):
        yield fake


def _context(timeout: int = 20, request_id: str = "req-1") -> FcContext:
    return FcContext(
        request_id=request_id,
        function=FcFunction(timeout=timeout),
        credentials=FcCredentials("STS.fc-role", SECRET, STS),
        region=STANDBY,
    )


def manual(pair: str = PAIR, key: str | None = "ticket-42") -> bytes:
    body: dict[str, Any] = {"action": "failover", "replicaPairId": pair, "reason": "primary region down"}
    if key:
        body["idempotencyKey"] = key
    return json.dumps(body).encode()


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_manual_live_failover(fake: FakeEbs, logs: io.StringIO) -> None:
    result = handler(manual(), _context())
    data = result["data"]
    assert (result["specversion"], result["type"], result["subject"]) == (
        "1.0",
        "ebs-failover.v1.failed_over",
        PAIR,
    )
    assert data["outcome"] == "failed_over"
    target = data["targets"][0]
    assert target["client_token"] == client_token("manual:ticket-42", PAIR)
    assert target["status_before"] == "normal"
    # Watched until it settled: the pair was seen failovered, and how long it took is measured.
    assert (target["status_after"], target["verified"]) == ("failovered", True)
    assert 0 <= target["failover_seconds"] < 5
    assert target["request_id"] == fake.calls_for("FailoverDiskReplicaPair")[0].request_id
    assert target["data_loss_seconds"] > 0
    assert target["rpo_seconds"] == 900
    assert fake.pair(PAIR).status == "failovered"
    assert fake.calls_for("FailoverDiskReplicaPair")[0].client_token == target["client_token"]
    lines = _lines(logs)
    canonical = [line for line in lines if line["message"] == "result"]
    assert len(canonical) == 1
    assert canonical[0]["outcome"] == "failed_over"
    assert canonical[0]["function_request_id"] == "req-1"
    assert canonical[0]["correlation_id"] == "manual:ticket-42"
    assert "replica_pair_id" not in canonical[0]  # the targets are in the result, every one of them
    assert [t["pair_id"] for t in canonical[0]["result"]["data"]["targets"]] == [PAIR]


def test_redelivery_fails_over_once(fake: FakeEbs) -> None:
    first = handler(manual(), _context(request_id="a"))
    second = handler(manual(), _context(request_id="b"))
    assert first["data"]["outcome"] == "failed_over"
    assert second["data"]["outcome"] == "already_failed_over"
    assert len(fake.state_changes()) == 1


def test_dry_run_is_the_default_and_only_reads(fake: FakeEbs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAILOVER_MODE")
    result = handler(manual(), _context())
    assert result["data"]["outcome"] == "dry_run"
    assert result["data"]["dry_run"] is True
    target = result["data"]["targets"][0]
    assert target["client_token"] == client_token("manual:ticket-42", PAIR)
    assert (target["status_before"], target["data_loss_seconds"] > 0) == ("normal", True)
    assert [call.action for call in fake.calls] == ["DescribeDiskReplicaPairs"]
    assert fake.state_changes() == []


def test_an_unconfigured_pair_is_refused_without_a_call(fake: FakeEbs) -> None:
    result = handler(manual("pair-cn-notconfigured1"), _context())
    assert result["data"]["outcome"] == "refused"
    assert "FAILOVER_TARGETS" in result["data"]["reason"]
    assert fake.calls == []


@pytest.mark.parametrize("event", [b"", b"\xff\xfe", b"[]", b'{"action": "failover"}', b"x" * 300_000])
def test_bad_input_is_rejected_without_a_call(fake: FakeEbs, logs: io.StringIO, event: bytes) -> None:
    result = handler(event, _context())
    assert result["data"]["outcome"] == "rejected"
    assert result["data"]["error"]["code"] == "InvalidEvent"
    assert fake.calls == []
    assert [line["message"] for line in _lines(logs)] == ["result"]


def test_a_bad_setting_fails_every_invocation_clearly(fake: FakeEbs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAILOVER_MODE", "yolo")
    result = handler(manual(), _context())
    assert result["data"]["outcome"] == "failed"
    assert "FAILOVER_MODE" in result["data"]["reason"]
    assert fake.calls == []


@pytest.mark.parametrize(("value", "variable"), [
    ("not json", "FAILOVER_TARGETS"),
    ('{"d-x": "not-a-pair"}', "FAILOVER_TARGETS"),
    ('{"d-x": []}', "FAILOVER_TARGETS"),
])  # fmt: skip
def test_config_errors_name_the_variable(value: str, variable: str) -> None:
    with pytest.raises(config.ConfigError, match=variable):
        config.load({"FAILOVER_TARGETS": value})


def test_already_failed_over_pair_is_not_failed_over_again(fake: FakeEbs) -> None:
    fake.backend().failover_pair(region=STANDBY, pair_id=PAIR)
    result = handler(manual(), _context())
    assert result["data"]["outcome"] == "already_failed_over"
    assert fake.calls_for("FailoverDiskReplicaPair") == []


def test_a_deleted_pair_is_refused(fake: FakeEbs) -> None:
    fake.load_seed({"pairs": [seed_pair("pair-cn-gone1", "d-gone1", "deleted")]})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FAILOVER_TARGETS", json.dumps({"d-gone1": "pair-cn-gone1"}))
        result = handler(manual("pair-cn-gone1"), _context())
    assert result["data"]["outcome"] == "refused"
    assert fake.calls_for("FailoverDiskReplicaPair") == []


def test_transient_errors_are_retried_with_one_token(fake: FakeEbs) -> None:
    fake.faults.error("FailoverDiskReplicaPair", 503, "ServiceUnavailable", times=2)
    result = handler(manual(), _context())
    assert result["data"]["outcome"] == "failed_over"
    failovers = fake.calls_for("FailoverDiskReplicaPair")
    assert [c.status for c in failovers] == [503, 503, 200]
    assert len({c.client_token for c in failovers}) == 1
    assert len(fake.state_changes()) == 1


def test_forbidden_is_not_retried_and_explained(fake: FakeEbs) -> None:
    fake.faults.error("FailoverDiskReplicaPair", 403, "Forbidden.Action", times=5)
    result = handler(manual(), _context())
    target = result["data"]["targets"][0]
    assert (result["data"]["outcome"], target["error_code"]) == ("failed", "Forbidden.Action")
    assert "ebs:FailoverDiskReplicaPair" in target["hint"]
    assert len(fake.calls_for("FailoverDiskReplicaPair")) == 1


def test_a_transient_failure_outliving_the_budget_raises_for_fc_to_retry(
    fake: FakeEbs, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAILOVER_TIME_MARGIN", "0")
    fake.faults.error("FailoverDiskReplicaPair", 500, "InternalError", times=1000)
    from ebs_failover.errors import TransientFailure

    with pytest.raises(TransientFailure):
        handler(manual(), _context(timeout=2))
    assert [line["message"] for line in _lines(logs)].count("result") == 1
    assert len(fake.calls_for("FailoverDiskReplicaPair")) >= 2
    fake.faults.clear()
    retried = handler(manual(), _context())  # FC's retry: same event, same token
    assert retried["data"]["outcome"] == "failed_over"
    assert len(fake.state_changes()) == 1


def test_wrong_region_is_explained(fake: FakeEbs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAILOVER_REGION", "cn-hangzhou")
    result = handler(manual(), _context())
    target = result["data"]["targets"][0]
    assert target["error_code"] == "OperationDenied.OperateNotAllowedForPrimary"
    assert "FAILOVER_REGION" in target["hint"]
    assert fake.calls_for("FailoverDiskReplicaPair") == []


def test_concurrent_deliveries_change_state_once(fake: FakeEbs) -> None:
    outcomes: list[str] = []

    def deliver(n: int) -> None:
        outcomes.append(handler(manual(key="same-alarm"), _context(request_id=f"r{n}"))["data"]["outcome"])

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fake.state_changes()) == 1
    assert set(outcomes) <= {"failed_over", "already_failed_over"}
    assert outcomes.count("failed_over") >= 1


def test_no_secret_reaches_a_log_or_the_result(
    fake: FakeEbs, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_EVENT", "true")
    monkeypatch.setenv("CALLBACK_TOKEN", "callback-secret-77x")
    event = json.dumps(
        {"action": "failover", "replicaPairId": PAIR, "reason": f"key {SECRET} token callback-secret-77x"}
    ).encode()
    result = handler(event, _context())
    text = logs.getvalue() + json.dumps(result)
    for secret in (SECRET, STS, "callback-secret-77x"):
        assert secret not in text
    assert "***" in text


def test_credentials_spelled_in_camel_case_are_masked_too(fake: FakeEbs, logs: io.StringIO) -> None:
    """A context whose credentials are a camelCase dict: used for the calls, so masked like the rest."""
    camel = {"accessKeyId": "STS.fc-role", "accessKeySecret": SECRET, "securityToken": STS}
    context = FcContext(request_id="req-camel", credentials=camel, region=STANDBY)  # type: ignore[arg-type]
    event = json.dumps({"action": "failover", "replicaPairId": PAIR, "reason": f"{SECRET} and {STS}"})
    result = handler(event.encode(), context)
    assert result["data"]["outcome"] == "failed_over"  # the credentials worked
    text = logs.getvalue() + json.dumps(result)
    assert SECRET not in text
    assert STS not in text


def test_incomplete_context_credentials_are_masked_though_unused(
    fake: FakeEbs, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A context holding a secret but no key id: the environment's credentials are used, both masked."""
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "STS.fc-role")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", STS)
    lone = "lone-context-secret-5e6f"
    partial: Any = {"access_key_secret": lone}
    context = FcContext(request_id="req-partial", credentials=partial, region=STANDBY)
    event = json.dumps({"action": "failover", "replicaPairId": PAIR, "reason": f"{lone} / {SECRET}"})
    result = handler(event.encode(), context)
    assert result["data"]["outcome"] == "failed_over"  # the environment's credentials worked
    text = logs.getvalue() + json.dumps(result)
    assert lone not in text
    assert SECRET not in text


def test_context_does_not_leak_between_invocations(fake: FakeEbs, logs: io.StringIO) -> None:
    handler(manual(), _context(request_id="first"))
    handler(b"not json", _context(request_id="second"))
    second = [line for line in _lines(logs) if line["function_request_id"] == "second"]
    assert second
    assert all("replica_pair_id" not in line and "correlation_id" not in line for line in second)
    assert [line["cold_start"] for line in _lines(logs)][-1] is False


# -- alarms, tokens and the notification channel ------------------------------------------

CALLBACK = (
    "alertName=disk+hang&alertState=ALERT&triggerLevel=CRITICAL&metricName=DiskIOHang"
    "&namespace=acs_ebs_dashboard&ruleId=rule-1&timestamp=1726121100000"
    "&dimensions={userId=1,+diskId=d-bp1demo0primary01}&transId={trans}"
)


def callback(trans: str = "trans-1") -> bytes:
    return CALLBACK.replace("{trans}", trans).encode()


def test_a_different_alarm_uses_a_different_token(fake: FakeEbs) -> None:
    first = handler(callback("trans-1"), _context())
    second = handler(callback("trans-2"), _context())
    tokens = [r["data"]["targets"][0]["client_token"] for r in (first, second)]
    assert tokens[0] != tokens[1]
    assert [first["data"]["outcome"], second["data"]["outcome"]] == ["failed_over", "already_failed_over"]
    assert len(fake.state_changes()) == 1


def test_the_callback_token_is_the_same_on_redelivery(fake: FakeEbs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAILOVER_MODE", "dry-run")
    plans = [handler(callback(), _context(request_id=f"r{n}"))["data"]["targets"][0] for n in range(2)]
    assert plans[0]["client_token"] == plans[1]["client_token"]


def test_a_warn_alarm_is_ignored_by_default(fake: FakeEbs) -> None:
    result = handler(callback().replace(b"CRITICAL", b"WARN"), _context())
    assert result["data"]["outcome"] == "ignored"
    assert "FAILOVER_MIN_LEVEL" in result["data"]["reason"]
    assert fake.calls == []


@pytest.fixture
def mns(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from ebs_failover.testing import FakeMnsServer

    with FakeMnsServer() as server:
        server.register_credential("STS.fc-role", SECRET, security_token=STS)
        server.create_topic("failover-results")
        monkeypatch.setenv("NOTIFY_TARGETS", "mns:failover-results")
        monkeypatch.setenv("MNS_ENDPOINT", server.endpoint)
        yield server


def test_the_result_is_published_to_mns(fake: FakeEbs, mns: Any, logs: io.StringIO) -> None:
    result = handler(manual(), _context())
    published = mns.published["failover-results"]
    assert len(published) == 1
    assert json.loads(published[0].body) == result
    assert published[0].tag == "failed_over"
    line = next(line for line in _lines(logs) if line["message"] == "result")
    assert line["notifications"][0]["ok"] is True


def test_mns_down_still_fails_over_once_then_the_retry_publishes(
    fake: FakeEbs, mns: Any, logs: io.StringIO
) -> None:
    from ebs_failover.notify import NotifyError

    mns.down()
    with pytest.raises(NotifyError):
        handler(manual(), _context())
    assert fake.pair(PAIR).status == "failovered"
    line = next(line for line in _lines(logs) if line["message"] == "result")
    assert line["outcome"] == "failed_over"
    assert line["notifications"][0]["ok"] is False
    mns.up()
    retried = handler(manual(), _context())  # FC's async retry of the same event
    assert retried["data"]["outcome"] == "already_failed_over"
    assert [json.loads(m.body)["data"]["outcome"] for m in mns.published["failover-results"]] == [
        "already_failed_over"
    ]
    assert len(fake.state_changes()) == 1


def test_a_channel_failure_does_not_change_an_outcome_without_a_state_change(fake: FakeEbs, mns: Any) -> None:
    mns.down()
    result = handler(b"not json", _context())
    assert result["data"]["outcome"] == "rejected"


# -- the HTTP trigger's gate -------------------------------------------------------------

ENVELOPE = Path(__file__).resolve().parent.parent / "events" / "http-envelope-callback-plain.json"


def _envelope(token: str | None, source_ip: str = "47.74.206.5") -> bytes:
    envelope = json.loads(ENVELOPE.read_text())
    envelope["queryParameters"] = {} if token is None else {"token": token}
    envelope["requestContext"]["http"]["sourceIp"] = source_ip
    return json.dumps(envelope).encode()


@pytest.mark.parametrize("token", [None, "", "wrong-token-value", "callback-secret-7"])
def test_a_callback_without_the_right_token_is_rejected(
    fake: FakeEbs, monkeypatch: pytest.MonkeyPatch, token: str | None
) -> None:
    monkeypatch.setenv("CALLBACK_TOKEN", "callback-secret-77x")
    invoked = invoke(_envelope(token), _context())
    assert (invoked.result["data"]["outcome"], invoked.result["data"]["error"]["code"]) == (
        "rejected",
        "Unauthorized",
    )
    # The caller learns nothing: no account, no function, no reason.
    assert invoked.answer == {
        "statusCode": 401,
        "headers": {"Content-Type": "application/json"},
        "body": '{"error": "unauthorized"}',
    }
    assert fake.calls == []


def test_a_callback_with_the_token_acts_and_gets_a_short_answer(
    fake: FakeEbs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLBACK_TOKEN", "callback-secret-77x")
    invoked = invoke(_envelope("callback-secret-77x"), _context())
    assert invoked.result["data"]["outcome"] == "failed_over"
    assert "callback-secret-77x" not in json.dumps(invoked.result)
    assert invoked.answer["statusCode"] == 200
    assert json.loads(invoked.answer["body"]) == {"outcome": "failed_over", "id": invoked.result["id"]}
    again = handler(_envelope("callback-secret-77x"), _context())  # FC's own answer: the HTTP one
    assert json.loads(again["body"])["outcome"] == "already_failed_over"


def test_an_http_request_that_is_not_a_callback_gets_400_naming_the_field(
    fake: FakeEbs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Authenticated, but its body is no event (an unauthenticated one gets 401 whatever its body)."""
    monkeypatch.setenv("CALLBACK_TOKEN", "callback-secret-77x")
    envelope = json.loads(ENVELOPE.read_text())
    envelope["queryParameters"] = {"token": "callback-secret-77x"}
    envelope["isBase64Encoded"] = True
    envelope["body"] = "not base64!"
    answer = handler(json.dumps(envelope).encode(), _context())
    assert answer["statusCode"] == 400
    body = json.loads(answer["body"])
    assert body["error"] == "rejected"
    assert "body" in body["reason"]
    assert "acs:fc" not in answer["body"]


def test_no_callback_token_configured_refuses_every_http_request(fake: FakeEbs) -> None:
    invoked = invoke(_envelope("anything"), _context())
    assert invoked.result["data"]["outcome"] == "rejected"
    assert "CALLBACK_TOKEN" in invoked.result["data"]["reason"]
    assert invoked.answer["statusCode"] == 401


@pytest.mark.parametrize(
    ("source_ip", "outcome", "status"),
    [("47.74.206.5", "failed_over", 200), ("203.0.113.9", "rejected", 403)],
)
def test_the_optional_address_check(
    fake: FakeEbs, monkeypatch: pytest.MonkeyPatch, source_ip: str, outcome: str, status: int
) -> None:
    monkeypatch.setenv("CALLBACK_TOKEN", "callback-secret-77x")
    monkeypatch.setenv("CALLBACK_ALLOWED_IPS", "cloudmonitor-intl")
    invoked = invoke(_envelope("callback-secret-77x", source_ip), _context())
    assert invoked.result["data"]["outcome"] == outcome
    assert invoked.answer["statusCode"] == status


def test_a_bad_address_list_is_a_config_error() -> None:
    with pytest.raises(config.ConfigError, match="CALLBACK_ALLOWED_IPS"):
        config.load({"CALLBACK_ALLOWED_IPS": "not-a-network"})


def test_a_cold_start_loads_only_the_rooms_its_path_needs() -> None:
    """Importing the handler loads no action and no HTTP gate; a rejected event loads neither; a failover
    (on the embedded fake) loads the failover but never the drill."""
    code = (
        "import os, sys\n"
        "from ebs_failover.handler import handler\n"
        "from ebs_failover.testing import FakeEbs, FcContext, MockEbs\n"
        "def loaded():\n"
        "    rooms = ('ebs_failover.act.failover', 'ebs_failover.act.drill', 'ebs_failover.web.gate')\n"
        "    return sorted(m for m in rooms if m in sys.modules)\n"
        "assert loaded() == [], loaded()\n"
        "assert handler(b'{\"nothing\": 1}', FcContext())['data']['outcome'] == 'rejected'\n"
        "assert loaded() == [], loaded()\n"
        "fake = FakeEbs()\n"
        f"fake.load_seed({{'pairs': [{seed_pair('pair-cn-lazy01', 'd-lazy01')!r}]}})\n"
        f"os.environ.update(FAILOVER_MODE='live', FAILOVER_REGION={STANDBY!r},\n"
        '                  FAILOVER_TARGETS=\'{"d-lazy01": "pair-cn-lazy01"}\')\n'
        'event = b\'{"action": "failover", "replicaPairId": "pair-cn-lazy01", "reason": "r"}\'\n'
        "with MockEbs(fake):\n"
        "    result = handler(event, FcContext())\n"
        "assert result['data']['outcome'] == 'failed_over', result\n"
        "assert loaded() == ['ebs_failover.act.failover'], loaded()\n"
    )
    run_fresh_python(code)


def test_a_batch_given_as_a_list_has_each_event_checked_as_json() -> None:
    """A batch handed over as a Python list (the CLI, a test) is checked like bytes: NaN is no JSON."""
    event = {"specversion": "1.0", "id": "e-1", "source": "acs.ebs", "type": "x", "data": {"v": float("nan")}}
    result = invoke([event], FcContext()).result
    assert result["data"]["outcome"] == "rejected", result["data"]
