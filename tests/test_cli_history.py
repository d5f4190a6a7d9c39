"""``ebs-failover history`` and ``incident``: the incident ledger read back, after the real handler wrote it
(against the fake EBS, the fake OSS on a loopback socket and the fake MNS), plus an older incident written
record by record."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest

from ebs_failover import config
from ebs_failover.cli.history import parse_since, summarise, text_block
from ebs_failover.cloud.credentials import Credentials
from ebs_failover.handler import handler
from ebs_failover.ledger import Kind, Ledger, Record, open_ledger
from ebs_failover.testing import FakeMnsServer, FakeOss, FakeOssServer, MockEbs

from .conftest import STANDBY, live_settings, seed_pair
from .helpers import CLEARED, DB_DISK, DB_PAIR, KEY, SECRET, alarm, demo_fake, fc_context, one_line, run

BUCKET, PREFIX, TOPIC = "dr-history", "hist/", "incident-results"
OTHER_PAIR, OTHER_DISK, INSTANCE = "pair-cn-hist0other", "d-bp1hist0other", "i-bp1hist0db01"
OLD_PAIR, OLD_INCIDENT = "pair-cn-hist0old", "manual:ticket-old"
INCIDENT = "cms:t-hist-1"
DAY = 86400.0


@dataclass
class Scene:
    oss: FakeOss
    endpoint: str
    #: The handler's first result (the Failovers' RequestIds).
    first: dict[str, Any]
    #: When the older incident began (ten days ago).
    old_at: float

    def request_ids(self) -> dict[str, str]:
        return {str(t["pair_id"]): str(t["request_id"]) for t in self.first["data"]["targets"]}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*CLEARED, *config.VARIABLES):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def scene(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Scene]:
    """Two deliveries of one alarm through the real handler (a Failover of two pairs, told on MNS once; the
    redelivery only reads), an incident of ten days ago written record by record, and the index by target
    the handler writes; then the command's environment: LEDGER, OSS_ENDPOINT, the credentials, and
    FAILOVER_REGION (the bucket's region: LEDGER_REGION is unset)."""
    live_settings(monkeypatch, {INSTANCE: [DB_PAIR, OTHER_PAIR]})
    monkeypatch.setenv("LEDGER", f"oss://{BUCKET}/{PREFIX}")
    monkeypatch.setenv("NOTIFY_TARGETS", f"mns:{TOPIC}")
    oss = FakeOss(buckets=[BUCKET])
    oss.register_credential(KEY, SECRET)
    with FakeMnsServer() as mns, FakeOssServer(oss) as served:
        monkeypatch.setenv("OSS_ENDPOINT", served.endpoint)
        mns.create_topic(TOPIC)
        mns.register_credential(KEY, SECRET)
        monkeypatch.setenv("MNS_ENDPOINT", mns.endpoint)
        with MockEbs(demo_fake(seed_pair(DB_PAIR, DB_DISK), seed_pair(OTHER_PAIR, OTHER_DISK))):
            event = alarm(f"instanceId={INSTANCE}", trans="t-hist-1")
            first = handler(event, fc_context(request_id="delivery-0"))
            handler(event, fc_context(request_id="delivery-1"))  # a redelivery: reads, records nothing
        old_at = time.time() - 10 * DAY
        _write_old_incident(_ledger(served.endpoint), old_at)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        capsys.readouterr()  # the handler's log lines
        yield Scene(oss, served.endpoint, first, old_at)


def _ledger(endpoint: str) -> Ledger:
    place = config.load({"LEDGER": f"oss://{BUCKET}/{PREFIX}", "OSS_ENDPOINT": endpoint}).ledger
    assert place is not None
    return open_ledger(place, STANDBY, lambda: Credentials(KEY, SECRET))


def _write_old_incident(ledger: Ledger, at: float) -> None:
    """A manual failover of ``OLD_PAIR``: a first delivery that claimed it and died, a second that took it
    over, failed over, verified and was done, and a webhook that failed to hear it; plus its index entry."""
    news = {"state": "0123456789abcdef", "channel": "webhook:audit"}
    failover = {"request_id": "OLD-REQUEST-ID", "data_loss_seconds": 125, "last_recover_point": 1_700_000_000}
    steps: list[tuple[str, Kind, float, dict[str, Any], str, str]] = [
        ("", "decision", 0, {"targets": [OLD_PAIR]}, "1", "old-died"),
        ("", "decision", 400, {"targets": [OLD_PAIR]}, "2", "old-req"),
        (OLD_PAIR, "failover", 401, failover, "", "old-req"),
        (OLD_PAIR, "verified", 420, {"failover_seconds": 19.0}, "", "old-req"),
        ("", "decision", 421, {"outcome": "failed_over"}, "2/done", "old-req"),
        ("", "telling", 422, news, "0123456789abcdef/webhook:audit/1", "old-req"),
        ("", "tell_failed", 423, {**news, "code": "HTTP 503"}, "0123456789abcdef/webhook:audit/1", "old-req"),
    ]
    for target, kind, offset, data, name, by in steps:
        record = Record(OLD_INCIDENT, target, kind, at + offset, data, name=name, by=by)
        assert ledger.append(record).won
    index = Record(f"target:{OLD_PAIR}", OLD_PAIR, "failover", at + 401, {"incident": OLD_INCIDENT}, name="1")
    assert ledger.append(index).won


def _history(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    code, out, err = run(capsys, "history", "--json", *argv)
    assert (code, err) == (0, ""), err
    listed: list[dict[str, Any]] = json.loads(out)
    return listed


# -- history -------------------------------------------------------------------------------------------


def test_history_names_the_incident_its_targets_request_ids_and_the_channel_told(
    scene: Scene, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "history")
    assert (code, err) == (0, "")
    new, old = out.split("\n\n")  # newest first, a blank line between incidents
    assert new.startswith(f"incident {INCIDENT}\n")
    assert f"targets   {DB_PAIR}, {OTHER_PAIR}" in new
    assert "outcome   failed_over\n" in new
    assert f"decision #1 by FC request delivery-0 for {DB_PAIR}, {OTHER_PAIR}; done 20" in new
    for pair, request_id in scene.request_ids().items():
        assert f"failover {pair} by FC request delivery-0: RequestId {request_id}, data loss" in new
        assert f"verified {pair} failovered (failover took 0.0 s)" in new
    assert f"told mns:{TOPIC} (FC request delivery-0)" in new
    assert "target:" not in out  # the index by target is not an incident
    assert old.startswith(f"incident {OLD_INCIDENT}\n")
    assert f"decision #1 by FC request old-died for {OLD_PAIR}; not done" in old
    assert f"decision #2 by FC request old-req for {OLD_PAIR}; done " in old
    assert "RequestId OLD-REQUEST-ID, data loss 2 min 5 s (125 s), recovery point 2023-11-14T22:13:20Z" in old
    assert "NOT told webhook:audit: 1 failed attempt(s), last by FC request old-req (HTTP 503)" in old
    started = datetime.fromtimestamp(scene.old_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"started   {started}" in old


def test_history_json_is_a_list_of_incidents_newest_first(
    scene: Scene, capsys: pytest.CaptureFixture[str]
) -> None:
    new, old = _history(capsys)
    assert set(new) == {
        "incident",
        "started",
        "last",
        "targets",
        "outcomes",
        "decisions",
        "failovers",
        "verifications",
        "drill_failures",
        "news",
    }
    assert (new["incident"], old["incident"]) == (INCIDENT, OLD_INCIDENT)
    assert new["targets"] == [DB_PAIR, OTHER_PAIR]
    assert new["outcomes"] == ["failed_over"]
    assert [(d["attempt"], d["by"], d["outcome"]) for d in new["decisions"]] == [
        (1, "delivery-0", "failed_over")
    ]
    assert new["decisions"][0]["targets"] == [DB_PAIR, OTHER_PAIR]
    assert [(d["attempt"], d["by"], d["outcome"], d["done_at"]) for d in old["decisions"]] == [
        (1, "old-died", None, None),
        (2, "old-req", "failed_over", old["decisions"][1]["done_at"]),
    ]
    assert {f["target"]: f["request_id"] for f in new["failovers"]} == scene.request_ids()
    assert {f["by"] for f in new["failovers"]} == {"delivery-0"}
    assert all(f["at"].endswith("Z") and f["data_loss_seconds"] is not None for f in new["failovers"])
    assert sorted(v["target"] for v in new["verifications"]) == [DB_PAIR, OTHER_PAIR]
    assert [(n["channel"], n["status"], n["by"]) for n in new["news"]] == [
        (f"mns:{TOPIC}", "told", "delivery-0")
    ]
    assert old["news"][0]["status"] == "failed"
    assert old["news"][0]["failures"][0]["code"] == "HTTP 503"
    assert old["failovers"][0]["last_recover_point"] == "2023-11-14T22:13:20Z"


def test_history_of_a_target_lists_only_the_incidents_that_touched_it(
    scene: Scene, capsys: pytest.CaptureFixture[str]
) -> None:
    assert [i["incident"] for i in _history(capsys, OTHER_PAIR)] == [INCIDENT]
    assert [i["incident"] for i in _history(capsys, OLD_PAIR)] == [OLD_INCIDENT]
    assert _history(capsys, "pg-nothere") == []
    code, out, err = run(capsys, "history", "pair-cn-nothere")
    assert (code, err) == (0, "")
    assert out.startswith("(no incident of pair-cn-nothere in the ledger oss://dr-history/hist/)")
    code, _, err = run(capsys, "history", "d-bp1hist0other")
    assert code == 2
    assert "expected a pair (pair-…) or a replica group (pg-…)" in one_line(err)


def test_history_since_a_duration_or_a_date(scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    assert [i["incident"] for i in _history(capsys, "--since", "7d")] == [INCIDENT]
    assert [i["incident"] for i in _history(capsys, "--since", "216h")] == [INCIDENT]
    assert [i["incident"] for i in _history(capsys, "--since", "11d")] == [INCIDENT, OLD_INCIDENT]
    # An incident is listed when it has a record since WHEN: the old one went on for 7 minutes.
    five_minutes_in = datetime.fromtimestamp(scene.old_at + 300, timezone.utc).isoformat()
    assert len(_history(capsys, "--since", five_minutes_in)) == 2
    eleven_days_ago = datetime.fromtimestamp(scene.old_at - DAY, timezone.utc)
    assert len(_history(capsys, "--since", eleven_days_ago.strftime("%Y-%m-%d"))) == 2
    assert len(_history(capsys, "--since", eleven_days_ago.strftime("%Y-%m-%dT%H:%M:%SZ"))) == 2
    assert len(_history(capsys, OLD_PAIR, "--since", "3d")) == 0
    code, _, err = run(capsys, "history", "--since", "yesterday")
    assert code == 2
    assert "--since 'yesterday': expected an ISO date or time" in one_line(err)


def test_parse_since() -> None:
    assert parse_since("24h", now=100_000.0) == 100_000.0 - DAY
    assert parse_since("90m", now=10_000.0) == 4_600.0
    assert parse_since("2024-06-01") == datetime(2024, 6, 1, tzinfo=timezone.utc).timestamp()
    assert parse_since("2024-06-01T08:00Z") == datetime(2024, 6, 1, 8, tzinfo=timezone.utc).timestamp()
    assert parse_since("2024-06-01T16:00+08:00") == datetime(2024, 6, 1, 8, tzinfo=timezone.utc).timestamp()


def test_an_unfinished_incident_says_what_is_pending() -> None:
    """A decision claimed and not done, a telling claimed and neither told nor failed: no outcome yet."""
    news = {"state": "feedfacefeedface", "channel": "dingtalk:oncall"}
    records = [
        Record("cms:t-now", "", "decision", 1_717_228_800.0, {"targets": ["pg-cn-now"]}, name="1", by="r-1"),
        Record(
            "cms:t-now",
            "",
            "telling",
            1_717_228_801.0,
            news,
            name="feedfacefeedface/dingtalk:oncall/1",
            by="r-1",
        ),
    ]
    summary = summarise("cms:t-now", records)
    assert (summary["started"], summary["targets"], summary["outcomes"]) == (
        "2024-06-01T08:00:00Z",
        ["pg-cn-now"],
        [],
    )
    assert summary["news"] == [
        {
            "channel": "dingtalk:oncall",
            "state": "feedfacefeedface",
            "status": "telling",
            "at": "2024-06-01T08:00:01Z",
            "by": "r-1",
            "attempts": 1,
            "failures": [],
        }
    ]
    assert text_block(summary) == [
        "incident cms:t-now",
        "  started   2024-06-01T08:00:00Z, last record 2024-06-01T08:00:01Z",
        "  targets   pg-cn-now",
        "  outcome   - (decision #1 claimed by FC request r-1, not done)",
        "  2024-06-01T08:00:00Z  decision #1 by FC request r-1 for pg-cn-now; not done",
        "  2024-06-01T08:00:01Z  telling dingtalk:oncall: claimed by FC request r-1, neither told nor failed",
    ]


def test_history_of_an_empty_ledger(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOssServer(FakeOss(buckets=[BUCKET])) as served:
        _environment(monkeypatch, served.endpoint)
        code, out, err = run(capsys, "history")
    assert (code, err) == (0, "")
    assert out == f"(no incident in the ledger oss://{BUCKET}/{PREFIX})\n"


# -- incident ------------------------------------------------------------------------------------------


def test_incident_shows_every_record_in_time_order(scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    stored = [key for key in scene.oss.objects(BUCKET) if "/cms%3At-hist-1/" in key]
    code, out, err = run(capsys, "incident", INCIDENT)
    assert (code, err) == (0, "")
    assert out.startswith(f"incident {INCIDENT}\n")
    head, records = out.split(f"  records ({len(stored)}, in time order):\n")
    assert "told mns:" in head
    lines = records.splitlines()
    assert len(lines) == len(stored)
    assert lines == sorted(lines, key=lambda line: line.split()[0])  # ISO times sort as text
    assert lines[0].split()[1:4] == ["decision/1", "-", "delivery-0"]
    for request_id in scene.request_ids().values():
        assert request_id in records

    code, out, err = run(capsys, "incident", INCIDENT, "--json")
    assert (code, err) == (0, "")
    whole = json.loads(out)
    assert whole["incident"] == INCIDENT
    assert len(whole["records"]) == len(stored)
    assert [r["at"] for r in whole["records"]] == sorted(r["at"] for r in whole["records"])
    assert {r["kind"] for r in whole["records"]} == {"decision", "failover", "verified", "telling", "told"}
    assert set(whole["records"][0]) == {"at", "kind", "name", "target", "by", "data"}


def test_incident_unknown_is_one_line_and_exit_1(scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "incident", "cms:never")
    assert (code, out) == (1, "")
    assert one_line(err) == f"ebs-failover: no incident 'cms:never' in the ledger oss://{BUCKET}/{PREFIX}"


# -- the environment -----------------------------------------------------------------------------------


def _environment(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    monkeypatch.setenv("LEDGER", f"oss://{BUCKET}/{PREFIX}")
    monkeypatch.setenv("OSS_ENDPOINT", endpoint)
    monkeypatch.setenv("ALIBABA_CLOUD_REGION_ID", STANDBY)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "testing")


@pytest.mark.parametrize("verb", [["history"], ["incident", INCIDENT]])
def test_no_ledger_is_a_usage_error(verb: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *verb)
    assert (code, out) == (2, "")
    assert "set LEDGER=oss://<bucket>[/<prefix>]" in one_line(err)


def test_no_credentials_or_region_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER", f"oss://{BUCKET}")
    code, _, err = run(capsys, "history")
    assert code == 2
    assert "set LEDGER_REGION, or pass --region" in one_line(err)
    code, _, err = run(capsys, "history", "--region", STANDBY)
    assert code == 2
    assert "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET" in one_line(err)
    monkeypatch.setenv("LEDGER", "s3://elsewhere")
    code, _, err = run(capsys, "history")
    assert code == 1
    assert "bad configuration: environment variable LEDGER: expected oss://" in one_line(err)


def test_the_ledger_unreachable_is_one_line_naming_the_error(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scene.oss.down()
    code, out, err = run(capsys, "history")
    assert (code, out) == (1, "")
    line = one_line(err)
    assert line.startswith(f"ebs-failover: cannot read the ledger oss://{BUCKET}/{PREFIX}: ledger list: ")
    scene.oss.up()
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "Wrong-Secret-Value-99")
    for verb in (["history"], ["incident", INCIDENT]):
        code, out, err = run(capsys, *verb)
        assert (code, out) == (2, "")  # refused credentials: a setup problem, exit 2
        line = one_line(err)
        assert "403 SignatureDoesNotMatch" in line
        assert "Wrong-Secret-Value-99" not in err


def test_a_ledger_bucket_that_does_not_exist(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOssServer(FakeOss()) as served:
        _environment(monkeypatch, served.endpoint)
        code, _, err = run(capsys, "history")
    assert code == 1
    assert "404 NoSuchBucket" in one_line(err)
