"""The ledger's records and its operations over the memory store: no fake server, no SDK."""

from __future__ import annotations

import threading

import pytest

from ebs_failover import config
from ebs_failover.errors import ConfigError
from ebs_failover.ledger import SCHEMA_VERSION, Ledger, Record
from ebs_failover.ledger.memory import MemoryStore

INCIDENT = "cms:6021337-1726121400-0"


def _record(kind: str = "failover", by: str = "req-1", **fields: object) -> Record:
    base: dict[str, object] = {
        "incident": INCIDENT,
        "target": "pair-cn-x1",
        "kind": kind,
        "at": 1_726_121_401.5,
        "data": {"client_token": "ebsfo-1", "data_loss_seconds": 3},
        "by": by,
    }
    base.update(fields)
    return Record(**base)  # type: ignore[arg-type]


def test_a_record_round_trips_through_json_and_is_read_only() -> None:
    record = _record()
    assert Record.from_json(record.to_json()) == record
    with pytest.raises(TypeError):
        record.data["data_loss_seconds"] = 0  # type: ignore[index]


def test_a_record_of_a_newer_schema_is_refused_not_misread() -> None:
    newer = _record().to_json().replace(f'"schema":{SCHEMA_VERSION}'.encode(), b'"schema":99')
    with pytest.raises(ValueError, match="schema 99"):
        Record.from_json(newer)


def test_a_key_names_the_step_and_no_identity_can_add_a_level() -> None:
    tricky = _record(incident="eb:acs.ebs:../../x/y", kind="telling", name="failed_over/mns:topic")
    key = tricky.key("ebs-failover/")
    assert key.count("/") == 5  # prefix, incidents, incident, target, kind, name
    assert Record.parts(key, "ebs-failover/") == (
        "eb:acs.ebs:../../x/y",
        "pair-cn-x1",
        "telling",
        "failed_over/mns:topic",
    )
    assert Record.parts("ebs-failover/incidents/x/y/not-a-kind", "ebs-failover/") is None


def test_a_step_is_claimed_once_and_the_loser_reads_the_winners_record() -> None:
    ledger = Ledger(MemoryStore())
    first, second = ledger.append(_record(by="req-1")), ledger.append(_record(by="req-2"))
    assert (first.won, first.held) == (True, None)
    assert second.won is False
    assert second.held is not None
    assert second.held.by == "req-1"
    assert ledger.append(_record(by="req-1")).won  # the same write again: the echo of our own


def test_of_twenty_concurrent_claims_one_wins() -> None:
    ledger = Ledger(MemoryStore())
    wins: list[bool] = []
    threads = [
        threading.Thread(target=lambda n=n: wins.append(ledger.append(_record(by=f"req-{n}")).won))
        for n in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 19 + [True]


def test_an_incidents_records_are_read_by_kind_and_incidents_are_listed() -> None:
    ledger = Ledger(MemoryStore())
    ledger.append(_record("decision"))
    ledger.append(_record("failover"))
    ledger.append(_record("verified", incident="cms:other"))
    assert [r.kind for r in ledger.records(INCIDENT)] == ["decision", "failover"]
    assert [r.kind for r in ledger.records(INCIDENT, kinds=("failover",))] == ["failover"]
    assert sorted(ledger.incidents()) == [INCIDENT, "cms:other"]


@pytest.mark.parametrize(
    ("raw", "bucket", "prefix"),
    [
        ("oss://dr-ledger", "dr-ledger", "ebs-failover/"),
        ("oss://dr-ledger/", "dr-ledger", "ebs-failover/"),
        ("oss://dr-ledger/prod/ebs", "dr-ledger", "prod/ebs/"),
    ],
)
def test_ledger_names_a_bucket_and_a_prefix(raw: str, bucket: str, prefix: str) -> None:
    place = config.load({"LEDGER": raw, "LEDGER_REGION": "cn-shanghai"}).ledger
    assert place is not None
    assert (place.bucket, place.prefix, place.region) == (bucket, prefix, "cn-shanghai")
    assert config.load({}).ledger is None


@pytest.mark.parametrize("raw", ["s3://dr-ledger", "oss://DR_Ledger", "oss://ab"])
def test_a_bad_ledger_is_a_configuration_error_naming_it(raw: str) -> None:
    with pytest.raises(ConfigError) as bad:
        config.load({"LEDGER": raw})
    assert bad.value.variable == "LEDGER"
    assert "oss://<bucket>" in bad.value.expected
