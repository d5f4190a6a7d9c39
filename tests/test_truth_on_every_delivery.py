"""The news stays true on every delivery (issue 28): FC's retries, limits and times that changed or lost
it. Each test drives the real handler and SDK against the fakes and failed on the code before the fix.
(The channels' items, filters, sizes and deadlines, are tests/test_notify_truth.py's.)
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ebs_failover import config
from ebs_failover.errors import ConfigError, TransientFailure
from ebs_failover.handler import handler, invoke
from ebs_failover.testing import FakeEbs, FakeMnsServer, MockEbs

from .conftest import live_settings, seed_pair
from .helpers import DB_DISK, DB_PAIR, EVENTS, FAILOVER, KEY, SECRET, alarm, demo_fake, fc_context

TOPIC = "truth-results"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEbs]:
    live_settings(monkeypatch, {DB_DISK: DB_PAIR})
    monkeypatch.setenv("FAILOVER_MAX_EVENT_AGE", "3600")
    fake = demo_fake(seed_pair(DB_PAIR, DB_DISK))
    with MockEbs(fake):
        yield fake


def _raising(event: bytes, context: Any, logs: io.StringIO) -> tuple[BaseException, dict[str, Any]]:
    """An invocation that raises for FC's retry: the exception, and the result its log line carries."""
    logs.seek(0)
    logs.truncate()
    with pytest.raises(Exception) as raised:  # noqa: PT011 - which one is the caller's to check
        invoke(event, context)
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.strip()]
    (line,) = [line for line in lines if line.get("message") == "result"]
    return raised.value, dict(line["result"])


def _target(result: dict[str, Any]) -> dict[str, Any]:
    (target,) = result["data"]["targets"]
    return dict(target)


# -- 1. a failed drill is never reported passed -------------------------------------------------------


def test_a_failed_drill_cleared_between_deliveries_is_never_reported_passed(
    fake: FakeEbs, logs: io.StringIO
) -> None:
    """EBS ended the drill execute_failed; its clean-up was still clearing when the first delivery's time
    ran out. The first result keeps the execute_failed reason; FC's retry, finding the drill cleared, may
    not call it passed."""
    fake.drills.fail_next("execute_failed", "no capacity in the zone", target=DB_PAIR)
    fake.transitions.set("clearing", "manual")
    body = json.dumps(
        {"action": "drill", "replicaPairId": DB_PAIR, "reason": "rehearsal", "idempotencyKey": "DR-28"}
    )
    error, first = _raising(body.encode(), fc_context(timeout=4, request_id="delivery-1"), logs)
    assert isinstance(error, TransientFailure)
    target = _target(first)
    assert target["outcome"] == "drill_failed"
    assert "execute_failed" in target["hint"]
    assert "no capacity" in target["hint"]
    [drill] = fake.drills.started()
    # FC's retry finds it still clearing; the clean-up ends while it watches, and EBS forgets the drill.
    ends = threading.Timer(0.3, fake.drills.advance, (drill.drill_id,))
    ends.start()
    try:
        again = _target(handler(body.encode(), fc_context(request_id="delivery-2")))
    finally:
        ends.cancel()
    assert again["outcome"] == "drill_failed"
    assert "not known" in again["hint"]


# -- 2. FAILOVER_MAX_DATA_LOSS=0 is the strictest limit ----------------------------------------------


def test_max_data_loss_zero_accepts_no_loss_and_none_is_no_limit(
    fake: FakeEbs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAILOVER_MAX_DATA_LOSS", "0")
    refused = _target(handler(alarm(), fc_context()))
    assert refused["outcome"] == "refused"
    assert "FAILOVER_MAX_DATA_LOSS 0 s" in refused["hint"]
    assert fake.calls_for(FAILOVER) == []
    monkeypatch.setenv("FAILOVER_MAX_DATA_LOSS", "none")
    assert _target(handler(alarm(trans="t-2"), fc_context()))["outcome"] == "failed_over"


def test_limits_spell_no_limit_as_none_and_the_old_zero_is_warned_about() -> None:
    assert config.load({"FAILOVER_MAX_EVENT_AGE": "none"}).max_event_age is None
    old = config.load({"FAILOVER_MAX_EVENT_AGE": "0"})
    assert old.max_event_age is None
    assert any("spell it none" in warning for warning in old.warnings)
    assert config.load({"FAILOVER_MAX_DATA_LOSS": "0"}).max_data_loss == 0
    with pytest.raises(ConfigError) as bad:
        config.load({"FAILOVER_MAX_DATA_LOSS": "off"})
    assert bad.value.variable == "FAILOVER_MAX_DATA_LOSS"
    assert "none for no limit" in bad.value.expected


# -- 4. a retry after FAILOVER_MAX_EVENT_AGE reports the failover made --------------------------------


def test_a_retry_past_the_max_event_age_reports_the_failover_not_staleness(
    fake: FakeEbs, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = time.time() - 30
    assert _target(handler(alarm(at=at), fc_context()))["outcome"] == "failed_over"
    monkeypatch.setenv("FAILOVER_MAX_EVENT_AGE", "10")  # FC's retries ran on past the limit
    again = handler(alarm(at=at), fc_context(request_id="retry"))
    assert _target(again)["outcome"] == "already_failed_over"
    assert again["data"]["outcome"] == "already_failed_over"
    assert len(fake.calls_for(FAILOVER)) == 1


def test_a_stale_alarm_on_a_pair_not_failed_over_is_refused_after_a_look(fake: FakeEbs) -> None:
    result = handler(alarm(at=time.time() - 7200), fc_context())
    target = _target(result)
    assert (result["data"]["outcome"], target["outcome"]) == ("refused", "refused")
    assert "stale" in target["hint"]
    assert fake.calls_for(FAILOVER) == []


# -- 5. a replayed answer is not called a failover ----------------------------------------------------


def test_a_failover_not_seen_moving_before_the_budget_ends_is_not_called_one(
    fake: FakeEbs, monkeypatch: pytest.MonkeyPatch, logs: io.StringIO
) -> None:
    """A reused identity after a fail-back, with a short timeout: EBS replays its earlier answer and the
    pair stays normal. Too little time to know: FC's retry, never "failed_over"."""
    monkeypatch.setenv("FAILOVER_VERIFY_SECONDS", "30")
    fake.transitions.set("failovering", "timed", start_delay=60, resource=DB_PAIR)  # it stays normal
    error, result = _raising(alarm(), fc_context(timeout=4), logs)
    assert isinstance(error, TransientFailure)
    target = _target(result)
    assert (target["outcome"], target["verified"]) == ("failed", False)
    assert "not known yet" in target["hint"]


# -- 8. an HTTP request that did not authenticate is never published ------------------------------------


def test_an_unauthenticated_malformed_http_request_is_not_published(
    fake: FakeEbs, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelope = json.loads((EVENTS / "http-envelope-callback-plain.json").read_text())
    envelope["queryParameters"] = {"token": "guessed"}
    envelope["body"] = "**PAGE EVERYONE** [click](http://evil.example)"  # not an event
    with FakeMnsServer() as mns:
        mns.create_topic(TOPIC)
        mns.register_credential(KEY, SECRET)
        monkeypatch.setenv("MNS_ENDPOINT", mns.endpoint)
        monkeypatch.setenv("NOTIFY_TARGETS", f"mns:{TOPIC}")
        monkeypatch.setenv("CALLBACK_TOKEN", "the-right-callback-token")
        invoked = invoke(json.dumps(envelope).encode(), fc_context())
        published = mns.published.get(TOPIC, [])
    assert invoked.answer["statusCode"] == 401
    assert invoked.result["data"]["error"]["code"] == "Unauthorized"
    assert published == []


# -- 10. times that skip the staleness check ---------------------------------------------------------------


def test_a_trigger_dated_a_year_ahead_is_refused_as_implausible(fake: FakeEbs) -> None:
    result = handler(alarm(at=time.time() + 365 * 86400), fc_context())
    assert result["data"]["outcome"] == "refused"
    assert "future" in result["data"]["reason"]
    assert fake.calls == []


def test_an_event_with_no_time_is_stale_under_a_max_event_age(fake: FakeEbs) -> None:
    event = json.loads((EVENTS / "eventbridge-ebs-diskiohang.json").read_text())
    del event["time"]
    result = handler(json.dumps(event).encode(), fc_context())
    assert result["data"]["outcome"] == "refused"
    assert "carries no time" in result["data"]["reason"]
    assert fake.calls_for(FAILOVER) == []


# -- 11. the data loss of a failover does not grow on its retries ------------------------------------------


def test_a_retry_labels_the_data_loss_it_reports_an_upper_bound(fake: FakeEbs) -> None:
    first = _target(handler(alarm(), fc_context()))
    assert first["outcome"] == "failed_over"
    assert "data_loss_upper_bound" not in first
    again = _target(handler(alarm(), fc_context(request_id="retry")))
    assert again["outcome"] == "already_failed_over"
    assert again["data_loss_upper_bound"] is True
    assert again["data_loss_seconds"] >= first["data_loss_seconds"]
