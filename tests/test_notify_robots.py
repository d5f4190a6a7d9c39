"""The chat robots (DingTalk, Lark, WeCom) and the generic webhook against FakeRobotServer, and the handler
telling two of them end to end.

Every entry is scanned for the robot's token, its URL and its secret: none may ever show.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ebs_failover import results
from ebs_failover.errors import NotifyError
from ebs_failover.handler import handler
from ebs_failover.notify import _text, dingtalk, lark, webhook, wecom
from ebs_failover.notify.channels import Channel, Where
from ebs_failover.testing import FakeEbs, FakeRobotServer, FcContext, FcCredentials, FcFunction

from .conftest import live_settings, mounted, seed_pair

TOKEN = "robot-token-7f3a9c2e"
SECRET = "SEC-robot-secret-5b8d1e"
PAIR, DISK = "pair-cn-demo0db01", "d-bp1demo0primary01"
TARGET: dict[str, Any] = {
    "pair_id": PAIR,
    "outcome": "failed_over",
    "status_before": "normal",
    "status_after": "failovered",
    "verified": True,
    "data_loss_seconds": 125,
    "request_id": "REQ-ABC-123",
    "client_token": "ct-1",
    "hint": "attach the standby disk d-bp1demo0primary01-s",
}
MODULES: dict[str, Any] = {"dingtalk": dingtalk, "lark": lark, "wecom": wecom, "webhook": webhook}
ROBOTS = ("dingtalk", "lark", "wecom")


@pytest.fixture(autouse=True)
def _fresh_windows() -> Iterator[None]:
    # The windows are the process's: a URL on a reused port must not inherit another test's sends.
    dingtalk.RATE_WINDOW.clear()
    wecom.RATE_WINDOW.clear()
    yield
    dingtalk.RATE_WINDOW.clear()
    wecom.RATE_WINDOW.clear()


@pytest.fixture
def robots() -> Iterator[FakeRobotServer]:
    with FakeRobotServer() as server:
        yield server


def _event(
    outcome: str = "failed_over", targets: list[dict[str, Any]] | None = None, *, dry_run: bool = False
) -> dict[str, Any]:
    return results.build(
        outcome=outcome,
        source="acs:fc:cn-shanghai:1234567890123456:functions/ebs-failover",
        request_id="req-1",
        trigger={"kind": "manual", "identity": "manual:INC-7", "state": "ALERT"},
        targets=[TARGET] if targets is None else targets,
        region="cn-shanghai",
        dry_run=dry_run,
        reason="primary region down",
        duration_ms=12.0,
    )


def _where(timeout: float = 3.0) -> Where:
    return Where(credentials=None, region="cn-shanghai", account_id="1234567890123456", timeout=timeout)


@dataclass
class Robot:
    """One channel registered with the fake: what to deliver to, and what must never show."""

    kind: str
    channel: Channel
    server: FakeRobotServer

    def deliver(self, event: dict[str, Any] | None = None, timeout: float = 3.0) -> dict[str, Any]:
        entry: dict[str, Any] = MODULES[self.kind].deliver(event or _event(), self.channel, _where(timeout))
        _assert_clean(entry, self.channel)
        return entry

    def received(self) -> list[dict[str, Any]]:
        return self.server.received(self.kind, TOKEN)


def _robot(server: FakeRobotServer, kind: str, *, secret: str | None = SECRET, signed: bool = True) -> Robot:
    """Register robot ``TOKEN`` of ``kind`` (signed with ``SECRET``); the channel's secret is ``secret``."""
    registered = SECRET if signed else None
    url = {
        "dingtalk": lambda: server.add_dingtalk(TOKEN, registered),
        "lark": lambda: server.add_lark(TOKEN, registered),
        "wecom": lambda: server.add_wecom(TOKEN),
        "webhook": lambda: server.add_webhook(TOKEN, registered),
    }[kind]()
    return Robot(kind, Channel(kind, "oncall", None, url, None if kind == "wecom" else secret), server)


def _assert_clean(entry: dict[str, Any], channel: Channel) -> None:
    shown = json.dumps(entry, ensure_ascii=False)
    for secret in (TOKEN, SECRET, channel.url, channel.secret):
        if secret:
            assert secret not in shown, entry
    assert set(entry) >= {"channel", "ok"}
    assert entry["channel"] == channel.label
    if not entry["ok"]:
        assert isinstance(entry["code"], str)
        assert isinstance(entry["error"], str)
        assert len(entry["error"]) <= 300


def _text_of(kind: str, message: dict[str, Any]) -> str:
    """What a person reads of a robot's message."""
    if kind == "dingtalk":
        return str(message["markdown"]["title"]) + "\n" + str(message["markdown"]["text"])
    if kind == "lark":
        card = message["card"]
        return str(card["header"]["title"]["content"]) + "\n" + str(card["elements"][0]["content"])
    return str(message["markdown"]["content"])


# -- delivered, the signature checked by the fake ------------------------------------------------


@pytest.mark.parametrize("kind", [*ROBOTS, "webhook"])
def test_a_delivery_the_fake_verifies(robots: FakeRobotServer, kind: str) -> None:
    robot = _robot(robots, kind)
    event = _event()
    entry = robot.deliver(event)
    assert entry["ok"] is True, entry
    [received] = robot.received()
    if kind == "webhook":
        assert entry["status"] == 200
        assert received == json.loads(json.dumps(event))
    else:
        assert set(entry) == {"channel", "ok"}
    assert [(c.kind, c.status, c.code) for c in robots.calls] == [
        (kind, 200, None if kind == "webhook" else 0)
    ]


@pytest.mark.parametrize("kind", ROBOTS)
def test_the_message_a_person_reads(robots: FakeRobotServer, kind: str) -> None:
    robot = _robot(robots, kind)
    second = {**TARGET, "pair_id": "pair-cn-demo0app01", "verified": False, "data_loss_seconds": 7300}
    event = _event(targets=[TARGET, second])
    assert robot.deliver(event)["ok"] is True
    text = _text_of(kind, robot.received()[0])
    for expected in (
        "failed_over",
        PAIR,
        "pair-cn-demo0app01",
        "normal → failovered",
        "verified",
        "NOT verified",
        "data loss 2 min 5 s",
        "data loss 2 h 1 min",
        "REQ-ABC-123",
        "attach the standby disk",
        "primary region down",
        "manual:INC-7",
        "acs:fc:cn-shanghai:1234567890123456:functions/ebs-failover",
        event["id"],
    ):
        assert expected in text, (expected, text)


def test_a_dry_run_says_so(robots: FakeRobotServer) -> None:
    robot = _robot(robots, "dingtalk")
    dry = {**TARGET, "outcome": "dry_run", "status_after": None, "verified": None}
    assert robot.deliver(_event("dry_run", [dry], dry_run=True))["ok"] is True
    title = robot.received()[0]["markdown"]["title"]
    assert "dry_run" in title


def test_a_webhook_without_a_secret_is_sent_unsigned(robots: FakeRobotServer) -> None:
    robot = _robot(robots, "webhook", secret=None, signed=False)
    assert robot.deliver()["ok"] is True
    assert len(robot.received()) == 1


def test_a_lark_bot_without_signing_takes_an_unsigned_message(robots: FakeRobotServer) -> None:
    robot = _robot(robots, "lark", secret=None, signed=False)
    assert robot.deliver()["ok"] is True
    assert "sign" not in robot.received()[0]


# -- refused: a wrong secret, an unknown token -----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "code"),
    [("dingtalk", "DingTalk.310000"), ("lark", "Lark.19021"), ("webhook", "HttpError")],
)
def test_a_wrong_secret_is_the_robots_code(robots: FakeRobotServer, kind: str, code: str) -> None:
    robot = _robot(robots, kind, secret="SEC-not-the-right-one")
    entry = robot.deliver()
    assert (entry["ok"], entry["code"]) == (False, code), entry
    assert robot.received() == []
    if kind == "webhook":
        assert entry["status"] == 401


@pytest.mark.parametrize(("kind", "code"), [("dingtalk", "DingTalk.300001"), ("wecom", "WeCom.93000")])
def test_an_unknown_token_is_the_robots_code(robots: FakeRobotServer, kind: str, code: str) -> None:
    url = robots.dingtalk_url(TOKEN) if kind == "dingtalk" else robots.wecom_url(TOKEN)
    channel = Channel(kind, "oncall", None, url, SECRET if kind == "dingtalk" else None)
    entry = MODULES[kind].deliver(_event(), channel, _where())
    _assert_clean(entry, channel)
    assert (entry["ok"], entry["code"]) == (False, code), entry


def test_wecom_has_no_signing_the_key_is_enough(robots: FakeRobotServer) -> None:
    robot = _robot(robots, "wecom")
    assert robot.deliver()["ok"] is True
    assert set(robot.received()[0]) == {"msgtype", "markdown"}


# -- outages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [*ROBOTS, "webhook"])
def test_a_5xx_is_an_http_error_with_its_status(robots: FakeRobotServer, kind: str) -> None:
    robot = _robot(robots, kind)
    robots.fail_next(status=503, body=b"upstream unavailable")
    entry = robot.deliver()
    assert (entry["ok"], entry["code"], entry["status"]) == (False, "HttpError", 503), entry
    assert "503" in entry["error"]
    assert robot.deliver()["ok"] is True  # the next one goes through: no state kept


@pytest.mark.parametrize("kind", [*ROBOTS, "webhook"])
def test_no_answer_within_the_timeout_is_timeout(robots: FakeRobotServer, kind: str) -> None:
    robot = _robot(robots, kind)
    robots.stall_next(5.0, kind=kind)
    entry = robot.deliver(timeout=0.5)
    assert (entry["ok"], entry["code"]) == (False, "Timeout"), entry


@pytest.mark.parametrize("kind", [*ROBOTS, "webhook"])
def test_a_connection_closed_unanswered_is_a_network_error(robots: FakeRobotServer, kind: str) -> None:
    robot = _robot(robots, kind)
    robots.down()
    entry = robot.deliver()
    assert (entry["ok"], entry["code"]) == (False, "NetworkError"), entry
    robots.up()
    assert robot.deliver()["ok"] is True


@pytest.mark.parametrize("kind", [*ROBOTS, "webhook"])
def test_connection_refused_is_a_network_error_naming_it(kind: str) -> None:
    with FakeRobotServer() as server:
        robot = _robot(server, kind)
    entry = robot.deliver()  # the server has stopped: nothing listens on its port
    assert (entry["ok"], entry["code"]) == (False, "NetworkError"), entry
    assert "refused" in entry["error"].lower(), entry


def test_environment_proxies_do_not_matter(robots: FakeRobotServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    assert _robot(robots, "dingtalk").deliver()["ok"] is True


# -- rate limits ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ROBOTS)
def test_the_robots_own_rate_limit_is_rate_limited(kind: str) -> None:
    with FakeRobotServer(rate_limits={kind: 1}) as server:
        robot = _robot(server, kind)
        assert robot.deliver()["ok"] is True
        entry = robot.deliver()
        assert (entry["ok"], entry["code"]) == (False, "RateLimited"), entry
        assert {"dingtalk": "130101", "lark": "11232", "wecom": "45009"}[kind] in entry["error"]
        assert [c.code for c in server.calls] == [
            0,
            {"dingtalk": 130101, "lark": 11232, "wecom": 45009}[kind],
        ]


@pytest.mark.parametrize("kind", ["dingtalk", "wecom"])
def test_the_local_window_sends_nothing_past_20_a_minute(kind: str) -> None:
    with FakeRobotServer(rate_limits={kind: 1000}) as server:  # the robot would take more: the window says no
        robot = _robot(server, kind)
        assert all(robot.deliver()["ok"] for _ in range(20))
        entry = robot.deliver()
        assert (entry["ok"], entry["code"]) == (False, "RateLimited"), entry
        assert len(server.calls) == 20  # the 21st never left the process
        other = _robot_named(server, kind, "another-robot")
        assert other.deliver()["ok"] is True  # the window is per robot


def _robot_named(server: FakeRobotServer, kind: str, token: str) -> Robot:
    url = server.add_dingtalk(token, SECRET) if kind == "dingtalk" else server.add_wecom(token)
    return Robot(kind, Channel(kind, "other", None, url, SECRET if kind == "dingtalk" else None), server)


def test_the_window_slides() -> None:
    now = [0.0]
    from ebs_failover.notify._http import RateWindow

    window = RateWindow(limit=2, seconds=60, clock=lambda: now[0])
    assert window.take("u")
    assert window.take("u")
    assert not window.take("u")
    now[0] = 59.9
    assert not window.take("u")
    now[0] = 60.0
    assert window.take("u")
    assert window.take("v")


# -- answers that are not the robot's ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ROBOTS)
def test_a_200_that_is_not_the_robots_json_is_an_http_error(robots: FakeRobotServer, kind: str) -> None:
    robot = _robot(robots, kind)
    robots.fail_next(status=200, body=b"<html>captive portal</html>")
    entry = robot.deliver()
    assert (entry["ok"], entry["code"]) == (False, "HttpError"), entry


def test_an_old_lark_bots_status_code_answer_is_success(robots: FakeRobotServer) -> None:
    robot = _robot(robots, "lark")
    robots.fail_next(status=200, body=b'{"StatusCode": 0, "StatusMessage": "success"}')
    assert robot.deliver()["ok"] is True


def test_an_error_message_echoing_the_url_is_scrubbed(robots: FakeRobotServer) -> None:
    robot = _robot(robots, "webhook")
    robots.fail_next(status=502, body=f"bad gateway for {robot.channel.url} key={SECRET}".encode())
    entry = robot.deliver()  # _assert_clean scans it
    assert entry["code"] == "HttpError"
    assert "***" in entry["error"]


def test_a_bug_in_a_channel_is_an_entry(robots: FakeRobotServer, monkeypatch: pytest.MonkeyPatch) -> None:
    robot = _robot(robots, "dingtalk")

    def broken(event: dict[str, Any]) -> dict[str, Any]:
        raise ZeroDivisionError(f"{robot.channel.url}")

    monkeypatch.setattr(dingtalk, "message", broken)
    entry = robot.deliver()
    assert (entry["ok"], entry["code"]) == (False, "ZeroDivisionError")


# -- the text ------------------------------------------------------------------------------------------


def test_many_targets_fit_wecoms_4096_bytes_saying_how_many_more() -> None:
    many = [{**TARGET, "pair_id": f"pair-cn-{n:05d}", "hint": "長い説明" * 40} for n in range(300)]
    event = _event(targets=many)
    title, text = _text.markdown(event, limit=wecom.CONTENT_LIMIT)
    assert len(text.encode()) <= 4096
    assert "failed_over" in title
    assert "pair-cn-00000" in text
    assert "more targets" in text
    shown = text.count("- **pair-cn-")
    assert f"… {300 - shown} more targets" in text
    assert "Function:" in text  # the foot survives
    assert wecom.message(event)["markdown"]["content"] == text


def test_the_default_limit_keeps_a_robot_message_under_20_kb() -> None:
    many = [{**TARGET, "pair_id": f"pair-cn-{n:05d}"} for n in range(2000)]
    body = json.dumps(dingtalk.message(_event(targets=many)), ensure_ascii=False).encode()
    assert len(body) < 20000


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "none"),
        (0.4, "under 1 s"),
        (42, "42 s"),
        (125, "2 min 5 s"),
        (7300, "2 h 1 min"),
        (90061, "1 d 1 h"),
    ],
)
def test_data_loss_in_human_units(seconds: float, shown: str) -> None:
    assert _text.data_loss(seconds) == shown


def test_a_missing_data_loss_is_unknown() -> None:
    assert _text.data_loss(None) == "unknown"
    target = {k: v for k, v in TARGET.items() if k != "data_loss_seconds"}
    _, text = _text.markdown(_event(targets=[target]))
    assert "data loss" not in text


def test_a_result_without_targets_reads_its_error() -> None:
    event = results.build(
        outcome="failed",
        source="acs:fc:x",
        request_id=None,
        trigger=None,
        targets=(),
        region=None,
        dry_run=False,
        reason="environment variable FAILOVER_TARGETS: expected JSON",
        duration_ms=1.0,
        error={"code": "ConfigError", "variable": "FAILOVER_TARGETS"},
    )
    title, text = _text.markdown(event)
    assert "failed" in title
    assert "ConfigError" in text
    assert "FAILOVER_TARGETS" in text
    assert "Targets" not in text


# -- the handler end to end ---------------------------------------------------------------------------

KEY, FC_SECRET = "STS.fc-role", "Fc-Role-Secret-Value-2c4e"
AUDIT_SECRET = "audit-webhook-secret-8a7b"


@pytest.fixture
def scene(
    monkeypatch: pytest.MonkeyPatch, robots: FakeRobotServer
) -> Iterator[tuple[FakeEbs, FakeRobotServer]]:
    """The fake EBS on a socket (``responses`` would take the robots' requests too), and two channels."""
    live_settings(monkeypatch, {DISK: PAIR})
    fake = FakeEbs(seed=11)
    fake.register_credential(KEY, FC_SECRET)
    fake.load_seed({"pairs": [seed_pair(PAIR, DISK)]})
    monkeypatch.setenv("NOTIFY_TARGETS", "dingtalk:oncall,webhook:audit")
    monkeypatch.setenv("NOTIFY_ONCALL_URL", robots.add_dingtalk(TOKEN, SECRET))
    monkeypatch.setenv("NOTIFY_ONCALL_SECRET", SECRET)
    monkeypatch.setenv("NOTIFY_AUDIT_URL", robots.add_webhook("audit", AUDIT_SECRET))
    monkeypatch.setenv("NOTIFY_AUDIT_SECRET", AUDIT_SECRET)
    with mounted(fake, "server", monkeypatch):
        yield fake, robots


def _context(request_id: str = "req-1") -> FcContext:
    return FcContext(
        request_id=request_id,
        function=FcFunction(timeout=30),
        credentials=FcCredentials(KEY, FC_SECRET, ""),
        region="cn-shanghai",
    )


def _manual() -> bytes:
    body = {"action": "failover", "replicaPairId": PAIR, "reason": "primary down", "idempotencyKey": "INC-9"}
    return json.dumps(body).encode()


def _result_line(logs: io.StringIO) -> dict[str, Any]:
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.strip()]
    [line] = [line for line in lines if line["message"] == "result"]
    return dict(line)


def _assert_no_secret_logged(logs: io.StringIO, robots: FakeRobotServer) -> None:
    text = logs.getvalue()
    for secret in (TOKEN, SECRET, AUDIT_SECRET, robots.dingtalk_url(TOKEN), robots.webhook_url("audit")):
        assert secret not in text


def test_the_handler_tells_both_channels(scene: tuple[FakeEbs, FakeRobotServer], logs: io.StringIO) -> None:
    _fake, robots = scene
    result = handler(_manual(), _context())
    assert result["data"]["outcome"] == "failed_over"
    assert robots.received("webhook", "audit") == [json.loads(json.dumps(result))]
    [message] = robots.received("dingtalk", TOKEN)
    assert PAIR in message["markdown"]["text"]
    assert "failed_over" in message["markdown"]["title"]
    line = _result_line(logs)
    assert sorted((n["channel"], n["ok"]) for n in line["notifications"]) == [
        ("dingtalk:oncall", True),
        ("webhook:audit", True),
    ]
    _assert_no_secret_logged(logs, robots)


def test_dingtalk_down_and_the_webhook_up_does_not_raise(
    scene: tuple[FakeEbs, FakeRobotServer], logs: io.StringIO
) -> None:
    _fake, robots = scene
    robots.down("dingtalk")
    result = handler(_manual(), _context())
    assert result["data"]["outcome"] == "failed_over"
    assert len(robots.received("webhook", "audit")) == 1
    line = _result_line(logs)
    told = {n["channel"]: n for n in line["notifications"]}
    assert (told["dingtalk:oncall"]["ok"], told["dingtalk:oncall"]["code"]) == (False, "NetworkError")
    assert told["webhook:audit"]["ok"] is True
    _assert_no_secret_logged(logs, robots)


def test_both_down_after_a_failover_raises_after_the_log_line(
    scene: tuple[FakeEbs, FakeRobotServer], logs: io.StringIO
) -> None:
    fake, robots = scene
    robots.down()
    with pytest.raises(NotifyError) as raised:
        handler(_manual(), _context())
    assert fake.pair(PAIR).status == "failovered"
    line = _result_line(logs)
    assert (line["level"], line["outcome"], line["exception_name"]) == ("ERROR", "failed_over", "NotifyError")
    assert [n["ok"] for n in line["notifications"]] == [False, False]
    for secret in (TOKEN, SECRET, AUDIT_SECRET):
        assert secret not in str(raised.value)
    _assert_no_secret_logged(logs, robots)
