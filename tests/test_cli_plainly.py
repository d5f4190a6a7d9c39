"""The command's first use, said plainly (issue "the CLI's first use"), each once broken.

Credentials missing or refused are one line and exit 2 for every verb that calls the cloud (never an
SDK traceback); ``check`` and ``invoke`` read the same settings (``--config FILE``, the environment
winning) and ``check`` names outcomes in the words of the result's; a drill's clean-up command is never
cut; a variable of the function's families that it does not read is warned about, with the nearest name it
does; an endpoint is a host or a URL; ``--version``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from ebs_failover import cli, config
from ebs_failover.errors import ConfigError
from ebs_failover.testing import FakeEbs, FakeEbsServer, FakeFcServer, FakeOss, FakeOssServer

from .helpers import CLEARED, EVENTS, ROOT, one_line, run

SETUP: dict[str, Any] = json.loads((EVENTS / "config.json").read_text())
DB_PAIR, GROUP = "pair-cn-demo0db01", "pg-demo0orders"
REGION = "cn-shanghai"
WRONG = "Wrong-Secret-Value-4e5f6a"
MANUAL = EVENTS / "manual-failover.json"
BUCKET = "plain-ledger"
#: The prefixes of the function's own variables (config.FAMILIES).
FAMILIES = ("FAILOVER_", "NOTIFY_", "LEDGER", "OSS_", "EBS_", "MNS_", "EVENTBRIDGE_", "CALLBACK_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A new user's shell, in a folder of its own (no events/config.json): no settings, no variable of the
    function's families, no proxies, no credentials."""
    for name in (*CLEARED, *config.VARIABLES, "DEBUG"):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.upper().startswith(FAMILIES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def no_chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing for the SDK's default credential chain to find either: no profile file in HOME, no CLI
    profile, no OIDC, not on ECS. (The chain reads its variables once, when it is imported, so a shell
    without them is set here on the module.)"""
    from alibabacloud_credentials.utils import auth_util

    for name in (
        "environment_access_key_id",
        "environment_access_key_secret",
        "environment_security_token",
        "environment_credentials_uri",
        "environment_oidc_token_file",
        "environment_role_arn",
        "environment_oidc_provider_arn",
        "environment_ecs_metadata",
    ):
        monkeypatch.setattr(auth_util, name, None)
    monkeypatch.setattr(auth_util, "enable_oidc_credential", False)
    monkeypatch.setattr(auth_util, "environment_credentials_file", str(tmp_path / "no-credentials.ini"))
    monkeypatch.setattr(auth_util, "environment_cli_profile_disabled", "true")
    monkeypatch.setattr(auth_util, "environment_ecs_metadata_disabled", "true")
    monkeypatch.setenv("HOME", str(tmp_path))


def demo_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SETUP["env"].items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEbsServer]:
    """The fake EBS on a socket, seeded with the demo's pairs, named by EBS_ENDPOINT / EBS_PROTOCOL; the
    demo's settings; the fake's own credentials (testing/testing)."""
    fake = FakeEbs(seed=3)
    fake.load_seed(SETUP["seed"])
    with FakeEbsServer(fake) as server:
        demo_settings(monkeypatch)
        monkeypatch.setenv("EBS_ENDPOINT", server.endpoint)
        monkeypatch.setenv("EBS_PROTOCOL", "http")
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "testing")
        yield server


def fd_run(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The command, with what reaches the process's file descriptors too (an SDK's own stderr handler)."""
    code = cli.main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


# -- 1. credentials missing or refused: one line, exit 2 -------------------------------------------

CLOUD_VERBS = {
    "drills": ["drills", DB_PAIR, "--region", REGION],
    "invoke --live": ["invoke", "--live", "--region", REGION, str(MANUAL)],
    "drill --live": ["drill", "--live", "--region", REGION, DB_PAIR],
    "remote-invoke": ["remote-invoke", "--function", "f", "--endpoint", "http://127.0.0.1:9", str(MANUAL)],
    "history": ["history"],
    "incident": ["incident", "cms:x"],
}


@pytest.mark.usefixtures("no_chain")
@pytest.mark.parametrize("verb", list(CLOUD_VERBS))
def test_no_credentials_is_one_line_exit_2(
    verb: str, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """drills and invoke --live once printed 18 to 46 lines of the credentials chain's tracebacks."""
    demo_settings(monkeypatch)
    monkeypatch.setenv("LEDGER", f"oss://{BUCKET}")
    monkeypatch.setenv("LEDGER_REGION", REGION)
    code, out, err = fd_run(capfd, *CLOUD_VERBS[verb])
    assert (code, out) == (2, ""), err
    line = one_line(err)
    assert "needs credentials" in line
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in line


@pytest.mark.usefixtures("no_chain")
def test_a_key_without_its_secret_says_which_is_missing(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-key-only")
    code, _, err = fd_run(capfd, *CLOUD_VERBS["drills"])
    assert code == 2
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is not" in one_line(err)


@pytest.mark.parametrize("verb", ["drills", "invoke --live", "drill --live"])
@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [("testing", WRONG, "SignatureDoesNotMatch"), ("LTAI-unknown-key", WRONG, "InvalidAccessKeyId.NotFound")],
)
def test_refused_credentials_against_the_served_fake_are_one_line_exit_2(
    verb: str,
    key: str,
    secret: str,
    code: str,
    served: FakeEbsServer,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAILOVER_MODE", "live")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", key)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
    exit_code, out, err = fd_run(capfd, *CLOUD_VERBS[verb])
    assert (exit_code, out) == (2, ""), err
    line = one_line(err)
    assert code in line
    assert "the credentials were refused" in line
    assert WRONG not in out + err
    assert served.fake.pair(DB_PAIR).status == "normal"  # nothing ran past the refusal
    assert not [c for c in served.fake.calls if c.action.startswith(("Failover", "Start"))]


def test_invoke_live_with_good_credentials_runs_after_the_check(
    served: FakeEbsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAILOVER_MODE", "live")
    code, out, _ = run(capsys, *CLOUD_VERBS["invoke --live"])
    assert (code, json.loads(out)["data"]["outcome"]) == (0, "failed_over")
    assert served.fake.pair(DB_PAIR).status in ("failovering", "failovered")


def test_remote_invoke_refused_credentials_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tPlainKey")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", WRONG)
    with FakeFcServer() as fc:
        fc.register_credential("LTAI5tPlainKey", "the-right-secret")
        fc.add_function("f")
        argv = ["remote-invoke", "--function", "f", "--endpoint", fc.endpoint, str(MANUAL)]
        code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    line = one_line(err)
    assert "SignatureDoesNotMatch" in line
    assert "the credentials were refused" in line
    assert WRONG not in err


@pytest.mark.parametrize("verb", [["history"], ["incident", "cms:x"]])
def test_the_ledger_refusing_the_credentials_is_exit_2(
    verb: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOssServer(FakeOss(buckets=[BUCKET])) as oss:
        monkeypatch.setenv("LEDGER", f"oss://{BUCKET}")
        monkeypatch.setenv("LEDGER_REGION", REGION)
        monkeypatch.setenv("OSS_ENDPOINT", oss.endpoint)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", WRONG)
        code, out, err = run(capsys, *verb)
    assert (code, out) == (2, "")
    line = one_line(err)
    assert "403 SignatureDoesNotMatch" in line
    assert "the credentials were refused" in line
    assert WRONG not in err


# -- 2. check and invoke read the same settings; check says outcomes as the results do ---------------


def _config_file(tmp_path: Path, **extra: str) -> Path:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"env": {**SETUP["env"], **extra}, "seed": SETUP["seed"]}))
    return path


def test_check_and_invoke_read_the_same_config_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """check once read the environment only, while invoke read events/config.json: two answers."""
    settings = str(_config_file(tmp_path))
    code, out, err = run(capsys, "check", "--json", "--config", settings, str(MANUAL))
    plan = json.loads(out)
    assert (code, plan["outcome"]) == (0, "dry_run"), err
    assert f"settings from {settings} (the environment's own win): " in err
    code, out, err = run(capsys, "invoke", "--config", settings, str(MANUAL))
    data = json.loads(out)["data"]
    assert (code, data["outcome"]) == (0, "dry_run"), err
    assert [(t["pair_id"], t["client_token"]) for t in data["targets"]] == [
        (t["pair_id"], t["client_token"]) for t in plan["targets"]
    ]
    code, out, _ = run(capsys, "token", "--config", settings, str(MANUAL))
    assert out == f"{DB_PAIR} {plan['targets'][0]['client_token']}\n"


def test_the_environment_wins_over_the_config_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = str(_config_file(tmp_path))
    monkeypatch.setenv("FAILOVER_TARGETS", "{}")
    code, out, err = run(capsys, "check", "--json", "--config", settings, str(MANUAL))
    assert (code, json.loads(out)["outcome"]) == (0, "refused")
    assert "FAILOVER_TARGETS" not in err
    code, out, _ = run(capsys, "invoke", "--config", settings, str(MANUAL))
    assert (code, json.loads(out)["data"]["outcome"]) == (0, "refused")


def test_check_reads_events_config_by_default_as_invoke_does(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = run(capsys, "check", "--json", str(MANUAL))
    assert (code, json.loads(out)["outcome"]) == (0, "dry_run")
    assert "settings from events/config.json" in err


def test_a_bad_value_from_the_config_file_names_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    settings = str(_config_file(tmp_path, FAILOVER_MODE="sometimes"))
    code, out, err = run(capsys, "check", "--config", settings, str(MANUAL))
    assert (code, out) == (1, "")
    assert one_line(err).endswith(f"got 'sometimes' (from {settings})")
    code, _, err = run(capsys, "check", "--config", str(tmp_path / "none.json"), str(MANUAL))
    assert code == 2
    assert one_line(err) == f"ebs-failover: cannot read config {tmp_path / 'none.json'}: no such file"


def test_invoke_live_takes_the_named_config_file_with_its_endpoint_as_a_url(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--live reads a config file named with --config (never the demo's events/config.json by default)."""
    fake = FakeEbs(seed=4)
    fake.load_seed(SETUP["seed"])
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "testing")
    with FakeEbsServer(fake) as server:
        settings = str(_config_file(tmp_path, EBS_ENDPOINT=f"http://{server.endpoint}"))
        code, out, err = run(capsys, "invoke", "--live", "--config", settings, str(MANUAL))
    assert (code, json.loads(out)["data"]["outcome"]) == (0, "dry_run"), err
    assert [c.action for c in fake.calls if c.action.startswith("Describe")]


@pytest.mark.parametrize(
    ("mode", "event", "printed", "as_json"),
    [
        ("live", MANUAL, "would fail over (live): failed_over if EBS accepts the Failover", "fail_over"),
        ("dry-run", MANUAL, "dry_run", "dry_run"),
        ("live", EVENTS / "manual-drill-pair.json", "would drill: drill_passed", "drill"),
    ],
)
def test_check_prints_the_outcome_in_the_words_of_the_results(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    event: Path,
    printed: str,
    as_json: str,
) -> None:
    """check once printed ``fail_over``, an outcome no result carries (the table says ``failed_over``)."""
    if not event.is_file():
        pytest.skip(f"no sample {event.name}")
    demo_settings(monkeypatch)
    monkeypatch.setenv("FAILOVER_MODE", mode)
    code, out, _ = run(capsys, "check", str(event))
    shown = dict(re.findall(r"^([a-z ]+):\s+(.*)$", out, re.M))["outcome"]
    assert code == 0
    assert shown.startswith(printed)
    assert not re.search(r"\bfail_over\b", out)
    code, out, _ = run(capsys, "check", "--json", str(event))
    assert json.loads(out)["outcome"] == as_json  # --json keeps check's own words


# -- 3. a command a person must copy is never cut ---------------------------------------------------


@pytest.mark.parametrize(
    ("target", "action", "field"),
    [(DB_PAIR, "ClearPairDrill", "PairId"), (GROUP, "ClearReplicaGroupDrill", "GroupId")],
)
def test_a_failed_clean_up_shows_its_command_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, target: str, action: str, field: str
) -> None:
    """The report once read ``… --DrillId drill-ayn1b7o259...``: the hint, shortened to fit a chat message,
    cut the command in the middle."""
    monkeypatch.chdir(ROOT)
    code, out, _ = run(capsys, "drill", target, "--fake-fault", "clear_failed", "--json")
    assert code == 1
    report = json.loads(out)["data"]["targets"][0]["drill"]
    drill_id = report["drill_id"]
    command = f"aliyun ebs {action} --RegionId {REGION} --{field} {target} --DrillId {drill_id}"
    assert report["clear_command"] == command
    code, out, _ = run(capsys, "drill", target, "--fake-fault", "clear_failed")
    assert code == 1
    drill_id = re.findall(r"drill `([^`]+)`", out)[0]
    command = f"aliyun ebs {action} --RegionId {REGION} --{field} {target} --DrillId {drill_id}"
    hint = next(line for line in out.splitlines() if "hint:" in line)
    assert f"{command} " in hint  # whole in the message people read, even as a robot shortens it
    assert f"  {command}" in out.splitlines()  # and on a line of its own, to copy
    for found in re.findall(r"--DrillId ([^\s`]+)", out):  # a robot shows it in a code span
        assert found == drill_id


def test_a_passed_drill_has_no_clean_up_to_show(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = run(capsys, "drill", DB_PAIR)
    assert code == 0
    assert "aliyun ebs" not in out
    code, out, _ = run(capsys, "drill", DB_PAIR, "--keep")
    assert code == 0
    assert re.search(r"^  aliyun ebs ClearPairDrill .* --DrillId \S+$", out, re.M)


# -- 4. unknown variables of the function's families: warned, with the nearest name -----------------


def test_an_unknown_variable_is_warned_with_the_nearest_known_name() -> None:
    warnings = config.load({"FAILOVER_MAX_DATALOSS": "60"}).warnings
    assert warnings == ("unknown variable FAILOVER_MAX_DATALOSS: did you mean FAILOVER_MAX_DATA_LOSS?",)
    environ = {
        "NOTIFY_TARGETS": "webhook:audit,mns:results",
        "NOTIFY_AUDIT_URL": "http://127.0.0.1:9/hook",
        "NOTIFY_AUDT_SECRET": "s",
        "NOTIFY_SMS_URL": "http://127.0.0.1:9/sms",
        "LEDGER_BUCKET": "b",
        "OSS_BUCKET": "b",
        "EBS_ENDPOINTS": "x",
        "failover_mode": "live",
        "PATH_UNRELATED": "x",
    }
    assert config.load(environ).warnings == (
        "unknown variable EBS_ENDPOINTS: did you mean EBS_ENDPOINT?",
        "unknown variable LEDGER_BUCKET: the function reads no such variable",
        "unknown variable NOTIFY_AUDT_SECRET: did you mean NOTIFY_AUDIT_SECRET?",
        "unknown variable NOTIFY_SMS_URL: NOTIFY_TARGETS names no robot or webhook channel that reads it",
        "unknown variable OSS_BUCKET: the function reads no such variable",
        "unknown variable failover_mode: did you mean FAILOVER_MODE? (names are case-sensitive)",
    )


def test_the_settings_read_unknown_names_and_follow_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """config.current() once passed load() only the names it knew: a typo never reached it."""
    monkeypatch.setenv("FAILOVER_MAX_DATALOSS", "60")
    assert any("FAILOVER_MAX_DATA_LOSS?" in w for w in config.current().warnings)
    monkeypatch.setenv("FAILOVER_MAX_DATALOSS", "61")  # a new value: read anew (the cache is keyed on it)
    assert any("FAILOVER_MAX_DATA_LOSS?" in w for w in config.current().warnings)
    monkeypatch.delenv("FAILOVER_MAX_DATALOSS")
    assert config.current().warnings == ()


def test_check_prints_the_warnings_and_keeps_its_exit_code(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_settings(monkeypatch)
    monkeypatch.setenv("FAILOVER_MAX_DATALOSS", "60")
    code, out, err = run(capsys, "check", str(MANUAL))
    assert code == 0
    assert "outcome:" in out
    warning = "unknown variable FAILOVER_MAX_DATALOSS: did you mean FAILOVER_MAX_DATA_LOSS?"
    assert err == f"ebs-failover: warning: {warning}\n"


def test_the_function_logs_the_warning(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("FAILOVER_MAX_DATALOSS", "60")
    code, _, err = run(capsys, "invoke", str(MANUAL))
    assert code == 0
    assert "setting_warning" in err
    assert "did you mean FAILOVER_MAX_DATA_LOSS?" in err


# -- 5. an endpoint is a host or a URL -------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "endpoint", "protocol"),
    [
        ({"EBS_ENDPOINT": "https://ebs.cn-shanghai.aliyuncs.com"}, "ebs.cn-shanghai.aliyuncs.com", "https"),
        ({"EBS_ENDPOINT": "http://127.0.0.1:8080/"}, "127.0.0.1:8080", "http"),
        ({"EBS_ENDPOINT": "127.0.0.1:8080", "EBS_PROTOCOL": "http"}, "127.0.0.1:8080", "http"),
        (
            {"EBS_ENDPOINT": "HTTPS://ebs-vpc.cn-shanghai.aliyuncs.com", "EBS_PROTOCOL": "https"},
            "ebs-vpc.cn-shanghai.aliyuncs.com",
            "https",
        ),
        ({"EBS_ENDPOINT": "ebs.cn-shanghai.aliyuncs.com"}, "ebs.cn-shanghai.aliyuncs.com", "https"),
    ],
)
def test_ebs_endpoint_takes_a_host_or_a_url(environ: dict[str, str], endpoint: str, protocol: str) -> None:
    settings = config.load(environ)
    assert (settings.ebs_endpoint, settings.ebs_protocol) == (endpoint, protocol)


def test_a_url_and_a_protocol_that_disagree_are_named_both() -> None:
    with pytest.raises(ConfigError) as raised:
        config.load({"EBS_ENDPOINT": "https://ebs.cn-shanghai.aliyuncs.com", "EBS_PROTOCOL": "http"})
    assert raised.value.variable == "EBS_PROTOCOL"
    assert "EBS_ENDPOINT" in str(raised.value)
    assert "https" in str(raised.value)


@pytest.mark.parametrize("name", ["EBS_ENDPOINT", "MNS_ENDPOINT", "EVENTBRIDGE_ENDPOINT", "OSS_ENDPOINT"])
@pytest.mark.parametrize(
    "value",
    [
        "https://ebs.cn-shanghai.aliyuncs.com/api",
        "host.example.com/path",
        "ftp://host",
        "https://u:p@host",
        "https://host:port",
        "https://host?x=1",
    ],
)
def test_an_endpoint_with_a_path_or_another_scheme_is_a_config_error(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config.load({name: value, "LEDGER": f"oss://{BUCKET}"})
    assert raised.value.variable == name


@pytest.mark.parametrize("name", ["MNS_ENDPOINT", "EVENTBRIDGE_ENDPOINT", "OSS_ENDPOINT"])
def test_the_other_endpoints_keep_a_url_or_a_host(name: str) -> None:
    def endpoint(value: str) -> str | None:
        settings = config.load({name: value, "LEDGER": f"oss://{BUCKET}"})
        if name == "OSS_ENDPOINT":
            assert settings.ledger is not None
            return settings.ledger.endpoint
        return settings.mns_endpoint if name == "MNS_ENDPOINT" else settings.eventbridge_endpoint

    assert endpoint("http://127.0.0.1:9000/") == "http://127.0.0.1:9000"
    assert endpoint(" host.example.com ") == "host.example.com"


def test_drills_reaches_the_served_fake_given_as_a_url(
    served: FakeEbsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An endpoint given as a URL was once taken as a host: every call failed."""
    monkeypatch.setenv("EBS_ENDPOINT", f"http://{served.endpoint}")
    monkeypatch.delenv("EBS_PROTOCOL")
    code, out, err = run(capsys, "drills", DB_PAIR, "--region", REGION)
    assert (code, err) == (0, "")
    assert f"(no drill of {DB_PAIR} in {REGION})" in out
    assert [c.action for c in served.fake.calls] == ["DescribePairDrills"]


def test_check_says_a_bad_endpoint_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EBS_ENDPOINT", "https://ebs.cn-shanghai.aliyuncs.com/v1")
    code, out, err = run(capsys, "check", str(MANUAL))
    assert (code, out) == (1, "")
    assert one_line(err).startswith("ebs-failover: bad configuration: environment variable EBS_ENDPOINT:")


# -- 6. --version ----------------------------------------------------------------------------------


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--version")
    assert (code, out, err) == (0, f"ebs-failover {metadata.version('ebs-failover')}\n", "")


def test_version_in_a_subprocess_imports_no_sdk() -> None:
    probe = (
        "import sys; from ebs_failover.cli import main; code = main(['--version']); "
        "print([m for m in sys.modules if m.startswith(('alibabacloud', 'structlog'))], file=sys.stderr); "
        "sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT / "function")},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ebs-failover ")
    assert done.stderr.strip() == "[]"
