"""Tell the truth on every delivery, the channels' items: a filter sees every outcome of a result, a result
always fits its channel, one deadline ends each channel's whole delivery, and the robots' Markdown shows
text from an event as text. Each test failed on the code before the fix.

The handler drives the filters and the escaping (the real SDK against the fake EBS, MNS and robots); the
sizes and the deadline are :func:`ebs_failover.notify.publish`'s own, at 1,000 targets and against a
robot that trickles its answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ebs_failover import results
from ebs_failover.cloud import Credentials
from ebs_failover.handler import invoke
from ebs_failover.notify import Channel, Where, dingtalk, publish, wecom
from ebs_failover.notify.mns import message_body
from ebs_failover.testing import FakeMnsServer, FakeRobotServer, FcContext, MockEbs

from .conftest import live_settings, seed_pair
from .helpers import DB_DISK, DB_PAIR, KEY, SECRET, alarm, demo_fake, fc_context

TOPIC, TOKEN, ROBOT_SECRET = "truth-results", "truth-robot-token", "SECtruth-robot-secret"
OTHER_PAIR, OTHER_DISK, INSTANCE = "pair-cn-truth0other", "d-bp1truth0other", "i-bp1truth0db01"
ROBOTS = ("dingtalk", "lark", "wecom")


@pytest.fixture(autouse=True)
def _fresh_windows() -> Iterator[None]:
    # The robots' windows are the process's: a URL on a reused port must not inherit another test's sends.
    dingtalk.RATE_WINDOW.clear()
    wecom.RATE_WINDOW.clear()
    yield
    dingtalk.RATE_WINDOW.clear()
    wecom.RATE_WINDOW.clear()


@dataclass
class Scene:
    fake: Any
    mns: FakeMnsServer
    robots: FakeRobotServer

    def robot(self, kind: str = "dingtalk") -> list[dict[str, Any]]:
        return self.robots.received(kind, TOKEN)


@pytest.fixture
def scene(monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    """The fake EBS in process (the DB pair in sync, the other never synchronised: refused), MNS, and one
    robot of each kind under the channel name ``oncall`` (each test says which it configures)."""
    live_settings(monkeypatch, {DB_DISK: DB_PAIR, INSTANCE: [DB_PAIR, OTHER_PAIR]})
    with FakeMnsServer() as mns, FakeRobotServer() as robots:
        mns.create_topic(TOPIC)
        mns.register_credential(KEY, SECRET)
        monkeypatch.setenv("MNS_ENDPOINT", mns.endpoint)
        for kind, url in (
            ("dingtalk", robots.add_dingtalk(TOKEN, ROBOT_SECRET)),
            ("lark", robots.add_lark(TOKEN, ROBOT_SECRET)),
            ("wecom", robots.add_wecom(TOKEN)),
        ):
            monkeypatch.setenv(f"NOTIFY_{kind.upper()}_URL", url)
            monkeypatch.setenv(f"NOTIFY_{kind.upper()}_SECRET", ROBOT_SECRET)
        fake = demo_fake(seed_pair(DB_PAIR, DB_DISK), seed_pair(OTHER_PAIR, OTHER_DISK, "created"))
        with MockEbs(fake):
            yield Scene(fake, mns, robots)


def _manual(reason: str = "primary down", key: str = "INC-28") -> bytes:
    body = {"action": "failover", "replicaPairId": DB_PAIR, "reason": reason, "idempotencyKey": key}
    return json.dumps(body).encode()


def _invoke(event: bytes, request_id: str = "req-1") -> dict[str, Any]:
    context: FcContext = fc_context(request_id=request_id)
    return invoke(event, context).result


# -- 1. a filter sees the targets' outcomes -------------------------------------------------------------


def test_a_partial_failover_reaches_a_channel_filtered_on_failed_over(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One pair failed over, the other refused: the invocation is ``refused``, and the room that wants
    ``failed_over`` hears of the failover all the same."""
    monkeypatch.setenv("NOTIFY_TARGETS", "dingtalk:dingtalk[failed_over,failed]")
    result = _invoke(alarm(f"instanceId={INSTANCE}"))
    assert result["data"]["outcome"] == "refused"
    assert sorted(t["outcome"] for t in result["data"]["targets"]) == ["failed_over", "refused"]
    [message] = scene.robot()
    assert DB_PAIR in message["markdown"]["text"]


def test_a_retry_finding_the_failover_made_reaches_a_channel_filtered_on_failed_over(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_TARGETS", "dingtalk:dingtalk[failed_over]")
    first = _invoke(_manual())
    retry = _invoke(_manual(), "req-retry")
    assert (first["data"]["outcome"], retry["data"]["outcome"]) == ("failed_over", "already_failed_over")
    assert ["already_failed_over" in m["markdown"]["title"] for m in scene.robot()] == [False, True]


def test_a_batch_events_outcome_is_seen_by_the_filter() -> None:
    """A batch whose worst is a failover, one of its events ``rejected``: a channel that wants
    ``rejected`` hears of it (and one that wants only ``ignored`` does not)."""
    target = {"pair_id": DB_PAIR, "outcome": "failed_over"}
    batch = [results.batch_entry(0, None, "failed_over", "ok", [target])]
    batch.append(results.batch_entry(1, None, "rejected", "not an alarm", []))
    event = _result("failed_over", [target], batch=batch)
    with FakeRobotServer() as robots:
        wants = Channel("webhook", "audit", frozenset({"rejected"}), robots.add_webhook("audit"))
        deaf = Channel("webhook", "quiet", frozenset({"ignored"}), robots.add_webhook("quiet"))
        entries = publish(event, [wants, deaf], _where())
        assert [(e["channel"], e["ok"]) for e in entries] == [("webhook:audit", True)]
        assert robots.received("webhook", "quiet") == []


# -- 2. a result always fits its channel ------------------------------------------------------------------


def _result(outcome: str, targets: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return results.build(
        outcome=outcome,
        source="acs:fc:cn-shanghai:1234567890123456:functions/ebs-failover",
        request_id="req-1",
        trigger={"kind": "manual", "identity": "manual:INC-1000", "state": "ALERT"},
        targets=targets,
        region="cn-shanghai",
        dry_run=False,
        reason="the primary region is down",
        duration_ms=1.0,
        **extra,
    )


def _thousand() -> tuple[dict[str, Any], list[str]]:
    """A result of 1,000 targets with long hints, 40 of them failed or refused; and those 40 ids."""
    targets, needing = [], []
    for n in range(1000):
        outcome = "failed" if n % 50 == 7 else "refused" if n % 50 == 32 else "failed_over"
        target = {
            "pair_id": f"pair-cn-thousand{n:04d}",
            "outcome": outcome,
            "status_before": "normal",
            "status_after": "failovered" if outcome == "failed_over" else "normal",
            "request_id": f"REQ-{n:04d}-0000-0000-0000",
            "client_token": f"ct-{n}",
            "hint": "EBS said: " + "the replication link is slow; " * 8,
        }
        targets.append(target)
        if outcome != "failed_over":
            needing.append(str(target["pair_id"]))
    return _result("failed", targets), needing


def _where(timeout: float = 5.0, mns: FakeMnsServer | None = None) -> Where:
    return Where(
        credentials=Credentials("testing", "testing"),
        region="cn-shanghai",
        account_id="1234567890123456",
        mns_endpoint=mns.endpoint if mns else None,
        timeout=timeout,
    )


def test_a_thousand_targets_fit_every_channel_naming_those_that_need_a_person() -> None:
    event, needing = _thousand()
    with FakeMnsServer() as mns, FakeRobotServer() as robots:
        mns.create_topic(TOPIC)
        channels = [
            Channel("mns", TOPIC),
            Channel("dingtalk", "oncall", None, robots.add_dingtalk(TOKEN, ROBOT_SECRET), ROBOT_SECRET),
            Channel("lark", "oncall", None, robots.add_lark(TOKEN, ROBOT_SECRET), ROBOT_SECRET),
            Channel("wecom", "oncall", None, robots.add_wecom(TOKEN)),
            Channel("webhook", "oncall", None, robots.add_webhook(TOKEN)),
        ]
        entries = publish(event, channels, _where(mns=mns))
        assert [(e["channel"], e["ok"]) for e in entries] == [(c.label, True) for c in channels], entries
        [message] = mns.published[TOPIC]
        texts = {"mns": message.body, "webhook": json.dumps(robots.received("webhook", TOKEN)[0])}
        for kind in ROBOTS:
            [received] = robots.received(kind, TOKEN)
            texts[kind] = json.dumps(received, ensure_ascii=False)
    assert len(message_body(event)) > 256 * 1024  # the whole would fit none of them
    assert len(message.body.encode()) <= 65536
    assert len(texts["webhook"].encode()) <= 256 * 1024
    sizes = {kind: len(texts[kind].encode()) for kind in ROBOTS}
    assert sizes["dingtalk"] <= 20000, sizes
    assert sizes["lark"] <= 20 * 1024, sizes
    for kind, text in texts.items():
        missing = [pair for pair in needing if pair not in text]
        assert missing == [], (kind, missing[:3])
        assert event["id"] in text, kind
    summary = json.loads(message.body)["data"]["summary"]
    assert summary["outcomes"] == {"failed": 20, "refused": 20, "failed_over": 960}
    assert summary["needs_a_person_count"] == 40
    assert event["id"] in summary["full_result"]


def test_a_small_result_is_sent_whole() -> None:
    event = _result("failed_over", [{"pair_id": DB_PAIR, "outcome": "failed_over"}])
    with FakeMnsServer() as mns, FakeRobotServer() as robots:
        mns.create_topic(TOPIC)
        hook = Channel("webhook", "audit", None, robots.add_webhook("audit"))
        entries = publish(event, [Channel("mns", TOPIC), hook], _where(mns=mns))
        assert [e["ok"] for e in entries] == [True, True]
        assert mns.published[TOPIC][0].body == message_body(event)
        assert robots.received("webhook", "audit") == [json.loads(json.dumps(event))]


# -- 3. one deadline for each channel's whole delivery ---------------------------------------------------


def test_a_trickling_robot_cannot_keep_publish_past_its_deadline() -> None:
    """Each robot answers one byte every 0.9 s (no per-read timeout of 1.5 s ever fires); publish, its
    deadline 1.5 s away, returns long before the answers could end, and its threads end with it."""
    event = _result("failed_over", [{"pair_id": DB_PAIR, "outcome": "failed_over"}])
    with FakeRobotServer() as robots:
        robots.trickle_next(0.9, n=2)
        channels = [
            Channel("webhook", "slow", None, robots.add_webhook("slow")),
            Channel("dingtalk", "slow", None, robots.add_dingtalk(TOKEN, ROBOT_SECRET), ROBOT_SECRET),
        ]
        done: list[list[dict[str, Any]]] = []
        started = time.monotonic()
        running = threading.Thread(target=lambda: done.append(publish(event, channels, _where(1.5))))
        running.start()
        running.join(timeout=8)  # the old code would read on for minutes: fail here, not hang
        elapsed = time.monotonic() - started
        assert done, "publish still running 8 s after a 1.5 s deadline"
        assert elapsed < 4, elapsed
        assert [(e["channel"], e["ok"], e["code"]) for e in done[0]] == [
            ("webhook:slow", False, "Timeout"),
            ("dingtalk:slow", False, "Timeout"),
        ]
        for _ in range(40):  # the deliveries' own threads end too: their sockets were shut at the deadline
            if not [t for t in threading.enumerate() if t.name.startswith("ebs-failover-notify")]:
                break
            time.sleep(0.05)
        assert not [t.name for t in threading.enumerate() if t.name.startswith("ebs-failover-notify")]
        assert time.monotonic() - started < 6


# -- 4. the robots' Markdown shows text from an event as text --------------------------------------------

MARKDOWN = "**x** [link](http://evil) <font color=red>!</font> `code` <@all> ~~y~~ _z_ # h"


def test_markdown_in_a_reason_renders_as_text_on_every_robot(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_TARGETS", "dingtalk:dingtalk,lark:lark,wecom:wecom")
    result = _invoke(_manual(reason=MARKDOWN))
    assert "**x** [link](http://evil)" in result["data"]["reason"]  # the result keeps what was sent
    texts = {
        "dingtalk": scene.robot("dingtalk")[0]["markdown"]["text"],
        "lark": scene.robot("lark")[0]["card"]["elements"][0]["content"],
        "wecom": scene.robot("wecom")[0]["markdown"]["content"],
    }
    for kind, text in texts.items():
        for syntax in ("**x**", "[link]", "](", "http://evil", "<font", "<@all>", "~~y~~", "_z_", "`code`"):
            assert syntax not in text, (kind, syntax, text)
        assert DB_PAIR in text, kind  # what the function wrote still reads
        assert "failed_over" in text, kind
        assert "**Reason:**" in text, kind  # and its own Markdown still renders
    assert "＊＊x＊＊ ［link］(http:／／evil)" in texts["dingtalk"]  # noqa: RUF001 (the full-width forms)
    assert "&#42;&#42;x&#42;&#42; &#91;link&#93;(http:&#47;&#47;evil)" in texts["lark"]


@pytest.mark.parametrize("flavour", ["dingtalk", "wecom", "lark"])
def test_a_drills_clean_up_command_reaches_a_robot_whole(flavour: str) -> None:
    """A hint is shortened in a chat message; the command a person must copy is not."""
    from ebs_failover.notify import _text

    command = (
        "aliyun ebs ClearPairDrill --RegionId cn-shanghai --PairId pair-cn-demo0db01 "
        "--DrillId drill-ayn1b7o259w4x8q2k6m0z3"
    )
    target = {
        "pair_id": "pair-cn-demo0db01",
        "outcome": "drill_failed",
        "hint": "EBS ended the drill execute_failed: " + "no capacity " * 60 + "; then the clean-up failed",
        "drill": {"drill_id": "drill-ayn1b7o259w4x8q2k6m0z3", "cleared": False, "clear_command": command},
    }
    event = {
        "id": "r-1",
        "type": "ebs-failover.v1.drill_failed",
        "data": {"outcome": "drill_failed", "targets": [target]},
    }
    _, text = _text.markdown(event, flavour=flavour)
    assert "drill-ayn1b7o259w4x8q2k6m0z3" in text
    assert "--DrillId drill-ayn1b7o259w4x8q2k6m0z3" in text
