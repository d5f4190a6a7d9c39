"""``ebs-failover remote-invoke`` against the fake FC API (``ebs_failover.testing.FakeFcServer``).

Without ``--service`` the CLI speaks FC 3.0 (``alibabacloud_fc20230330``, ACS3-signed) to the function
template.yml deploys; with ``--service``, FC 2.0 (``fc2``). The fake verifies each API's signature, so a
request the real SDKs would not send is refused, not answered. tests/test_cli.py keeps fc2's own
(``responses``-based) tests: its signature, its retries, its error lines.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ebs_failover.testing import FakeEbs, FakeFcServer, FcContext, FcInvocation, MockEbs

from .helpers import CLEARED, EVENTS, one_line, run

SETUP: dict[str, Any] = json.loads((EVENTS / "config.json").read_text())
EVENT = EVENTS / "manual-failover.json"
FUNCTION = "ebs-failover"

KEY_ID = "LTAI5tRemoteTestKeyId"
SECRET = "Remote-S3cret-Value-9f8e7d6c"
STS = "CAIS-remote-sts-token-1a2b3c"

#: CLEARED, and DEBUG (the 3.0 SDK's HTTP layer logs every request's headers under DEBUG=sdk).
_CLEARED = (*CLEARED, "DEBUG")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy (darabonba sends even loopback requests through one), the test's STS credentials."""
    from ebs_failover.config import VARIABLES

    for name in (*_CLEARED, *VARIABLES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", STS)


@pytest.fixture
def fc() -> Iterator[FakeFcServer]:
    with FakeFcServer() as server:
        server.register_credential(KEY_ID, SECRET, security_token=STS)
        yield server


def remote(fc: FakeFcServer, *argv: str) -> list[str]:
    return ["remote-invoke", "--function", FUNCTION, "--endpoint", fc.endpoint, *argv]


#: The deployed function's log (FC collects its stdout; here, not the CLI's stdout).
FUNCTION_LOG = io.StringIO()


def _real_handler(call: FcInvocation) -> dict[str, Any]:
    """What FC would run: the package's handler, here against the fake EBS the test mounts."""
    from ebs_failover import log
    from ebs_failover.handler import invoke

    log.configure(stream=FUNCTION_LOG)
    try:
        result: dict[str, Any] = invoke(call.payload, FcContext(request_id=call.request_id)).result
    finally:
        log.configure(stream=None)
    return result


# -- FC 3.0: the function template.yml deploys -----------------------------------------------------


def test_sync_runs_the_deployed_handler_and_prints_its_result(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fc: FakeFcServer
) -> None:
    for name, value in SETUP["env"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FAILOVER_MODE", "live")
    fc.add_function(FUNCTION, _real_handler)
    ebs = FakeEbs(seed=1)
    ebs.load_seed(SETUP["seed"])
    # The handler's EBS calls reach the fake (with its FcContext's credentials); loopback (the CLI to FC)
    # passes through, signed with the environment's credentials (set_env=False leaves them).
    with MockEbs(ebs, set_env=False):
        code, out, _ = run(capsys, *remote(fc, str(EVENT)))
    assert code == 0
    result = json.loads(out)  # stdout is the function's response body, nothing else
    assert result["data"]["outcome"] == "failed_over"
    assert result["data"]["targets"][0]["pair_id"] == "pair-cn-demo0db01"
    [call] = fc.calls
    assert (call.api, call.function, call.service, call.status) == ("3.0", FUNCTION, None, 200)
    assert call.path == f"/2023-03-30/functions/{FUNCTION}/invocations"
    assert (call.invocation_type, call.task_id, call.access_key_id) == ("Sync", None, KEY_ID)
    assert fc.invocations[0].payload == EVENT.read_bytes()


def test_sync_exit_1_when_the_result_failed(capsys: pytest.CaptureFixture[str], fc: FakeFcServer) -> None:
    failed = {"data": {"outcome": "failed", "reason": "EBS said no"}}
    fc.add_function(FUNCTION, result=failed)
    code, out, err = run(capsys, *remote(fc, str(EVENT)))
    assert (code, json.loads(out), err) == (1, failed, "")


def test_qualifier_is_passed_and_an_unknown_one_is_one_line(
    capsys: pytest.CaptureFixture[str], fc: FakeFcServer
) -> None:
    fc.add_function(FUNCTION, result={"data": {"outcome": "dry_run"}}, qualifiers=("LATEST", "prod"))
    code, out, _ = run(capsys, *remote(fc, "--qualifier", "prod", str(EVENT)))
    assert (code, json.loads(out)) == (0, {"data": {"outcome": "dry_run"}})
    assert fc.calls[-1].path == f"/2023-03-30/functions/{FUNCTION}/invocations?qualifier=prod"
    assert fc.invocations[-1].qualifier == "prod"
    code, out, err = run(capsys, *remote(fc, "--qualifier", "canary", str(EVENT)))
    assert (code, out) == (1, "")
    line = one_line(err)
    assert f"FC answered 404 AliasNotFound for {FUNCTION}:canary" in line
    assert fc.calls[-1].request_id in line


def test_async_prints_the_request_id_and_sends_a_deterministic_task_id(
    capsys: pytest.CaptureFixture[str], fc: FakeFcServer
) -> None:
    fc.add_function(FUNCTION)
    code, out, err = run(capsys, *remote(fc, "--async", str(EVENT)))
    task_id = "ebsfo-" + hashlib.sha256(EVENT.read_bytes()).hexdigest()
    assert code == 0
    assert out == fc.calls[-1].request_id + "\n"
    assert err == f"submitted {FUNCTION} asynchronously, task id {task_id}\n"
    assert (fc.calls[-1].status, fc.calls[-1].invocation_type, fc.calls[-1].task_id) == (
        202,
        "Async",
        task_id,
    )
    assert list(fc.tasks) == [(FUNCTION, task_id)]
    assert fc.tasks[(FUNCTION, task_id)].payload == EVENT.read_bytes()


def test_async_duplicate_is_one_line_and_task_id_overrides(
    capsys: pytest.CaptureFixture[str], fc: FakeFcServer
) -> None:
    fc.add_function(FUNCTION)
    assert run(capsys, *remote(fc, "--async", str(EVENT)))[0] == 0
    code, out, err = run(capsys, *remote(fc, "--async", str(EVENT)))
    assert (code, out) == (1, "")
    line = one_line(err)
    assert "as a duplicate (409" in line
    assert "--task-id" in line
    assert len(fc.tasks) == 1
    code, out, _ = run(capsys, *remote(fc, "--async", "--task-id", "drill_2", str(EVENT)))
    assert (code, out) == (0, fc.calls[-1].request_id + "\n")
    assert (FUNCTION, "drill_2") in fc.tasks


def test_async_5xx_is_sent_once_and_reported(capsys: pytest.CaptureFixture[str], fc: FakeFcServer) -> None:
    """The SDK could retry (Config.retry_options): the CLI turns that off, so FC sees ONE request."""
    fc.add_function(FUNCTION)
    fc.fail_next(3, status=503, code="ResourceThrottled", message="try later")
    code, out, err = run(capsys, *remote(fc, "--async", str(EVENT)))
    assert (code, out) == (1, "")
    assert len(fc.calls) == 1
    assert f"FC answered 503 ResourceThrottled for {FUNCTION}: try later" in one_line(err)


def test_the_client_is_built_to_send_once_whatever_the_sdks_default(
    capsys: pytest.CaptureFixture[str], fc: FakeFcServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tea-openapi 0.4 retries nothing when ``retry_options`` is None, so a count of calls alone cannot
    tell the CLI's own setting: the Config it builds must say so itself."""
    from alibabacloud_fc20230330.client import Client

    built: list[Any] = []
    original = Client.__init__

    def spy(self: Any, config: Any) -> None:
        built.append(config)
        original(self, config)

    monkeypatch.setattr(Client, "__init__", spy)
    fc.add_function(FUNCTION)
    code, _, err = run(capsys, *remote(fc, "--async", str(EVENT)))
    assert code == 0, err
    [config] = built
    assert config.retry_options is not None
    assert config.retry_options.retryable is False


def test_an_error_that_is_not_json_is_not_called_no_answer(capsys: pytest.CaptureFixture[str]) -> None:
    """A gateway's HTML 502: an answer came back, so "no answer was read" would be false."""
    import http.server
    import threading

    class Gateway(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            body = b"<html><body>502 Bad Gateway</body></html>"
            self.send_response(502)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        code, out, err = run(
            capsys, "remote-invoke", "--function", FUNCTION, "--endpoint", endpoint, str(EVENT)
        )
    finally:
        server.shutdown()
        server.server_close()
    assert (code, out) == (1, "")
    line = one_line(err)
    assert "not FC's JSON" in line
    assert "whether the function ran is not known" in line
    assert "no answer was read" not in line


def test_an_event_over_the_limit_is_not_sent(
    capsys: pytest.CaptureFixture[str], fc: FakeFcServer, tmp_path: Path
) -> None:
    """The CLI reads one byte past the function's limit: what it read is not the event, so it sends
    nothing (a cut event would be invalid JSON, and an async task id would name the wrong bytes)."""
    fc.add_function(FUNCTION)
    event = tmp_path / "big.json"
    event.write_bytes(b'{"action": "failover", "reason": "' + b"x" * 300_000 + b'"}')
    code, out, err = run(capsys, *remote(fc, "--async", str(event)))
    assert (code, out) == (2, "")
    assert fc.calls == []
    assert "not sent" in err.splitlines()[-1]


def test_function_not_found_is_one_line_exit_1(capsys: pytest.CaptureFixture[str], fc: FakeFcServer) -> None:
    code, out, err = run(capsys, *remote(fc, str(EVENT)))
    assert (code, out) == (1, "")
    assert one_line(err) == (
        f"ebs-failover: FC answered 404 FunctionNotFound for {FUNCTION}: "
        f"function '{FUNCTION}' does not exist (request id {fc.calls[-1].request_id})"
    )


def test_a_function_error_is_one_line_exit_1(capsys: pytest.CaptureFixture[str], fc: FakeFcServer) -> None:
    def raises(call: FcInvocation) -> None:
        raise TimeoutError("EBS stayed unavailable")

    fc.add_function(FUNCTION, raises)
    code, out, err = run(capsys, *remote(fc, str(EVENT)))
    assert (code, out) == (1, "")
    assert one_line(err) == (
        f"ebs-failover: the function {FUNCTION} raised TimeoutError: EBS stayed unavailable "
        f"(request id {fc.calls[-1].request_id})"
    )


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def sdk_debug(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Records]:
    """DEBUG=sdk: darabonba logs every request's headers (Authorization, the STS token) on its own
    stderr handler, which holds the stream of its import (pytest's capture cannot see it): listen on
    its logger, and on the root logger (fc2's)."""
    monkeypatch.setenv("DEBUG", "sdk")
    records = _Records()
    loggers = [logging.getLogger("darabonba-core"), logging.getLogger()]
    for logger in loggers:
        logger.addHandler(records)
    yield records
    for logger in loggers:
        logger.removeHandler(records)


@pytest.mark.parametrize("wrong", ["secret", "token"])
def test_refused_credentials_print_no_secret_even_with_sdk_debug(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fc: FakeFcServer,
    sdk_debug: _Records,
    wrong: str,
) -> None:
    if wrong == "secret":
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET + "-old")
    else:
        monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", STS + "-old")
    fc.add_function(FUNCTION)
    code, out, err = run(capsys, *remote(fc, str(EVENT)))
    assert (code, out) == (2, "")  # refused credentials: a setup problem, exit 2
    line = one_line(err)
    assert ("SignatureDoesNotMatch" if wrong == "secret" else "InvalidSecurityToken") in line
    for secret in (SECRET, STS, "ACS3-HMAC-SHA256", "x-acs-security-token"):
        assert secret not in out + err
    assert fc.calls[-1].status in (400, 403)
    assert sdk_debug.lines == []  # nothing logged, so nothing for darabonba's handler to print


@pytest.mark.parametrize("service", [None, "ebs"])
def test_success_logs_and_prints_no_secret_with_sdk_debug(
    capsys: pytest.CaptureFixture[str], fc: FakeFcServer, sdk_debug: _Records, service: str | None
) -> None:
    fc.add_function(FUNCTION, service=service, result={"data": {"outcome": "dry_run"}})
    code, out, err = run(capsys, *remote(fc, *(["--service", service] if service else []), str(EVENT)))
    assert (code, err) == (0, "")
    for secret in (SECRET, STS, "ACS3-HMAC-SHA256"):
        assert secret not in out
    assert sdk_debug.lines == []


def test_no_answer_is_one_line_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out, err = run(
        capsys, "remote-invoke", "--function", FUNCTION, "--endpoint", f"http://127.0.0.1:{port}", str(EVENT)
    )
    assert (code, out) == (1, "")
    assert one_line(err).startswith(f"ebs-failover: cannot invoke {FUNCTION} at http://127.0.0.1:{port}: ")


@pytest.mark.parametrize("endpoint", ["ftp://127.0.0.1:1", "http://127.0.0.1:1/2023-03-30"])
def test_a_bad_endpoint_is_a_usage_error(capsys: pytest.CaptureFixture[str], endpoint: str) -> None:
    code, out, err = run(capsys, "remote-invoke", "--function", FUNCTION, "--endpoint", endpoint, str(EVENT))
    assert (code, out) == (2, "")
    assert "--endpoint" in one_line(err)


# -- FC 2.0: --service ----------------------------------------------------------------------------


def test_service_goes_through_fc2(capsys: pytest.CaptureFixture[str], fc: FakeFcServer) -> None:
    fc.add_function("failover", service="ebs", result={"data": {"outcome": "dry_run"}}, qualifiers=["prod"])
    fc.add_function(FUNCTION, result={"data": {"outcome": "failed"}})  # a 3.0 function: not reached
    argv = ["remote-invoke", "--service", "ebs", "--function", "failover", "--qualifier", "prod"]
    code, out, err = run(capsys, *argv, "--endpoint", fc.endpoint, str(EVENT))
    assert (code, json.loads(out), err) == (0, {"data": {"outcome": "dry_run"}}, "")
    [call] = fc.calls
    assert (call.api, call.service, call.function, call.qualifier) == ("2.0", "ebs", "failover", "prod")
    assert call.path == "/2016-08-15/services/ebs.prod/functions/failover/invocations"
    assert call.access_key_id == KEY_ID  # fc2's FC signature and x-fc-security-token, verified


def test_service_async_uses_fc2s_task_header_and_a_3_0_function_is_no_services(
    capsys: pytest.CaptureFixture[str], fc: FakeFcServer
) -> None:
    fc.add_function(FUNCTION)
    argv = remote(fc, "--service", "ebs", "--async", str(EVENT))
    code, out, err = run(capsys, *argv)
    assert (code, out) == (1, "")
    assert "FC answered 404 ServiceNotFound for ebs/ebs-failover" in one_line(err)
    fc.add_function(FUNCTION, service="ebs")
    code, out, err = run(capsys, *argv)
    task_id = "ebsfo-" + hashlib.sha256(EVENT.read_bytes()).hexdigest()
    assert (code, out) == (0, fc.calls[-1].request_id + "\n")
    assert f"task id {task_id}" in err
    assert (fc.calls[-1].api, fc.calls[-1].task_id) == ("2.0", task_id)
    assert list(fc.tasks) == [(f"ebs/{FUNCTION}", task_id)]


def test_the_cli_does_not_import_the_fc3_sdk_until_it_invokes() -> None:
    import subprocess

    probe = (
        "import sys; from ebs_failover.cli import main; main(['schema']); "
        "print([m for m in sys.modules if m.startswith(('alibabacloud_fc20230330', 'fc2'))])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
