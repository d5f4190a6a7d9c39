"""Outage of the notification channel: the MNS topic unreachable or failing.

The failover still happens, exactly once; the ``result`` line is logged before the error surfaces
(:class:`NotifyError`, so that FC's async retry delivers the event again); the retry, with MNS back,
finds the pair failed over and publishes. Last, two results that could not reach MNS even with MNS
up, found by this suite (see RELIABILITY.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from ebs_failover.notify import NotifyError
from ebs_failover.testing import FakeMnsServer
from tests.reliability_helpers import DB_PAIR, SAMPLES, Live, context

TOPIC = "failover-results"
TIMEOUT = 20
MANUAL = json.dumps(
    {"action": "failover", "replicaPairId": DB_PAIR, "reason": "outage drill", "idempotencyKey": "outage-1"}
).encode()


@contextmanager
def live_with_mns() -> Iterator[tuple[Live, FakeMnsServer]]:
    with FakeMnsServer() as mns:
        mns.create_topic(TOPIC)
        with Live(env={"NOTIFY_TARGETS": f"mns:{TOPIC}", "MNS_ENDPOINT": mns.endpoint}) as live:
            yield live, mns


def _down(mns: FakeMnsServer) -> None:
    mns.down()


def _failing(mns: FakeMnsServer) -> None:
    mns.fail_next(1000)


def _unknown_topic(mns: FakeMnsServer) -> None:
    mns.topics.discard(TOPIC)


OUTAGES: dict[str, tuple[Callable[[FakeMnsServer], None], str]] = {
    "connection closed (down)": (_down, "NetworkError"),
    "503 ServiceUnavailable": (_failing, "ServiceUnavailable"),
    "topic deleted": (_unknown_topic, "TopicNotExist"),
}


@pytest.mark.parametrize("outage", sorted(OUTAGES))
def test_mns_outage_fails_over_once_raises_after_logging_and_the_retry_publishes(outage: str) -> None:
    start, code = OUTAGES[outage]
    with live_with_mns() as (live, mns):
        start(mns)
        first = live.invoke(MANUAL, context(timeout=TIMEOUT))
        assert isinstance(first.error, NotifyError), first.error
        assert first.error.code == code
        assert first.elapsed < TIMEOUT
        assert len(first.changes) == 1
        assert live.fake.pair(DB_PAIR).status == "failovered"
        finals = first.result_lines()
        assert len(finals) == 1
        assert finals[0]["outcome"] == "failed_over"
        assert first.lines[-1]["message"] == "result"  # logged, then raised
        assert [n["ok"] for n in finals[0]["notifications"]] == [False]
        assert mns.published.get(TOPIC, []) == []
        # FC's async retry, MNS back.
        mns.up()
        mns._faults.clear()
        mns.create_topic(TOPIC)
        again = live.invoke(MANUAL, context(timeout=TIMEOUT))
        assert again.error is None
        assert again.outcome == "already_failed_over"
        published = [json.loads(m.body) for m in mns.published[TOPIC]]
        assert published == [again.result]
        assert mns.published[TOPIC][0].tag == "already_done"
        assert len(live.fake.state_changes()) == 1
        print(f"\nOUTAGE {outage}: first NotifyError ({code}), retry {again.outcome}, published 1")


def test_an_outage_raises_only_for_a_result_a_person_needs() -> None:
    """A rejection or a recovery is nobody's emergency: no raise. A refusal needs a person: told nobody,
    it raises after its log line, for FC to deliver the event again (nothing changed, nothing will)."""
    with live_with_mns() as (live, mns):
        mns.down()
        for name in ("invalid-not-json.json", "cms-callback-recovery.txt"):
            call = live.invoke(SAMPLES[name], context())
            assert call.error is None
            assert [n["ok"] for n in call.result_lines()[0]["notifications"]] == [False]
        refused = live.invoke(SAMPLES["manual-failover-not-configured.json"], context())
        assert isinstance(refused.error, NotifyError)
        line = refused.result_lines()[0]
        assert (line["outcome"], line["level"]) == ("refused", "ERROR")
        assert live.fake.state_changes() == []


# -- results that once could not reach MNS, even with MNS up (found by this suite) -----------------


@pytest.mark.parametrize("escape", ["\\ud800", "\\uffff"])
def test_a_result_with_a_character_xml_cannot_carry_is_published(escape: str) -> None:
    """A lone surrogate or U+FFFF (JSON escapes in a text field) once made MalformedXML: unannounced."""
    event = (
        '{"action": "failover", "replicaPairId": "pair-cn-demo0db01", "reason": "disk gone '
        + escape
        + '", "idempotencyKey": "xml-1"}'
    ).encode()
    with live_with_mns() as (live, mns):
        first = live.invoke(event, context())
        assert len(first.changes) == 1
        assert first.error is None, first.error
        assert len(mns.published[TOPIC]) == 1


def test_a_result_for_an_alarm_naming_many_resources_is_published() -> None:
    """Every resource id once went into the result: over MNS's 64 KiB limit, the failover unannounced."""
    alarm = json.loads(SAMPLES["cms-alarm-json-critical.json"])
    resources = {f"disk{n}": f"d-bp1other{n:08d}" for n in range(6000)}
    alarm["resources"] = {**resources, "diskId": "d-bp1demo0primary01"}
    event = json.dumps(alarm).encode()
    assert len(event) < 262144  # an event the function accepts
    with live_with_mns() as (live, mns):
        first = live.invoke(event, context())
        assert len(first.changes) == 1
        assert first.error is None, first.error
        assert len(mns.published[TOPIC]) == 1
