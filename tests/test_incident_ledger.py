"""The incident ledger in the handler (issue 30): retries report what the first delivery did, duplicates
call and tell nothing new, each channel hears each piece of news once, and OSS down changes nothing else.
The real handler and SDKs against the fake EBS, the fake OSS (the ledger) and the fake MNS."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ebs_failover.act import drills
from ebs_failover.errors import NotifyError, TransientFailure
from ebs_failover.handler import handler, invoke
from ebs_failover.incident import news_state
from ebs_failover.ledger import Record
from ebs_failover.testing import FakeMnsServer, FakeOss, FakeOssServer, MockEbs

from .conftest import live_settings, seed_pair
from .helpers import DB_DISK, DB_PAIR, FAILOVER, KEY, SECRET, alarm, demo_fake, fc_context

BUCKET, TOPIC = "dr-ledger", "incident-results"
OTHER_PAIR, OTHER_DISK, INSTANCE = "pair-cn-led0other", "d-bp1led0other", "i-bp1led0db01"


@dataclass
class Scene:
    ebs: Any
    oss: FakeOss
    mns: FakeMnsServer

    def published(self) -> list[dict[str, Any]]:
        return [json.loads(m.body) for m in self.mns.published.get(TOPIC, [])]

    def records(self, kind: str) -> list[str]:
        return [key for key in self.oss.objects(BUCKET) if f"/{kind}" in key]


@pytest.fixture
def scene(monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    live_settings(monkeypatch, {INSTANCE: [DB_PAIR, OTHER_PAIR]})
    monkeypatch.setenv("LEDGER", f"oss://{BUCKET}/incidents-test")
    monkeypatch.setenv("NOTIFY_TARGETS", f"mns:{TOPIC}")
    oss = FakeOss(buckets=[BUCKET])
    oss.register_credential(KEY, SECRET)  # the function's own, as FC hands it over
    with FakeMnsServer() as mns, FakeOssServer(oss) as served:
        monkeypatch.setenv("OSS_ENDPOINT", served.endpoint)
        mns.create_topic(TOPIC)
        mns.register_credential(KEY, SECRET)
        monkeypatch.setenv("MNS_ENDPOINT", mns.endpoint)
        ebs = demo_fake(seed_pair(DB_PAIR, DB_DISK), seed_pair(OTHER_PAIR, OTHER_DISK))
        with MockEbs(ebs):
            yield Scene(ebs, oss, mns)


def _alarm() -> bytes:
    return alarm(f"instanceId={INSTANCE}", trans="t-ledger-1")


def _targets(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(t.get("pair_id")): t for t in result["data"]["targets"]}


def test_twenty_deliveries_in_a_row_fail_over_once_and_tell_once(scene: Scene) -> None:
    first = handler(_alarm(), fc_context(request_id="delivery-0"))
    assert {t["outcome"] for t in _targets(first).values()} == {"failed_over"}
    describes = len(scene.ebs.calls_for("DescribeDiskReplicaPairs"))
    for n in range(1, 20):
        again = handler(_alarm(), fc_context(request_id=f"delivery-{n}"))
        for pair, target in _targets(again).items():
            # The first delivery's failover, with its RequestId and data loss, not "already" or "stale".
            assert target["outcome"] == "failed_over", target
            assert target["request_id"] == _targets(first)[pair]["request_id"]
            assert target["data_loss_seconds"] == _targets(first)[pair]["data_loss_seconds"]
            assert "delivery-0" in target["hint"]
    assert len(scene.ebs.calls_for(FAILOVER)) == 2
    # Each retry: one batched Describe (is it still failed over?) and the ledger, no Failover.
    assert len(scene.ebs.calls_for("DescribeDiskReplicaPairs")) == describes + 19
    assert len(scene.published()) == 1


def test_the_ledger_costs_two_requests_before_the_failover_and_two_on_a_redelivery(scene: Scene) -> None:
    handler(_alarm(), fc_context(request_id="delivery-1"))
    first_failover = min(call.at for call in scene.ebs.calls_for(FAILOVER))
    before = [call.operation for call in scene.oss.calls if call.at < first_failover]
    assert before == ["ListObjectsV2", "PutObject"]  # the incident's records, the claim
    calls, describes = len(scene.oss.calls), len(scene.ebs.calls_for("DescribeDiskReplicaPairs"))
    handler(_alarm(), fc_context(request_id="delivery-2"))
    assert [call.operation for call in scene.oss.calls[calls:]] == ["ListObjectsV2", "GetObject"]
    assert len(scene.ebs.calls_for("DescribeDiskReplicaPairs")) == describes + 1
    assert scene.ebs.calls_for(FAILOVER)[2:] == []


def test_twenty_concurrent_deliveries_fail_over_once_and_tell_once(scene: Scene) -> None:
    """One delivery claims the incident; the others look again until it is done, then report its failover
    (or, while its telling is unrecorded, ask FC to retry): one Failover per target, one message."""
    ended: list[str] = []
    start = threading.Barrier(20)

    def deliver(n: int) -> None:
        start.wait()
        try:
            ended.append(invoke(_alarm(), fc_context(request_id=f"concurrent-{n}")).result["data"]["outcome"])
        except NotifyError as retry:  # another delivery was telling it: FC makes sure it was told
            ended.append(retry.code)
        except TransientFailure as retry:
            ended.append(str(retry.code))

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ended) == 20
    assert set(ended) <= {"failed_over", "TellingInProgress"}, ended
    assert len(scene.ebs.calls_for(FAILOVER)) == 2  # one per pair
    assert len(scene.published()) == 1, [k.split("incidents/", 2)[-1] for k in scene.oss.objects(BUCKET)]
    assert scene.published()[0]["data"]["outcome"] == "failed_over"


def test_a_delivery_that_died_holding_the_incident_is_taken_over_after_its_lease(scene: Scene) -> None:
    """A delivery claimed the incident an hour ago and died (no done, no records): FC's retry acts."""
    dead = Record("cms:t-dead", "", "decision", time.time() - 3600, {}, name="1", by="dead-delivery")
    scene.oss.backend.put(BUCKET, dead.key("incidents-test/"), dead.to_json())
    retry = handler(alarm(f"instanceId={INSTANCE}", trans="t-dead"), fc_context(request_id="fc-retry"))
    assert retry["data"]["trigger"]["identity"] == "cms:t-dead"
    assert {t["outcome"] for t in _targets(retry).values()} == {"failed_over"}
    assert len(scene.ebs.calls_for(FAILOVER)) == 2


def test_a_channel_down_on_the_first_delivery_is_told_once_on_the_retry(scene: Scene) -> None:
    scene.mns.down()
    with pytest.raises(NotifyError):
        invoke(_alarm(), fc_context(request_id="delivery-1"))  # told nobody: FC delivers it again
    scene.mns.up()
    retry = handler(_alarm(), fc_context(request_id="delivery-2"))
    assert [p["data"]["outcome"] for p in scene.published()] == ["failed_over"]
    told = scene.published()[0]
    assert {t["pair_id"]: t["request_id"] for t in told["data"]["targets"]} == {
        pair: target["request_id"] for pair, target in _targets(retry).items()
    }
    handler(_alarm(), fc_context(request_id="delivery-3"))
    assert len(scene.published()) == 1
    assert len(scene.ebs.calls_for(FAILOVER)) == 2


def test_a_telling_claimed_by_a_delivery_that_died_is_told_by_the_next(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOTIFY_TARGETS")
    first = handler(_alarm(), fc_context(request_id="delivery-1"))  # failed over, told nobody
    monkeypatch.setenv("NOTIFY_TARGETS", f"mns:{TOPIC}")
    # A delivery claimed telling this news an hour ago and died before telling it.
    state = news_state(first["data"]["targets"])
    identity = first["data"]["trigger"]["identity"]
    dead = Record(identity, "", "telling", time.time() - 3600, {}, name=f"{state}/mns:{TOPIC}/1", by="dead")
    scene.oss.backend.put(BUCKET, dead.key("incidents-test/"), dead.to_json())
    handler(_alarm(), fc_context(request_id="delivery-2"))
    assert len(scene.published()) == 1
    handler(_alarm(), fc_context(request_id="delivery-3"))
    assert len(scene.published()) == 1


def test_oss_down_the_failover_still_happens_and_is_told(scene: Scene) -> None:
    scene.oss.down()
    result = handler(_alarm(), fc_context(request_id="delivery-1"))
    assert {t["outcome"] for t in _targets(result).values()} == {"failed_over"}
    assert result["data"]["ledger"]["available"] is False
    assert [p["data"]["outcome"] for p in scene.published()] == ["failed_over"]
    assert len(scene.ebs.calls_for(FAILOVER)) == 2


def test_a_reused_identity_after_a_fail_back_is_refused_naming_the_earlier_failover(scene: Scene) -> None:
    handler(_alarm(), fc_context(request_id="delivery-1"))
    backend = scene.ebs.backend()
    for pair in (DB_PAIR, OTHER_PAIR):  # the operator fails back, and replication runs again
        backend.reprotect_pair(region="cn-shanghai", pair_id=pair, reverse_replicate=False)
        backend.start_pair(region="cn-hangzhou", pair_id=pair)
    reused = handler(_alarm(), fc_context(request_id="next-week"))
    for target in _targets(reused).values():
        assert target["outcome"] == "refused"
        assert "failed back since" in target["hint"]
        assert "delivery-1" in target["hint"]
    assert len(scene.ebs.calls_for(FAILOVER)) == 2


def test_already_failed_over_names_the_incident_that_did_it_or_says_not_by_this_function(
    scene: Scene,
) -> None:
    first = handler(_alarm(), fc_context(request_id="delivery-1"))
    identity = first["data"]["trigger"]["identity"]
    other = handler(
        alarm(f"instanceId={INSTANCE}", trans="t-ledger-2"), fc_context(request_id="other-incident")
    )
    for target in _targets(other).values():
        assert target["outcome"] == "already_failed_over"
        assert identity in target["hint"]
        assert "delivery-1" in target["hint"]


def test_a_pair_failed_over_by_someone_else_is_not_by_this_function(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    live_settings(monkeypatch, {INSTANCE: [DB_PAIR]})
    scene.ebs.backend().failover_pair(region="cn-shanghai", pair_id=DB_PAIR)  # from the console
    result = handler(alarm(f"instanceId={INSTANCE}", trans="t-ledger-3"), fc_context())
    target = _targets(result)[DB_PAIR]
    assert target["outcome"] == "already_failed_over"
    assert "not by this function" in target["hint"]


def test_a_drills_first_failure_stays_the_news_on_every_delivery(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EBS ended the drill execute_failed and its clean-up outlived the first delivery; FC's retry finds
    the drill gone: the ledger's first failure is its news, told once."""
    monkeypatch.setattr(drills, "_FOLLOW_WAITS", (0.05, 0.1))  # the looks' own schedule is not the point
    scene.ebs.drills.fail_next("execute_failed", "no capacity in the zone", target=DB_PAIR)
    scene.ebs.transitions.set("clearing", "manual")
    body = json.dumps(
        {"action": "drill", "replicaPairId": DB_PAIR, "reason": "drill", "idempotencyKey": "DR-30"}
    ).encode()
    with pytest.raises(TransientFailure):
        invoke(body, fc_context(timeout=4, request_id="drill-1"))
    told = len(scene.published())
    [drill] = scene.ebs.drills.started()
    scene.ebs.drills.advance(drill.drill_id)  # cleared: EBS forgets it
    again = _targets(handler(body, fc_context(request_id="drill-2")))[DB_PAIR]
    assert again["outcome"] == "drill_failed"
    assert "no capacity" in again["hint"]
    assert "drill-1" in again["hint"]
    assert len(scene.published()) == told


def test_dry_run_and_ignored_events_make_no_ledger_request(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler(alarm(f"instanceId={INSTANCE}", level="INFO"), fc_context())  # below FAILOVER_MIN_LEVEL
    monkeypatch.setenv("FAILOVER_MODE", "dry-run")
    assert handler(_alarm(), fc_context())["data"]["outcome"] == "dry_run"
    assert scene.oss.calls == []
