"""The ``ebs-failover`` command: every verb through ``main([...])``, and a few real subprocess runs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from ebs_failover import cli, results
from ebs_failover.cli.run import event_files
from ebs_failover.testing import FakeEbs, MockEbs
from ebs_failover.token import client_token, drill_token

from .helpers import CLEARED, EVENTS, ROOT, one_line, run

SETUP: dict[str, Any] = json.loads((EVENTS / "config.json").read_text())
EXPECTED: dict[str, dict[str, Any]] = json.loads((EVENTS / "expected.json").read_text())
DB_PAIR = "pair-cn-demo0db01"
APP_PAIR = "pair-cn-demo0app01"

KEY_ID = "LTAI5tCliTestKeyId"
SECRET = "Cli-S3cret-Value-0a1b2c3d"
STS = "CAIS-sts-token-value-9z8y7x"
ACCOUNT = "1234567890123456"
REGION = "cn-shanghai"
FC_HOST = f"https://{ACCOUNT}.{REGION}.fc.aliyuncs.com"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy (the SDKs send even loopback requests through one), no credentials, no settings."""
    from ebs_failover.config import VARIABLES

    for name in (*CLEARED, *VARIABLES):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def demo_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings of events/config.json (dry-run unless a test sets FAILOVER_MODE)."""
    for name, value in SETUP["env"].items():
        monkeypatch.setenv(name, value)


def stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def manual(key: str | None = "ticket-7", pair: str = DB_PAIR) -> bytes:
    body: dict[str, Any] = {"action": "failover", "replicaPairId": pair, "reason": "drill"}
    if key is not None:
        body["idempotencyKey"] = key
    return json.dumps(body).encode()


# -- check ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("demo_env")
def test_check_prints_the_plan_and_a_token_per_target(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", str(EVENTS / "eventbridge-ebs-diskiohang.json"))
    assert (code, err) == (0, "")
    identity = EXPECTED["eventbridge-ebs-diskiohang.json"]["identity"]
    fields = dict(re.findall(r"^([a-z ]+):\s+(.*)$", out, re.M))
    assert fields["kind"] == "eventbridge"
    assert fields["identity"] == identity
    assert (fields["state"], fields["level"], fields["mode"]) == ("ALERT", "CRITICAL", "dry-run")
    assert fields["resource ids"] == "d-bp1demo0primary01, i-bp1demo0app01"
    assert fields["outcome"] == "dry_run"
    for pair in (DB_PAIR, APP_PAIR):
        assert re.search(rf"^  {pair} .* {client_token(identity, pair)}$", out, re.M), out


@pytest.mark.usefixtures("demo_env")
def test_check_json_matches_every_sample(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each sample's recorded trigger and outcome; one that reaches EBS is ``fail_over`` in live mode (what
    EBS then shows, a refusal for instance, only the handler's Describe can tell)."""
    monkeypatch.setenv("FAILOVER_MODE", "live")
    checked = 0
    for name, want in EXPECTED.items():
        path = EVENTS / name
        if not path.is_file():  # another change may be adding or removing samples
            continue
        code, out, _ = run(capsys, "check", "--json", str(path))
        if "batch" in want:  # each event of an event-streaming batch, decided as the handler decides it
            plans = json.loads(out)["batch"]
            assert [p["event"] for p in plans] == [f"{path}[{i}]" for i in range(len(want["batch"]))]
            for plan, one in zip(plans, want["batch"], strict=True):
                assert plan["outcome"] == ("fail_over" if one["outcome"] == "failed_over" else one["outcome"])
                assert {k: plan["trigger"][k] for k in one if k != "outcome"} == {
                    k: v for k, v in one.items() if k != "outcome"
                }
            assert code == 0
            checked += 1
            continue
        plan = json.loads(out)
        drill = want["outcome"].startswith("drill_")
        # "check": what check says where it differs (a stale trigger: refused, its targets only looked at)
        outcome = want.get("check") or (
            "drill" if drill else "fail_over" if want.get("targets") else want["outcome"]
        )
        assert plan["outcome"] == outcome, name
        assert plan["mode"] == "live"
        assert code == (1 if outcome == "rejected" else 0), name
        if "invalid" in want:  # rejected by the parser, naming the field
            assert plan["field"] == want["invalid"], name
            continue
        trigger = plan["trigger"]
        got = {k: trigger[k] for k in ("kind", "identity", "state", "level", "resource_ids")}
        assert got == {k: want[k] for k in got}, name
        token = drill_token if drill else client_token
        for target in plan["targets"]:
            assert target["client_token"] == token(want["identity"], results.target_id(target))
        assert bool(plan["targets"]) == (outcome in ("fail_over", "drill") or "check" in want), name
        checked += 1
    assert checked >= 10


@pytest.mark.usefixtures("demo_env")
def test_check_a_rejected_event_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", str(EVENTS / "invalid-manual-action.json"))
    assert code == 1
    assert "rejected" in out
    assert one_line(err).startswith("ebs-failover: event rejected: event field 'action'")


@pytest.mark.usefixtures("demo_env")
@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_check_masks_a_secret_the_event_carries_on_stdout(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    body = {
        "action": "failover",
        "replicaPairId": DB_PAIR,
        "reason": f"pasted {SECRET}",
        "idempotencyKey": "k",
    }
    stdin(monkeypatch, json.dumps(body).encode())
    code, out, err = run(capsys, "check", *(["--json"] if as_json else []), "-")
    assert code == 0, err
    assert SECRET not in out
    assert "pasted ***" in out


@pytest.mark.usefixtures("demo_env")
def test_check_reads_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    stdin(monkeypatch, manual())
    code, out, _ = run(capsys, "check", "--json", "-")
    plan = json.loads(out)
    assert (code, plan["event"], plan["outcome"]) == (0, "<stdin>", "dry_run")
    assert plan["trigger"]["identity"] == "manual:ticket-7"
    assert plan["targets"] == [
        {"pair_id": DB_PAIR, "resource_id": None, "client_token": client_token("manual:ticket-7", DB_PAIR)}
    ]


@pytest.mark.usefixtures("demo_env")
def test_check_a_manual_request_without_key_needs_the_request_id_for_its_token(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    event = tmp_path / "manual.json"
    event.write_bytes(manual(key=None))
    code, out, _ = run(capsys, "check", "--json", str(event))
    plan = json.loads(out)
    assert (code, plan["outcome"], plan["needs_request_id"]) == (0, "dry_run", True)
    assert plan["targets"][0]["client_token"] is None
    code, out, _ = run(capsys, "check", "--json", "--request-id", "req-9", str(event))
    assert json.loads(out)["targets"][0]["client_token"] == client_token("manual:req-9", DB_PAIR)


def test_check_with_a_bad_setting_is_one_line_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAILOVER_TARGETS", '{"d-x": "not-a-pair"}')
    code, out, err = run(capsys, "check", str(EVENTS / "manual-failover.json"))
    assert (code, out) == (1, "")
    assert "FAILOVER_TARGETS" in one_line(err)


def test_check_a_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "check", str(tmp_path / "nope.json"))
    assert code == 2
    assert one_line(err) == f"ebs-failover: cannot read event {tmp_path / 'nope.json'}: no such file"


# -- token ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("demo_env")
def test_token_prints_pair_and_token_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "token", str(EVENTS / "system-disk-stalled-executing.json"))
    identity = EXPECTED["system-disk-stalled-executing.json"]["identity"]
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{DB_PAIR} {client_token(identity, DB_PAIR)}",
        f"{APP_PAIR} {client_token(identity, APP_PAIR)}",
    ]


@pytest.mark.usefixtures("demo_env")
def test_token_of_a_manual_request_without_key_requires_request_id(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin(monkeypatch, manual(key=None))
    code, out, err = run(capsys, "token", "-")
    assert (code, out) == (2, "")
    line = one_line(err)
    assert "idempotencyKey" in line
    assert "--request-id" in line
    stdin(monkeypatch, manual(key=None))
    code, out, _ = run(capsys, "token", "--request-id", "1-abc", "-")
    assert (code, out) == (0, f"{DB_PAIR} {client_token('manual:1-abc', DB_PAIR)}\n")


@pytest.mark.usefixtures("demo_env")
@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("cms-callback-recovery.txt", "no ClientToken: the event is ignored"),
        ("manual-failover-not-configured.json", "no ClientToken: the event is refused"),
        ("invalid-not-json.json", "event rejected"),
    ],
)
def test_token_without_a_target_is_exit_1(capsys: pytest.CaptureFixture[str], name: str, says: str) -> None:
    code, out, err = run(capsys, "token", str(EVENTS / name))
    assert (code, out) == (1, "")
    assert says in one_line(err)


# -- invoke --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("demo_env")
def test_invoke_runs_the_handler_against_the_embedded_fake(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # events/config.json's seed is the default
    monkeypatch.setenv("FAILOVER_MODE", "live")
    code, out, err = run(capsys, "invoke", str(EVENTS / "manual-failover.json"))
    result = json.loads(out)  # stdout is only the result
    assert code == 0
    data = result["data"]
    assert data["outcome"] == "failed_over"
    assert data["targets"][0]["pair_id"] == DB_PAIR
    assert data["targets"][0]["client_token"] == client_token("manual:CHG-1234-failover", DB_PAIR)
    assert data["targets"][0]["status_before"] == "normal"
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [line["message"] for line in logged][-1] == "result"
    assert f"embedded fake EBS: {DB_PAIR} is failovered" in err


@pytest.mark.usefixtures("demo_env")
def test_invoke_is_dry_run_by_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = run(capsys, "invoke", str(EVENTS / "cms-callback-alert.txt"))
    assert code == 0
    assert json.loads(out)["data"]["outcome"] == "dry_run"
    assert f"{APP_PAIR} is normal" in err


@pytest.mark.usefixtures("demo_env")
def test_invoke_with_a_seed_file_and_no_events_dir(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FAILOVER_MODE", "live")
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SETUP["seed"]))
    event = str(EVENTS / "cms-callback-alert.txt")
    code, out, _ = run(capsys, "invoke", "--seed", str(seed), event)
    assert (code, json.loads(out)["data"]["outcome"]) == (0, "failed_over")
    # No seed at all: the fake knows no pair, EBS says so, the result is failed: exit 1.
    code, out, _ = run(capsys, "invoke", event)
    data = json.loads(out)["data"]
    assert (code, data["outcome"]) == (1, "failed")
    assert data["targets"][0]["error_code"]


@pytest.mark.usefixtures("demo_env")
def test_invoke_keeps_everything_in_process_and_restores_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("FAILOVER_MODE", "live")
    monkeypatch.setenv("EBS_ENDPOINT", "127.0.0.1:9")
    monkeypatch.setenv("NOTIFY_TARGETS", "mns:nowhere")
    code, out, _ = run(capsys, "invoke", str(EVENTS / "manual-failover.json"))
    assert (code, json.loads(out)["data"]["outcome"]) == (0, "failed_over")
    assert os.environ["EBS_ENDPOINT"] == "127.0.0.1:9"
    assert os.environ["NOTIFY_TARGETS"] == "mns:nowhere"
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" not in os.environ


@pytest.mark.usefixtures("demo_env")
def test_invoke_a_rejected_event_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "invoke", str(EVENTS / "invalid-manual-pair-id.json"))
    assert (code, json.loads(out)["data"]["outcome"]) == (1, "rejected")


@pytest.mark.usefixtures("demo_env")
def test_invoke_a_bad_seed_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text("{not json")
    code, out, err = run(capsys, "invoke", "--seed", str(seed), str(EVENTS / "manual-failover.json"))
    assert (code, out) == (1, "")
    assert one_line(err).startswith(f"ebs-failover: cannot load seed {seed}")


@pytest.mark.usefixtures("demo_env")
def test_invoke_live_needs_a_region(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAILOVER_REGION")
    code, out, err = run(capsys, "invoke", "--live", str(EVENTS / "manual-failover.json"))
    assert (code, out) == (2, "")
    assert "--region" in one_line(err)


@pytest.mark.usefixtures("demo_env")
def test_invoke_live_in_dry_run_mode_only_reads(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dry-run rehearses against the real endpoint: it Describes the pair, and never calls Failover."""
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "testing")
    fake = FakeEbs()
    fake.load_seed(SETUP["seed"])
    with MockEbs(fake):
        code, out, _ = run(capsys, "invoke", "--live", str(EVENTS / "manual-failover.json"))
    assert (code, json.loads(out)["data"]["outcome"]) == (0, "dry_run")
    assert {call.action for call in fake.calls} == {"DescribeDiskReplicaPairs"}
    assert fake.pair(DB_PAIR).status == "normal"


@pytest.mark.usefixtures("demo_env")
def test_invoke_live_calls_the_regional_endpoint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--live: the SDK's own endpoint and the environment's credentials (here, the fake behind them)."""
    monkeypatch.setenv("FAILOVER_MODE", "live")
    fake = FakeEbs()
    fake.load_seed(SETUP["seed"])
    with MockEbs(fake):
        code, out, _ = run(capsys, "invoke", "--live", str(EVENTS / "manual-failover.json"))
    assert (code, json.loads(out)["data"]["outcome"]) == (0, "failed_over")
    assert fake.pair(DB_PAIR).status == "failovered"
    assert [call.action for call in fake.calls].count("FailoverDiskReplicaPair") == 1


# -- replay --------------------------------------------------------------------------------------


def _sample_dir(tmp_path: Path, names: list[str], expected: dict[str, Any] | None = None) -> Path:
    directory = tmp_path / "events"
    directory.mkdir()
    shutil.copy(EVENTS / "config.json", directory)
    for name in names:
        shutil.copy(EVENTS / name, directory)
    if expected is not None:
        (directory / "expected.json").write_text(json.dumps(expected))
    return directory


SAMPLES = [
    "cms-alarm-json-critical.json",
    "cms-callback-recovery.txt",
    "invalid-not-json.json",
    "manual-failover.json",
]


def test_replay_prints_one_line_per_event_and_checks_expected(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    directory = _sample_dir(tmp_path, SAMPLES, {name: EXPECTED[name] for name in SAMPLES})
    code, out, err = run(capsys, "replay", str(directory))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["event", "outcome", "each", "target"]
    # The embedded fake shows a failover failovering to one look: about half a second to verify.
    rows = {
        line.split()[0]: re.sub(r"in \d+(\.\d)? s", "in N s", " ".join(line.split()[1:]))
        for line in lines[1:-1]
    }
    verified = "failed_over (verified failovered in N s)"
    assert rows == {
        "cms-alarm-json-critical.json": rows["cms-alarm-json-critical.json"],
        "cms-callback-recovery.txt": "ignored - (state OK is not an alert)",
        "invalid-not-json.json": rows["invalid-not-json.json"],
        "manual-failover.json": f"failed_over {DB_PAIR} {verified}",  # a fresh fake per event
    }
    assert rows["invalid-not-json.json"].startswith("rejected - (event: expected")
    # A disk alarm: its disk's pair fails over; the instance's other pair is not about that disk.
    assert rows["cms-alarm-json-critical.json"].startswith(
        f"failed_over {DB_PAIR} {verified}, {APP_PAIR} ignored (the trigger is about d-bp1demo0primary01"
    )
    assert lines[-1] == "4 events replayed, 4 as expected"
    assert "FAILOVER_MODE" not in os.environ  # replay's live mode did not leak


def test_replay_lists_every_mismatch_and_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = _sample_dir(tmp_path, SAMPLES)
    expect = tmp_path / "wrong.json"
    wrong = {name: dict(EXPECTED[name]) for name in SAMPLES}
    wrong["cms-callback-recovery.txt"]["outcome"] = "failed_over"
    wrong["invalid-not-json.json"]["outcome"] = "ignored"
    expect.write_text(json.dumps(wrong))
    code, out, err = run(capsys, "replay", "--expect", str(expect), str(directory))
    assert code == 1
    assert out.count("MISMATCH") == 2
    assert one_line(err) == (
        "ebs-failover: 2 of 4 events did not give the expected outcome: "
        "cms-callback-recovery.txt gave ignored, expected failed_over; "
        "invalid-not-json.json gave rejected, expected ignored"
    )


def test_replay_shared_fake_is_make_demo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = _sample_dir(tmp_path, SAMPLES)
    code, out, _ = run(capsys, "replay", "--shared-fake", str(directory))
    assert code == 0
    assert re.search(r"^manual-failover.json\s+already_failed_over\s", out, re.M), out
    assert out.splitlines()[-1] == "4 events replayed on one fake, 1 failover changed state"


def test_make_demo_replays_the_sample_events_on_one_fake(capsys: pytest.CaptureFixture[str]) -> None:
    """``make demo``: events/ on one fake, checked against expected.json's ``shared_fake`` outcomes (a later
    event finds the pairs an earlier one failed over), ``outcome`` where there is none."""
    code, out, err = run(capsys, "replay", "--shared-fake", str(EVENTS))
    assert code == 0, err
    assert "MISMATCH" not in out
    assert re.search(rf"^  {DB_PAIR}\s+failovered\s+\(cn-hangzhou -> cn-shanghai\)$", out, re.M), out
    # The embedded fake ledger, and the history of the database pair read back from it.
    assert re.search(r"^  ledger oss://\S+: \d+ records", out, re.M), out
    assert f"== ebs-failover history {DB_PAIR}" in out
    assert re.search(rf"failover {DB_PAIR} by FC request replay-\S+: RequestId \S+", out), out
    assert (
        out.splitlines()[-1]
        == f"{len(event_files(EVENTS))} events replayed on one fake, 3 failovers changed state, "
        f"{len(event_files(EVENTS))} as expected"
    )


def test_replay_the_sample_events(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "replay", str(EVENTS))
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1 + len(event_files(EVENTS)) + 1
    assert lines[-1].endswith(" as expected")


@pytest.mark.parametrize("args", [["replay", "/nonexistent-dir"], ["replay", "--expect", "/nope.json", "."]])
def test_replay_unreadable_arguments_are_usage_errors(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    code, _, err = run(capsys, *args)
    assert code == 2
    one_line(err)


# -- schema --------------------------------------------------------------------------------------


def test_schema_lists_and_prints_shapes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    names = [line.split()[0] for line in out.splitlines()]
    assert code == 0
    shapes = sorted(p.stem for p in (ROOT / "function/ebs_failover/triggers/schemas").glob("*.json"))
    assert names == [*shapes, "result"]  # the event shapes, then the result the function publishes
    code, out, _ = run(capsys, "schema", "result")
    assert (code, json.loads(out)["$id"]) == (0, "urn:ebs-failover:result:v1")
    code, out, _ = run(capsys, "schema", "manual")
    assert (code, json.loads(out)["title"]) == (0, "Manual request: a failover, or a drill")
    code, out, err = run(capsys, "schema", "nope")
    assert (code, out) == (2, "")
    assert "manual" in one_line(err)


# -- remote-invoke -------------------------------------------------------------------------------


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", STS)


def _fc_path(service: str = "ebs", function: str = "failover", qualifier: str | None = None) -> str:
    service = f"{service}.{qualifier}" if qualifier else service
    return f"/2016-08-15/services/{service}/functions/{function}/invocations"


def _expected_signature(request: Any, path: str) -> str:
    """FC's signature, recomputed from the request as sent (FC API signature spec)."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    canonical = "".join(f"{k}:{headers[k]}\n" for k in sorted(k for k in headers if k.startswith("x-fc-")))
    to_sign = "\n".join(
        [
            "POST",
            headers.get("content-md5", ""),
            headers.get("content-type", ""),
            headers["date"],
            canonical + path,
        ]
    )
    digest = hmac.new(SECRET.encode(), to_sign.encode(), hashlib.sha256).digest()
    return f"FC {KEY_ID}:{base64.b64encode(digest).decode()}"


REMOTE = [
    "remote-invoke",
    "--service",
    "ebs",
    "--function",
    "failover",
    "--region",
    REGION,
    "--account-id",
    ACCOUNT,
]


@pytest.mark.usefixtures("creds")
def test_remote_invoke_sync_prints_the_body(capsys: pytest.CaptureFixture[str]) -> None:
    event = EVENTS / "manual-failover.json"
    body = json.dumps({"data": {"outcome": "dry_run"}})
    path = _fc_path(qualifier="prod")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, FC_HOST + path, body=body, headers={"x-fc-request-id": "req-sync-1"})
        code, out, err = run(capsys, *REMOTE, "--qualifier", "prod", str(event))
        assert len(mock.calls) == 1
        request = mock.calls[0].request
    assert (code, out, err) == (0, body + "\n", "")
    assert request.url == FC_HOST + path
    assert request.body == event.read_bytes()
    assert request.headers["x-fc-invocation-type"] == "Sync"
    assert "x-fc-stateful-async-invocation-id" not in request.headers
    assert request.headers["x-fc-security-token"] == STS
    assert re.fullmatch(rf"FC {KEY_ID}:[A-Za-z0-9+/]{{43}}=", str(request.headers["authorization"]))
    assert request.headers["authorization"] == _expected_signature(request, path)
    assert SECRET not in out + err


@pytest.mark.usefixtures("creds")
def test_remote_invoke_async_sends_a_deterministic_task_id(capsys: pytest.CaptureFixture[str]) -> None:
    event = EVENTS / "cms-callback-alert.txt"
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, FC_HOST + _fc_path(), status=202, headers={"x-fc-request-id": "req-async-1"})
        first = run(capsys, *REMOTE, "--async", str(event))
        second = run(capsys, *REMOTE, "--async", str(event))
        other = run(capsys, *REMOTE, "--async", str(EVENTS / "manual-failover.json"))
        sent = [call.request for call in mock.calls]
    assert first[:2] == second[:2] == other[:2] == (0, "req-async-1\n")
    task_id = "ebsfo-" + hashlib.sha256(event.read_bytes()).hexdigest()
    assert f"task id {task_id}" in first[2]
    assert [r.headers["x-fc-invocation-type"] for r in sent] == ["Async"] * 3
    ids = [r.headers["x-fc-stateful-async-invocation-id"] for r in sent]
    assert ids[0] == ids[1] == task_id
    assert ids[2] != task_id
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,127}", task_id)
    assert sent[0].headers["authorization"] == _expected_signature(sent[0], _fc_path())


@pytest.mark.usefixtures("creds")
def test_remote_invoke_async_duplicate_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    error = {"ErrorCode": "ResourceExists", "ErrorMessage": "task already exists"}
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST, FC_HOST + _fc_path(), status=409, json=error, headers={"x-fc-request-id": "r-409"}
        )
        code, out, err = run(capsys, *REMOTE, "--async", str(EVENTS / "manual-failover.json"))
    assert (code, out) == (1, "")
    line = one_line(err)
    assert "as a duplicate" in line
    assert "--task-id" in line


@pytest.mark.usefixtures("creds")
def test_remote_invoke_a_500_is_sent_once(capsys: pytest.CaptureFixture[str]) -> None:
    """fc2 mounts urllib3 Retry(total=5, status_forcelist=(500, 502, 504)), but urllib3 retries a status
    only for idempotent methods and an invoke is a POST: FC gets exactly ONE call, then one line, exit 1.
    (responses applies the adapter's Retry the way urllib3 does; the socket test below confirms it.)"""
    error = {"ErrorCode": "InternalError", "ErrorMessage": "boom"}
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST, FC_HOST + _fc_path(), status=500, json=error, headers={"x-fc-request-id": "r-500"}
        )
        code, out, err = run(capsys, *REMOTE, "--async", str(EVENTS / "manual-failover.json"))
        assert len(mock.calls) == 1
    assert (code, out) == (1, "")
    assert (
        one_line(err)
        == "ebs-failover: FC answered 500 InternalError for ebs/failover: boom (request id r-500)"
    )


class _Counting(http.server.BaseHTTPRequestHandler):
    status = 500
    calls: list[str] = []  # noqa: RUF012 - shared with the test, reset per test

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).calls.append(self.path)
        body = json.dumps({"ErrorCode": "InternalError", "ErrorMessage": "boom"}).encode()
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.send_header("x-fc-request-id", "sock-1")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def counting_server() -> Iterator[tuple[str, type[_Counting]]]:
    _Counting.calls = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Counting
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.usefixtures("creds")
@pytest.mark.parametrize("status", [500, 502, 504])
def test_remote_invoke_fc2_does_not_retry_an_invoke_on_a_real_socket(
    capsys: pytest.CaptureFixture[str], counting_server: tuple[str, type[_Counting]], status: int
) -> None:
    """The real urllib3 under fc2: a 5xx in its status_forcelist still reaches the server once (POST)."""
    endpoint, handler = counting_server
    handler.status = status
    code, _, err = run(
        capsys, *REMOTE, "--endpoint", endpoint, "--async", str(EVENTS / "manual-failover.json")
    )
    assert handler.calls == [_fc_path()]
    assert code == 1
    assert f"FC answered {status} InternalError" in one_line(err)


@pytest.mark.usefixtures("creds")
def test_remote_invoke_a_4xx_is_one_line_without_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    error = {"ErrorCode": "AccessDenied", "ErrorMessage": "not allowed to invoke"}
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST, FC_HOST + _fc_path(), status=403, json=error, headers={"x-fc-request-id": "r-403"}
        )
        code, out, err = run(capsys, *REMOTE, str(EVENTS / "manual-failover.json"))
    assert (code, out) == (1, "")
    assert one_line(err) == (
        "ebs-failover: FC answered 403 AccessDenied for ebs/failover: not allowed to invoke "
        "(request id r-403)"
    )
    for secret in (SECRET, STS):
        assert secret not in err  # fc2 logs the request headers on the root logger: silenced


@pytest.mark.usefixtures("creds")
def test_remote_invoke_a_function_error_or_failed_result_is_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    raised = {"errorMessage": "boom", "errorType": "TransientFailure"}
    failed = json.dumps({"data": {"outcome": "failed", "reason": "EBS said no"}})
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST,
            FC_HOST + _fc_path(),
            json=raised,
            headers={"x-fc-error-type": "UnhandledInvocationError", "x-fc-request-id": "r-fn"},
        )
        mock.add(responses.POST, FC_HOST + _fc_path(), body=failed)
        code, out, err = run(capsys, *REMOTE, str(EVENTS / "manual-failover.json"))
        assert (code, out) == (1, "")
        assert (
            one_line(err)
            == "ebs-failover: the function ebs/failover raised TransientFailure: boom (request id r-fn)"
        )
        code, out, err = run(capsys, *REMOTE, str(EVENTS / "manual-failover.json"))
        assert (code, out, err) == (1, failed + "\n", "")


def test_remote_invoke_without_credentials_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *REMOTE, str(EVENTS / "manual-failover.json"))
    assert (code, out) == (2, "")
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in one_line(err)


@pytest.mark.usefixtures("creds")
def test_remote_invoke_endpoint_from_the_environment_or_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = [
        "remote-invoke",
        "--service",
        "ebs",
        "--function",
        "failover",
        str(EVENTS / "manual-failover.json"),
    ]
    code, _, err = run(capsys, *bare)
    assert code == 2
    assert "--account-id" in one_line(err)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("ALIBABA_CLOUD_REGION_ID", REGION)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, FC_HOST + _fc_path(), body="{}")
        code, out, _ = run(capsys, *bare)
    assert (code, out) == (0, "{}\n")
    code, _, err = run(capsys, *bare, "--task-id", "x")
    assert code == 2
    assert "--async" in one_line(err)


# -- main, help, exit codes ----------------------------------------------------------------------


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for verb in ("check", "token", "invoke", "replay", "remote-invoke", "fake-ebs", "schema"):
        assert verb in out
    assert "exit codes:" in out
    assert re.search(r"^  2  usage error", out, re.M)
    code, out, _ = run(capsys, "invoke", "--help")
    assert code == 0
    assert "FAILOVER_MODE=live" in " ".join(out.split())
    assert cli.__doc__ is not None
    assert "Exit codes" in cli.__doc__


@pytest.mark.parametrize(
    "argv",
    [[], ["chek"], ["check"], ["remote-invoke", "event.json"], ["invoke", "--timeout", "soon", "x"]],
)
def test_usage_errors_are_one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert "--help" in one_line(err)


def test_an_unexpected_error_is_one_line_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ebs_failover.cli import plan as _cli_plan

    def broken(args: object) -> int:
        raise RuntimeError(f"boom with {SECRET}")

    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.setattr(_cli_plan, "run_schema", broken)
    code, out, err = run(capsys, "schema")
    assert (code, out) == (1, "")
    assert one_line(err) == "ebs-failover: unexpected error: RuntimeError: boom with ***"


def _subprocess_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def test_subprocess_help_is_fast_and_imports_no_sdk() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ebs_failover.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=_subprocess_env(),
    )
    assert done.returncode == 0
    assert "exit codes:" in done.stdout
    imported = re.findall(r"\|\s+(\S+)\s*$", done.stderr, re.M)
    assert "argparse" in imported
    sdks = ("alibabacloud_ebs20210730", "alibabacloud_fc20230330", "fc2", "structlog", "requests")
    for forbidden in (*sdks, "fastjsonschema"):
        assert forbidden not in imported, forbidden
    assert not [m for m in imported if m.startswith(("alibabacloud", "Tea", "darabonba", "responses"))]


def test_subprocess_check_exit_codes_and_no_sdk(tmp_path: Path) -> None:
    env = {**_subprocess_env(), **SETUP["env"]}
    probe = (
        "import sys; from ebs_failover.cli import main; code = main(sys.argv[1:]); "
        # No cloud SDK: check runs the handler's own pure decision (parse, gate, decide), whose module
        # also holds the logger (structlog), but never acts.
        "sdks = ('alibabacloud_ebs20210730', 'fc2', 'mns', 'requests', 'tenacity'); "
        "loaded = [m for m in sdks if m in sys.modules]; "
        "print('LOADED', loaded, file=sys.stderr); sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "check", str(EVENTS / "eventbridge-ecs-disk-stalled.json")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stderr
    assert "outcome:      dry_run" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "ebs_failover.cli", "check", str(EVENTS / "invalid-not-json.json")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("ebs-failover: event rejected:")
    assert "Traceback" not in bad.stderr
    usage = subprocess.run(
        [sys.executable, "-m", "ebs_failover.cli", "token", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )
    assert usage.returncode == 0
    assert "--request-id" in usage.stdout


@pytest.mark.usefixtures("demo_env")
def test_check_and_token_decide_an_eventbridge_batch_as_the_handler_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An event-streaming array: each event decided on its own (the handler's batch path), not rejected."""
    event = json.loads((EVENTS / "eventbridge-ebs-diskiohang.json").read_text())
    ended = json.loads(json.dumps(event))
    ended["id"], ended["data"]["endTime"] = "iohang-over", 1726121580000
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps([event, ended]))
    code, out, err = run(capsys, "check", "--json", str(batch))
    assert (code, err) == (0, "")
    plans = json.loads(out)["batch"]
    assert [p["outcome"] for p in plans] == ["dry_run", "ignored"]
    assert "endTime" in plans[1]["reason"]
    code, out, err = run(capsys, "token", str(batch))
    identity = EXPECTED["eventbridge-ebs-diskiohang.json"]["identity"]
    assert (code, err) == (0, "")
    assert out.splitlines() == [f"{pair} {client_token(identity, pair)}" for pair in (DB_PAIR, APP_PAIR)]
    batch.write_text(json.dumps([event, {"specversion": "1.0", "action": "failover"}]))
    code, out, err = run(capsys, "check", str(batch))
    assert code == 1
    assert "batch.json[1] rejected" in err
