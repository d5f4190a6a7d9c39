"""What a new user meets first with the command (issue 17's papercuts), each once broken.

``invoke`` takes the settings that go with its seed; ``check /dev/zero`` ends; ``replay --shared-fake`` (which
is ``make demo``) is checked against expectations of its own; ``fake-ebs serve --seed`` takes the config
file and refuses what it cannot seed; a negative timeout is a usage error; a result read in dry-run mode
says so even when the settings could not be read.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from ebs_failover import cli, handler

from .helpers import EVENTS, ROOT, one_line, run

DB_PAIR = "pair-cn-demo0db01"
APP_PAIR = "pair-cn-demo0app01"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No settings, no proxies, no credentials: a new user's shell."""
    from ebs_failover.config import VARIABLES

    for name in (*VARIABLES, "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)


# -- invoke: the seed's settings ------------------------------------------------------------------


def test_first_invoke_in_a_fresh_shell_uses_the_settings_of_events_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """It once seeded the fake from events/config.json but left FAILOVER_TARGETS unset: "nothing mapped"."""
    monkeypatch.chdir(ROOT)
    code, out, err = run(capsys, "invoke", str(EVENTS / "cms-callback-alert.txt"))
    data = json.loads(out)["data"]
    assert (code, data["outcome"]) == (0, "dry_run")
    assert [t["pair_id"] for t in data["targets"]] == [APP_PAIR]
    assert "settings from events/config.json" in err
    assert "FAILOVER_TARGETS" in err
    assert "FAILOVER_MODE" not in os.environ  # and nothing leaks into the shell's environment
    assert "FAILOVER_TARGETS" not in os.environ


def test_the_environment_wins_over_the_config_settings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("FAILOVER_TARGETS", "{}")
    code, out, err = run(capsys, "invoke", str(EVENTS / "cms-callback-alert.txt"))
    data = json.loads(out)["data"]
    assert (code, data["outcome"]) == (0, "ignored")
    assert "nothing mapped" in data["reason"]
    assert "FAILOVER_TARGETS" not in err.split("settings from", 1)[-1].splitlines()[0]


def test_a_plain_seed_file_brings_no_settings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Only a config file (``env`` beside ``seed``) carries settings; a bare seed is just pairs."""
    monkeypatch.chdir(tmp_path)
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(json.loads((EVENTS / "config.json").read_text())["seed"]))
    code, out, err = run(capsys, "invoke", "--seed", str(seed), str(EVENTS / "cms-callback-alert.txt"))
    assert (code, json.loads(out)["data"]["outcome"]) == (0, "ignored")
    assert "settings from" not in err


# -- check: a bounded read ------------------------------------------------------------------------


def _limited(megabytes: int) -> None:  # pragma: no cover - runs in the child before exec
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_check_dev_zero_ends_at_once_with_a_rejection() -> None:
    """It once read /dev/zero until MemoryError (1.9 GB here). Now at most the limit plus one byte is read,
    so under a 1 GiB address-space limit it still ends: rejected for its size, one line."""
    done = subprocess.run(
        [sys.executable, "-m", "ebs_failover.cli", "check", "/dev/zero"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=lambda: _limited(1024),
        env={**os.environ, "PYTHONPATH": str(ROOT / "function")},
    )
    assert done.returncode == 1, done.stderr
    assert "longer than 262144 bytes" in done.stderr
    assert "event rejected" in done.stderr
    assert "MemoryError" not in done.stderr
    assert "Traceback" not in done.stderr


def test_a_short_event_is_read_whole(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_bytes(b'{"action":"failover","replicaPairId":"pair-cn-x","reason":"r"}' + b" " * 262_000)
    code, _, err = run(capsys, "check", str(event))
    assert code == 0, err
    assert "longer than" not in err


# -- replay --shared-fake is make demo, and is checked ---------------------------------------------


def test_replay_shared_fake_reports_a_shared_outcome_that_differs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "events"
    shutil.copytree(EVENTS, folder)
    expected = json.loads((folder / "expected.json").read_text())
    assert expected["manual-failover.json"]["shared_fake"] == "already_failed_over"
    expected["manual-failover.json"]["shared_fake"] = "failed_over"
    (folder / "expected.json").write_text(json.dumps(expected))
    code, _, err = run(capsys, "replay", str(folder), "--shared-fake")
    assert code == 1
    assert "manual-failover.json gave already_failed_over, expected failed_over" in err
    # A fresh fake per event still reads "outcome", not "shared_fake".
    code, _, err = run(capsys, "replay", str(folder))
    assert code == 0, err


# -- fake-ebs serve --seed ------------------------------------------------------------------------


def _serve(seed: Path) -> tuple[int | None, str, str]:
    """Start ``fake-ebs serve --seed``; its first output line (or its exit and error), then stop it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ebs_failover.cli", "fake-ebs", "serve", "--seed", str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "function")},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        code: int | None = None
        if first:  # serving: stop it
            process.terminate()
        else:  # it ended before its first line
            code = process.wait(timeout=30)
        _, err = process.communicate(timeout=30)
        return code, first, err
    finally:
        if process.poll() is None:
            process.kill()


def test_fake_ebs_serve_takes_the_config_file_like_invoke() -> None:
    """It once loaded events/config.json as a seed and seeded nothing, saying nothing wrong."""
    _, first, _ = _serve(EVENTS / "config.json")
    assert first.startswith("seeded pairs: ")
    assert DB_PAIR in first
    assert "groups: pg-demo0orders" in first


def test_fake_ebs_serve_refuses_a_seed_it_cannot_use(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text('{"foo": 1}')
    code, first, err = _serve(seed)
    assert first == ""
    assert code == 1
    assert one_line(err).startswith("ebs-failover: cannot load seed")
    assert "unknown key 'foo'" in err


# -- numbers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["invoke", "--timeout", "-5", "event.json"],
        ["invoke", "--timeout", "0", "event.json"],
        ["remote-invoke", "--function", "f", "--timeout", "-5", "event.json"],
        ["fake-ebs", "serve", "--port", "70000"],
    ],
)
def test_a_number_out_of_range_is_a_usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code = cli.main(argv)
    _, err = capsys.readouterr()
    assert code == 2
    line = one_line(err)
    assert line.startswith("ebs-failover: ")
    assert "expected" in line


# -- dry_run in the result -------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "dry_run"), [(None, True), ("dry-run", True), ("live", False)])
def test_a_configuration_error_still_says_the_mode(
    monkeypatch: pytest.MonkeyPatch, mode: str | None, dry_run: bool
) -> None:
    """It once said ``"dry_run": false`` whenever the settings could not be read, in dry-run mode too."""
    if mode is not None:
        monkeypatch.setenv("FAILOVER_MODE", mode)
    monkeypatch.setenv("FAILOVER_TARGETS", "not json")
    context = SimpleNamespace(
        request_id="first-use-1", region="cn-shanghai", account_id="1", credentials=None
    )
    data = handler.invoke(b'{"action":"failover","replicaPairId":"pair-cn-x","reason":"r"}', context).result[
        "data"
    ]
    assert data["outcome"] == "failed"
    assert data["error"]["code"] == "ConfigError"
    assert data["dry_run"] is dry_run
