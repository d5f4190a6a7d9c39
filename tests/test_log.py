"""The log stream: AWS Lambda Powertools Logger parity, on real invocations' captured stdout.

Every test here runs the real handler against the fake EBS (``MockEbs``) and reads the lines the
invocation wrote, or drives ``log.LOGGER`` directly for the serialisation rules.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ebs_failover import decisions, log
from ebs_failover import handler as handler_module
from ebs_failover import pipeline as pipeline_module
from ebs_failover.errors import NotifyError, TransientFailure
from ebs_failover.handler import handler
from ebs_failover.testing import FakeEbs, FcContext, FcCredentials, FcFunction, FcTracing, MockEbs

from .conftest import live_settings, seed_pair

STANDBY = "cn-shanghai"
ACCOUNT = "5550001112223334"
FUNCTION = "orders-failover"
MEMORY = 512
DB_PAIR, APP_PAIR = "pair-cn-demo0db01", "pair-cn-demo0app01"
TARGETS = {"d-bp1demo0primary01": DB_PAIR, "i-bp1demo0app01": [APP_PAIR]}
KEY_ID, SECRET, STS = "STS.fc-role", "Sup3rS3cretValue-9f8e7d", "STS-token-value-1a2b3c4d5e"
EVENTS = Path(__file__).resolve().parent.parent / "events"
#: The MNS-delivered CloudMonitor alarm: its resources map to both pairs.
TWO_PAIR_ALARM = (EVENTS / "mns-message-cms-alarm.json").read_bytes()
LOCATION = re.compile(r"^[A-Za-z_][\w.]*:[\w<>]+:\d+$")
LINE_BREAKS = ["\u2028", "\u2029", "\u0085", "\n", "\r\n"]


class Stdout:
    """The captured stdout, read as a stream's text (``getvalue``) as often as a test asks."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys, self._text = capsys, ""

    def getvalue(self) -> str:
        self._text += self._capsys.readouterr().out
        return self._text


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Stdout]:
    """What the invocations write to stdout, where FC collects it: the logger as FC runs it."""
    log.configure(stream=None)
    yield Stdout(capsys)
    log.configure(stream=io.StringIO())


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEbs]:
    live_settings(monkeypatch, TARGETS)
    monkeypatch.delenv("SERVICE_NAME", raising=False)
    monkeypatch.delenv("LOG_EVENT", raising=False)
    monkeypatch.setattr(handler_module, "_cold_start", True)  # this test's first invocation is cold
    fake = FakeEbs(seed=3)
    fake.register_credential(KEY_ID, SECRET, security_token=STS)
    fake.load_seed(
        {"pairs": [seed_pair(DB_PAIR, "d-bp1demo0primary01"), seed_pair(APP_PAIR, "d-bp1demo0app0data1")]}
    )
    with MockEbs(fake):
        yield fake


def _context(request_id: str = "req-1", *, timeout: int = 20, tracing: FcTracing | None = None) -> FcContext:
    return FcContext(
        request_id=request_id,
        function=FcFunction(name=FUNCTION, memory=MEMORY, timeout=timeout),
        credentials=FcCredentials(KEY_ID, SECRET, STS),
        region=STANDBY,
        account_id=ACCOUNT,
        tracing=tracing,
    )


def _manual(pair: str = DB_PAIR, key: str = "ticket-42", reason: str = "primary region down") -> bytes:
    body = {"action": "failover", "replicaPairId": pair, "reason": reason, "idempotencyKey": key}
    return json.dumps(body, ensure_ascii=False).encode()


def _lines(stream: Stdout | io.StringIO) -> list[dict[str, Any]]:
    """Every line of the stream, each parsed on its own (a line that is not one JSON object fails)."""
    lines = stream.getvalue().split("\n")
    assert lines[-1] == "", "the stream ends with a newline"
    parsed = [json.loads(line) for line in lines[:-1]]
    assert all(isinstance(line, dict) for line in parsed)
    return parsed


def _result_line(stream: Stdout | io.StringIO) -> dict[str, Any]:
    """The one canonical ``result`` line of the stream."""
    results = [line for line in _lines(stream) if line["message"] == "result"]
    assert len(results) == 1, results
    return results[0]


def _timestamp(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text.removesuffix("Z") + "+00:00")


# -- the keys of every line ----------------------------------------------------------------


def test_every_line_of_a_live_failover_carries_powertools_keys(
    fake: FakeEbs, logs: Stdout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_EVENT", "true")  # a second line, logged from elsewhere in the handler
    before = datetime.now(timezone.utc)
    handler(_manual(), _context("req-keys"))
    after = datetime.now(timezone.utc)
    lines = _lines(logs)
    assert [line["message"] for line in lines] == ["raw_event", "result"]
    # Where each was logged: the raw event by the settings stage, the result by the handler.
    assert [line["location"].split(":")[:2] for line in lines] == [
        ["pipeline", "prepare"],
        ["handler", "_handle"],
    ]
    for line in lines:
        assert line["level"] in {"INFO", "WARNING", "ERROR"}
        assert "event" not in line
        assert before - timedelta(seconds=1) <= _timestamp(line["timestamp"]) <= after + timedelta(seconds=1)
        assert LOCATION.match(line["location"]), line["location"]
        assert line["service"] == "ebs-failover"
        assert line["cold_start"] is True
        assert line["function_name"] == FUNCTION
        assert line["function_memory_size"] == MEMORY
        assert line["function_arn"] == f"acs:fc:{STANDBY}:{ACCOUNT}:functions/{FUNCTION}"
        assert line["function_request_id"] == "req-keys"
        assert "trace_id" not in line
    assert "correlation_id" not in lines[0]  # logged before the trigger was parsed
    assert lines[1]["correlation_id"] == "manual:ticket-42"
    assert list(lines[1])[:4] == ["level", "location", "message", "timestamp"]  # Powertools' order


def test_the_location_names_the_calling_module_function_and_line(logs: Stdout) -> None:
    log.isolated(log.LOGGER.info, "here")
    (line,) = _lines(logs)
    module, function, number = line["location"].split(":")
    assert (module, function) == ("test_log", "test_the_location_names_the_calling_module_function_and_line")
    assert int(number) > 0


@pytest.mark.parametrize("mode", ["live", "not-a-mode"])  # a ConfigError must not lose the service
def test_service_name_overrides_the_default(
    fake: FakeEbs, logs: Stdout, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("SERVICE_NAME", "storage-dr")
    monkeypatch.setenv("FAILOVER_MODE", mode)
    handler(_manual(), _context())
    assert all(line["service"] == "storage-dr" for line in _lines(logs))


# -- the canonical result line -------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """An invocation and the result line it must write."""

    event: bytes
    outcome: str
    level: str
    env: tuple[tuple[str, str], ...] = ()
    fault: tuple[str, int, str] | None = None  # action, HTTP status, EBS code: answered every time
    correlation_id: str | None = "manual:ticket-42"


DESCRIBE, FAILOVER = "DescribeDiskReplicaPairs", "FailoverDiskReplicaPair"
CASES = {
    "live failover": Case(_manual(), "failed_over", "INFO"),
    "Describe forbidden": Case(_manual(), "failed", "ERROR", fault=(DESCRIBE, 403, "Forbidden")),
    "Failover forbidden": Case(_manual(), "failed", "ERROR", fault=(FAILOVER, 403, "Forbidden")),
    "bad mode": Case(_manual(), "failed", "ERROR", (("FAILOVER_MODE", "yolo"),), correlation_id=None),
    "not json": Case(b"not json", "rejected", "WARNING", correlation_id=None),
    "unconfigured pair": Case(_manual("pair-cn-notconfigured1"), "refused", "WARNING"),
    "dry run": Case(_manual(), "dry_run", "INFO", (("FAILOVER_MODE", "dry-run"),)),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_one_result_line_whose_level_follows_the_outcome(
    fake: FakeEbs, logs: Stdout, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    for name, value in case.env:
        monkeypatch.setenv(name, value)
    if case.fault is not None:
        action, status, code = case.fault
        fake.faults.error(action, status, code, times=100)
    result = handler(case.event, _context())
    line = _result_line(logs)
    assert (result["data"]["outcome"], line["outcome"], line["level"]) == (
        case.outcome,
        case.outcome,
        case.level,
    )
    assert line["result"] == result
    assert line.get("correlation_id") == case.correlation_id
    assert "exception_name" not in line  # nothing was raised


def test_an_invocation_that_raises_logs_its_result_as_an_error_with_the_exception(
    fake: FakeEbs, logs: Stdout
) -> None:
    fake.faults.error("*", 503, "ServiceUnavailable", times=10_000)  # until the 1 s budget runs out
    with pytest.raises(TransientFailure) as raised:
        handler(_manual(), _context(timeout=2))
    line = _result_line(logs)
    assert (line["level"], line["outcome"]) == ("ERROR", "failed")
    assert line["exception_name"] == "TransientFailure"
    assert "Traceback" in line["exception"]
    assert str(raised.value) in line["exception"]
    assert "exc_info" not in line
    assert line["result"]["data"]["targets"][0]["error_code"] == "ServiceUnavailable"
    assert len(fake.calls) >= 2  # retried before giving up


def test_a_result_for_two_pairs_has_no_pair_keys_at_the_top(fake: FakeEbs, logs: Stdout) -> None:
    result = handler(TWO_PAIR_ALARM, _context())
    line = _result_line(logs)
    assert line["outcome"] == result["data"]["outcome"] == "failed_over"
    assert "replica_pair_id" not in line
    assert "client_token" not in line
    targets = line["result"]["data"]["targets"]
    assert sorted(t["pair_id"] for t in targets) == sorted([DB_PAIR, APP_PAIR])
    assert all(t["client_token"] for t in targets)
    assert line["correlation_id"] == "cms:6021339-1726122000-0"


# -- what the context carries, and what it must not carry over ---------------------------


@pytest.mark.parametrize(
    ("tracing", "trace_id"),
    [
        (FcTracing(span_context="5b1e2c3d4a596f70:1a2b3c4d:0:1"), "5b1e2c3d4a596f70"),
        (FcTracing(span_context=""), None),
        (None, None),
    ],
)
def test_trace_id_comes_from_the_tracing_context(
    fake: FakeEbs,
    logs: Stdout,
    monkeypatch: pytest.MonkeyPatch,
    tracing: FcTracing | None,
    trace_id: str | None,
) -> None:
    monkeypatch.setenv("LOG_EVENT", "true")
    handler(_manual(), _context(tracing=tracing))
    lines = _lines(logs)
    assert len(lines) == 2
    assert [line.get("trace_id") for line in lines] == [trace_id, trace_id]


def test_nothing_bound_in_one_invocation_leaks_into_the_next(fake: FakeEbs, logs: Stdout) -> None:
    traced = FcTracing(span_context="7f0e1d2c3b4a5968:1:0:1")
    handler(_manual(), _context("first", tracing=traced))
    handler(b"not json", _context("second"))
    first, second = _lines(logs)
    assert (first["function_request_id"], first["correlation_id"], first["trace_id"]) == (
        "first",
        "manual:ticket-42",
        "7f0e1d2c3b4a5968",
    )
    assert second["function_request_id"] == "second"
    for key in ("correlation_id", "trace_id", "replica_pair_id", "client_token"):
        assert key not in second
    assert [first["cold_start"], second["cold_start"]] == [True, False]


def test_the_invocation_keys_do_not_leak_into_the_caller(fake: FakeEbs, logs: Stdout) -> None:
    handler(_manual(), _context("inside"))
    log.LOGGER.info("after the invocation")
    after = _lines(logs)[-1]
    assert after["message"] == "after the invocation"
    for key in ("function_request_id", "correlation_id", "cold_start", "function_arn", "service"):
        assert key not in after


def test_isolated_drops_what_it_bound(logs: Stdout) -> None:
    def bind_and_log() -> str:
        log.bind(correlation_id="inner")
        log.LOGGER.info("inside")
        return "done"

    assert log.isolated(bind_and_log) == "done"
    log.LOGGER.info("outside")
    inside, outside = _lines(logs)
    assert inside["correlation_id"] == "inner"
    assert "correlation_id" not in outside


# -- one line of JSON, whatever the values hold --------------------------------------------


@pytest.mark.parametrize("brk", LINE_BREAKS, ids=["U+2028", "U+2029", "U+0085", "LF", "CRLF"])
def test_a_line_break_inside_a_value_stays_inside_one_line(logs: Stdout, brk: str) -> None:
    reason = f"before{brk}after"
    log.isolated(lambda: log.LOGGER.info(f"x{brk}y", reason=reason, **{f"k{brk}": 1}))
    text = logs.getvalue()
    assert len(text.splitlines()) == 1  # str.splitlines breaks at every one of them
    assert brk not in text.removesuffix("\n")
    line = json.loads(text)
    assert (line["message"], line["reason"], line[f"k{brk}"]) == (f"x{brk}y", reason, 1)


def test_a_line_break_in_an_event_stays_inside_the_handler_lines(
    fake: FakeEbs, logs: Stdout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_EVENT", "true")
    reason = "disk gone" + "".join(LINE_BREAKS) + "for good"
    event = _manual(reason=reason)
    handler(event, _context())
    text = logs.getvalue()
    assert len(text.splitlines()) == 2
    raw_event, result = _lines(logs)
    assert raw_event["raw_event"] == event.decode()
    assert result["result"]["data"]["trigger"]["summary"]["reason"] == reason


def test_a_lone_surrogate_and_a_huge_integer_make_a_valid_line(logs: Stdout) -> None:
    log.isolated(lambda: log.LOGGER.info("odd", surrogate="\ud800", big=2**70, brk="\u2028"))
    text = logs.getvalue()
    assert len(text.splitlines()) == 1
    line = json.loads(text)
    assert (line["surrogate"], line["big"], line["brk"]) == ("\ud800", 2**70, "\u2028")


def _strict_loads(text: str) -> Any:
    """``json.loads`` that refuses what is not JSON (``NaN``, ``Infinity``)."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        (2**70, 2**70),
        ({"big": -(2**70)}, {"big": -(2**70)}),
        ("\ud800", "\ud800"),
        ({"s": "a\udfffb"}, {"s": "a\udfffb"}),
        ({1: "one", None: "none"}, {"1": "one", "null": "none"}),
        ({1: 2**70}, {"1": 2**70}),
        ({3, 1}, repr({3, 1})),
        (b"\xff", repr(b"\xff")),
        ([[[[["deep"]]]]], [[[[["deep"]]]]]),
    ],
    ids=["int 2**70", "negative 2**70", "lone surrogate", "surrogate in dict", "non-str keys",
         "int key, big value", "set", "bytes", "nested"],
)  # fmt: skip
def test_dumps_takes_what_orjson_refuses(value: Any, parsed: Any) -> None:
    text = log.dumps(value)
    assert "\n" not in text
    assert _strict_loads(text) == parsed


def test_dumps_takes_nesting_deeper_than_orjson_allows() -> None:
    deep: Any = "bottom"
    for _ in range(300):  # orjson stops at 255 levels
        deep = [deep]
    text = log.dumps(deep)
    assert text == "[" * 300 + '"bottom"' + "]" * 300


def test_dumps_writes_an_unknown_object_as_its_repr() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    assert _strict_loads(log.dumps({"o": Opaque()})) == {"o": "<opaque>"}


def test_dumps_takes_a_tuple_key() -> None:
    assert _strict_loads(log.dumps({(1, 2): "pair"})) == {"(1, 2)": "pair"}


def test_dumps_fallback_writes_no_nan() -> None:
    _strict_loads(log.dumps({"ratio": float("nan"), "big": 2**70}))


# -- levels -------------------------------------------------------------------------------


def test_debug_lines_are_dropped(logs: Stdout) -> None:
    log.LOGGER.debug("noise", detail="x")
    assert logs.getvalue() == ""
    log.LOGGER.info("signal")
    assert [line["message"] for line in _lines(logs)] == ["signal"]


@pytest.mark.parametrize(
    ("method", "level"),
    [("info", "INFO"), ("warning", "WARNING"), ("error", "ERROR"), ("critical", "CRITICAL")],
)
def test_each_level_method_writes_its_upper_case_name(logs: Stdout, method: str, level: str) -> None:
    getattr(log.LOGGER, method)("leveled", detail=method)
    (line,) = _lines(logs)
    assert (line["level"], line["message"], line["detail"]) == (level, "leveled", method)


def test_exception_logs_an_error_with_the_exception(logs: Stdout) -> None:
    try:
        raise KeyError("missing-thing")
    except KeyError:
        log.LOGGER.exception("boom")
    (line,) = _lines(logs)
    assert (line["level"], line["exception_name"]) == ("ERROR", "KeyError")
    assert "missing-thing" in line["exception"]


def test_exc_info_given_an_exception_names_it(logs: Stdout) -> None:
    log.LOGGER.error("given", exc_info=TransientFailure("pair-cn-x1", "InternalError", 3))
    (line,) = _lines(logs)
    assert line["exception_name"] == "TransientFailure"
    assert "pair-cn-x1: InternalError after 3 attempts" in line["exception"]


# -- the other ways an invocation ends -------------------------------------------------------


def test_a_failover_nobody_was_told_of_raises_and_logs_an_error(
    fake: FakeEbs, logs: Stdout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MNS unreachable after a failover: the result line is an ERROR naming NotifyError, then it raises."""
    monkeypatch.setenv("NOTIFY_TARGETS", "mns:ebs-failover-results")
    monkeypatch.setenv("MNS_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(NotifyError):
        handler(_manual(), _context())
    line = _result_line(logs)
    assert (line["level"], line["outcome"]) == ("ERROR", "failed_over")
    assert line["exception_name"] == "NotifyError"
    assert [(n["channel"], n["ok"]) for n in line["notifications"]] == [("mns:ebs-failover-results", False)]
    assert fake.pair(DB_PAIR).status == "failovered"


def test_an_unexpected_error_still_ends_in_one_failed_result_line(
    fake: FakeEbs, logs: Stdout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last line of defence: a bug in a stage is a ``failed`` result and an ERROR, never a traceback."""

    def broken(*_: object) -> None:
        raise ZeroDivisionError("a bug in decide")

    monkeypatch.setattr(decisions, "decide", broken)  # a bug in a stage, not a cloud answer
    result = handler(_manual(), _context())
    assert result["data"]["outcome"] == "failed"
    assert result["data"]["error"] == {"code": "ZeroDivisionError"}
    unexpected = [line for line in _lines(logs) if line["message"] == "unexpected_error"]
    assert [(u["level"], u["exception_name"]) for u in unexpected] == [("ERROR", "ZeroDivisionError")]
    assert "a bug in decide" in unexpected[0]["exception"]
    line = _result_line(logs)
    assert (line["level"], line["outcome"]) == ("ERROR", "failed")
    assert fake.calls == []


def test_a_callback_refused_at_the_gate_is_a_warning_with_its_correlation_id(
    fake: FakeEbs, logs: Stdout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLBACK_TOKEN", "the-right-callback-token")
    envelope = json.loads((EVENTS / "http-envelope-callback-plain.json").read_text())
    envelope["queryParameters"] = {"token": "a-wrong-token"}
    envelope.setdefault("headers", {})["x-fc-trace-id"] = "c0ffee0123456789"
    answer = handler(json.dumps(envelope).encode(), _context())
    assert answer["statusCode"] == 401
    line = _result_line(logs)
    result = line["result"]
    assert result["data"]["outcome"] == "rejected"
    assert line["level"] == "WARNING"
    assert line["correlation_id"] == result["data"]["trigger"]["identity"]
    assert line["trace_id"] == "c0ffee0123456789"  # the HTTP request's own trace id
    assert fake.calls == []


def test_lines_go_to_stdout_by_default(fake: FakeEbs, capsys: pytest.CaptureFixture[str]) -> None:
    """Unconfigured, the logger writes to the stdout of the moment: where FC collects the lines."""
    log.configure(stream=None)
    try:
        handler(_manual(), _context())
    finally:
        log.configure(stream=io.StringIO())
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["message"] for line in lines] == ["result"]
    assert lines[0]["level"] == "INFO"
    assert lines[0]["function_arn"] == f"acs:fc:{STANDBY}:{ACCOUNT}:functions/{FUNCTION}"


def test_concurrent_invocations_keep_their_own_keys(fake: FakeEbs, logs: Stdout) -> None:
    """Two threads, two invocations at once: each line carries its own request id and correlation id."""
    barrier = threading.Barrier(2)

    def invoke(n: int) -> None:
        barrier.wait()
        handler(_manual(key=f"incident-{n}"), _context(request_id=f"req-{n}"))

    threads = [threading.Thread(target=invoke, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = [line for line in _lines(logs) if line["message"] == "result"]
    assert sorted((line["function_request_id"], line["correlation_id"]) for line in lines) == [
        ("req-0", "manual:incident-0"),
        ("req-1", "manual:incident-1"),
    ]


def test_log_event_masks_a_wrong_callback_token_and_every_value_named_like_a_secret(
    fake: FakeEbs, logs: Stdout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wrong token a caller sent is a secret nobody registered: LOG_EVENT masks it by its name, and so
    every query or header value named token, signature, secret or sign."""
    monkeypatch.setenv("CALLBACK_TOKEN", "the-right-callback-token")
    monkeypatch.setenv("LOG_EVENT", "true")
    envelope = json.loads((EVENTS / "http-envelope-callback-plain.json").read_text())
    envelope["queryParameters"] = {"token": "a-wrong-token-4711", "sign": "sign-value-0815"}
    envelope["headers"]["X-Acs-Signature"] = "header-signature-42"
    envelope["headers"]["X-Robot-Secret"] = "robot-secret-99"
    for raw in (json.dumps(envelope).encode(), json.dumps(envelope), envelope):
        handler(raw, _context())
    text = logs.getvalue()
    assert text.count('"message":"raw_event"') == 3
    for secret in ("a-wrong-token-4711", "sign-value-0815", "header-signature-42", "robot-secret-99"):
        assert secret not in text
    assert "Apache-HttpClient" in text  # the rest of the event is still there to read


def test_a_bug_in_the_settings_stage_is_still_told_or_retried(
    fake: FakeEbs, logs: Stdout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug after the settings were read (finding the credentials): the ``failed`` result goes to the
    channels, and when none takes it FC is asked to retry (it once reached nobody, and nothing raised)."""

    def broken(*_: object) -> None:
        raise ZeroDivisionError("a bug in the credentials")

    monkeypatch.setattr(pipeline_module, "_credentials", broken)
    monkeypatch.setenv("NOTIFY_TARGETS", "mns:ebs-failover-results")
    monkeypatch.setenv("MNS_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(NotifyError):
        handler(_manual(), _context())
    line = _result_line(logs)
    assert (line["level"], line["outcome"]) == ("ERROR", "failed")
    assert [(n["channel"], n["ok"]) for n in line["notifications"]] == [("mns:ebs-failover-results", False)]
