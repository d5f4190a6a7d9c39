"""Notification fallback: never lose the news (issue 16). The MNS-down scenarios the issue reproduced, each
through the real handler, the SDK and the fakes: each ends with the news on another channel, or with the
handler raising so that FC delivers the event again. None ends silently."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ebs_failover.errors import NotifyError
from ebs_failover.handler import invoke
from ebs_failover.testing import FakeMnsServer, FakeRobotServer, FcContext, MockEbs

from .conftest import live_settings, seed_pair
from .helpers import DB_DISK, DB_PAIR, EVENTS, FAILOVER, KEY, SECRET, alarm, demo_fake, fc_context

TOPIC, ROBOT_TOKEN, ROBOT_SECRET = "failover-results", "robot-token-16", "SECrobot-secret-16"
OTHER_PAIR, OTHER_DISK, INSTANCE = "pair-cn-news0other", "d-bp1news0other", "i-bp1news0db01"


@dataclass
class Scene:
    fake: Any
    mns: FakeMnsServer
    robots: FakeRobotServer

    def published(self) -> list[dict[str, Any]]:
        return [json.loads(m.body) for m in self.mns.published.get(TOPIC, [])]

    def robot(self) -> list[dict[str, Any]]:
        return self.robots.received("dingtalk", ROBOT_TOKEN)


@pytest.fixture
def scene(monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    """MNS and a DingTalk robot, both up; the EBS fake in process. Each test configures its channels."""
    live_settings(monkeypatch, {DB_DISK: DB_PAIR, INSTANCE: [DB_PAIR, OTHER_PAIR]})
    with FakeMnsServer() as mns, FakeRobotServer() as robots:
        mns.create_topic(TOPIC)
        mns.register_credential(KEY, SECRET)  # the function's own, as FC hands it over
        monkeypatch.setenv("MNS_ENDPOINT", mns.endpoint)
        monkeypatch.setenv("NOTIFY_ONCALL_URL", robots.add_dingtalk(ROBOT_TOKEN, ROBOT_SECRET))
        monkeypatch.setenv("NOTIFY_ONCALL_SECRET", ROBOT_SECRET)
        fake = demo_fake(seed_pair(DB_PAIR, DB_DISK), seed_pair(OTHER_PAIR, OTHER_DISK, "created"))
        with MockEbs(fake):
            yield Scene(fake, mns, robots)


def _context(request_id: str = "req-1") -> FcContext:
    return fc_context(request_id=request_id)


def _manual(pair: str = DB_PAIR, key: str = "INC-16") -> bytes:
    return json.dumps(
        {"action": "failover", "replicaPairId": pair, "reason": "primary down", "idempotencyKey": key}
    ).encode()


def _call(event: bytes, request_id: str = "req-1") -> tuple[dict[str, Any] | None, BaseException | None]:
    try:
        return invoke(event, _context(request_id)).result, None
    except Exception as error:
        return None, error


def test_mns_down_after_a_failover_the_news_goes_out_on_the_robot(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_TARGETS", f"mns:{TOPIC},dingtalk:oncall[failed_over,failed,refused]")
    scene.mns.down()
    result, error = _call(_manual())
    assert error is None
    assert result is not None
    assert result["data"]["outcome"] == "failed_over"
    [message] = scene.robot()
    assert DB_PAIR in message["markdown"]["text"]
    assert "failed_over" in message["markdown"]["title"]


def test_mns_the_only_channel_down_every_delivery_raises_until_the_news_is_told(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first delivery fails over and raises; FC's retry, MNS still down, finds the pair failed over and
    raises again (it once returned normally: FC stopped, nobody told); with MNS back, the retry tells."""
    monkeypatch.setenv("NOTIFY_TARGETS", f"mns:{TOPIC}")
    scene.mns.down()
    _, first = _call(_manual())
    _, retry = _call(_manual(), "req-retry-1")
    assert isinstance(first, NotifyError)
    assert isinstance(retry, NotifyError)
    scene.mns.up()
    told, error = _call(_manual(), "req-retry-2")
    assert error is None
    assert told is not None
    [published] = scene.published()
    assert published["data"]["outcome"] == "already_failed_over"
    target = published["data"]["targets"][0]
    assert (target["status_before"], target["verified"]) == ("failovered", True)
    assert "cannot tell which" in target["hint"]
    assert len(scene.fake.state_changes()) == 1


@pytest.mark.parametrize(
    ("event", "setup", "outcome"),
    [
        # One pair failed over, the other refused (never synchronised): a partial failover.
        ("alarm", None, "refused"),
        # EBS forbids the call: failed, which needs a person.
        ("manual", "forbidden", "failed"),
        # A pair not configured: refused.
        ("not-configured", None, "refused"),
    ],
    ids=["partial-failover", "failed", "refused"],
)
def test_mns_down_a_result_a_person_needs_raises(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, event: str, setup: str | None, outcome: str
) -> None:
    monkeypatch.setenv("NOTIFY_TARGETS", f"mns:{TOPIC}")
    scene.mns.down()
    if setup == "forbidden":
        scene.fake.faults.error(FAILOVER, 403, "Forbidden", times=100)
    raw = {
        "alarm": alarm(f"instanceId={INSTANCE}"),
        "manual": _manual(),
        "not-configured": _manual("pair-cn-notconfigured1"),
    }[event]
    try:
        invoke(raw, _context())
    except NotifyError:
        pass
    else:
        pytest.fail("the handler returned: nobody was told")
    if event == "alarm":
        assert [op.resource_id for op in scene.fake.state_changes()] == [DB_PAIR]  # the partial failover


def test_a_configuration_error_is_told_on_the_channels(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_TARGETS", f"mns:{TOPIC},dingtalk:oncall")
    monkeypatch.setenv("FAILOVER_MODE", "bogus")
    result, error = _call(_manual())
    assert error is None
    assert result is not None
    assert result["data"]["error"]["code"] == "ConfigError"
    assert [p["data"]["error"]["variable"] for p in scene.published()] == ["FAILOVER_MODE"]
    assert "FAILOVER_MODE" in scene.robot()[0]["markdown"]["text"]
    scene.mns.down()
    scene.robots.down()
    _, raised = _call(_manual(), "req-2")
    assert isinstance(raised, NotifyError)  # told nobody: FC delivers it again


def test_an_unauthenticated_http_request_publishes_nothing_and_learns_nothing(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_TARGETS", f"mns:{TOPIC},dingtalk:oncall")
    monkeypatch.setenv("CALLBACK_TOKEN", "the-right-callback-token")
    envelope = json.loads((EVENTS / "http-envelope-callback-plain.json").read_text())
    envelope["queryParameters"] = {"token": "guessed"}
    for _ in range(5):
        invoked = invoke(json.dumps(envelope).encode(), _context())
        assert invoked.answer["statusCode"] == 401
        assert "1234567890123456" not in json.dumps(invoked.answer)  # no account id
    assert scene.published() == []
    assert scene.robot() == []
    assert scene.fake.calls == []
