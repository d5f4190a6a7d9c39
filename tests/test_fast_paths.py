"""The warm path's shortcuts give exactly what the plain versions give.

Each shortcut taken for speed (issue 5) is checked here against the slow,
obvious implementation it replaced: the form decoder against
``urllib.parse.parse_qsl``, the percent-decoder against ``unquote_plus``, the
redaction pre-check against the full walk, the settings fingerprint against
an environment change, the event id against ``uuid.UUID``, and the log line
against a line splitter.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ebs_failover import config, log, results, triggers
from ebs_failover.triggers import InvalidEvent
from ebs_failover.triggers._decode import MAX_FORM_FIELDS, _unquote_plus, parse_form

#: Pieces that exercise the decoders: escapes (valid, truncated, not UTF-8), ``+``, separators (plain and
#: escaped: a body with an escaped one is decoded part by part), backslashes (the C decoder's escape
#: character), non-ASCII (decoded a run at a time).
_FORM_PIECES = st.sampled_from(
    [
        "a",
        "b",
        "=",
        "&",
        "+",
        "%",
        "%2",
        "%2F",
        "%2f",
        "%3D",
        "%3d",
        "%26",
        "%25",
        "%2B",
        "%5C",
        "\\",
        "\\x4",
        "%E6%95%B0",
        "%C3%A9",
        "%80",
        "%zz",
        "é",
        " ",
    ]
)
_FORMS = st.lists(_FORM_PIECES, max_size=16).map("".join)


def _qsl_reference(text: str) -> dict[str, str] | str:
    """What the replaced ``parse_qsl``-based decoder returned, or the kind of error it raised."""
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except UnicodeDecodeError:
        return "not UTF-8"
    except ValueError:
        return "too many fields"
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            return f"duplicate {key}"
        fields[key] = value
    return fields


def _ours(text: str) -> dict[str, str] | str:
    try:
        return parse_form(text)
    except InvalidEvent as error:
        if "once" in error.expected:
            return f"duplicate {error.field}"
        return "not UTF-8" if "UTF-8" in error.expected else "too many fields"


@settings(max_examples=600, deadline=None)
@given(_FORMS)
def test_the_form_decoder_agrees_with_parse_qsl(text: str) -> None:
    assert _ours(text) == _qsl_reference(text)


@pytest.mark.parametrize("count", [MAX_FORM_FIELDS - 1, MAX_FORM_FIELDS, MAX_FORM_FIELDS + 1])
def test_the_form_field_limit_is_parse_qsl_s(count: int) -> None:
    text = "&".join(f"k{n}=v" for n in range(count))
    assert _ours(text) == _qsl_reference(text)


@settings(max_examples=600, deadline=None)
@given(_FORMS)
def test_runs_of_escapes_decode_like_unquote_plus(text: str) -> None:
    try:
        expected: str = unquote_plus(text, errors="strict")
    except UnicodeDecodeError:
        with pytest.raises(UnicodeDecodeError):
            _unquote_plus(text)
    else:
        assert _unquote_plus(text) == expected


def test_a_chinese_alarm_name_decodes() -> None:
    name = "数据库磁盘读IOPS过高"
    assert _unquote_plus(quote(name)) == name


# -- the parse memo ---------------------------------------------------------------------------------

_EVENTS = Path(__file__).resolve().parents[1] / "events"
_SAMPLES = sorted(
    path.name
    for path in _EVENTS.iterdir()
    if path.suffix in (".json", ".txt") and path.name not in ("config.json", "expected.json")
)


@pytest.fixture
def memo() -> dict[bytes, Any]:
    """The parse memo (emptied around every test by conftest)."""
    return triggers._memo


def _fresh(raw: bytes, request_id: str | None = None) -> Any:
    """What parsing ``raw`` gives without the memo: the Trigger, or the refusal's text."""
    try:
        return triggers._parse_fresh(raw, request_id)
    except InvalidEvent as error:
        return str(error)


def _remembered(raw: bytes, request_id: str | None = None) -> Any:
    try:
        return triggers.parse(raw, request_id=request_id)
    except InvalidEvent as error:
        return str(error)


@pytest.mark.parametrize("name", _SAMPLES)
def test_a_redelivery_parses_as_the_first_delivery_did(name: str, memo: dict[bytes, Any]) -> None:
    raw = (_EVENTS / name).read_bytes()
    first, again = _remembered(raw, "req-1"), _remembered(bytes(raw), "req-2")
    assert first == _fresh(raw, "req-1")
    assert again == _fresh(raw, "req-2")
    if isinstance(first, str) or first.kind == "manual":  # refused, or a manual request: not remembered
        assert raw not in memo
    else:
        assert memo[raw] is first
        assert again is first


def test_a_manual_request_without_a_key_takes_each_request_id(memo: dict[bytes, Any]) -> None:
    raw = json.dumps({"action": "failover", "replicaPairId": "pair-cn-x1", "reason": "drill"}).encode()
    identities = [triggers.parse(raw, request_id=rid).identity for rid in ("req-a", "req-b")]
    assert identities == ["manual:req-a", "manual:req-b"]
    assert not memo


def test_the_memo_forgets_the_oldest_and_keeps_its_bound(memo: dict[bytes, Any]) -> None:
    template = (_EVENTS / "cms-callback-alert.txt").read_bytes()
    raws = [template.replace(b"4f1b2c3e", f"{n:08x}".encode()) for n in range(triggers.MEMO_ENTRIES + 3)]
    parsed = [triggers.parse(raw) for raw in raws]
    assert len(memo) == triggers.MEMO_ENTRIES
    assert raws[0] not in memo
    assert memo[raws[-1]] is parsed[-1]
    assert triggers.parse(raws[0]) == parsed[0]  # forgotten, parsed again


def test_a_large_event_is_not_remembered(memo: dict[bytes, Any]) -> None:
    body = json.loads((_EVENTS / "eventbridge-ebs-diskiohang.json").read_bytes())
    body["data"]["padding"] = "x" * triggers.MEMO_MAX_BYTES
    raw = json.dumps(body).encode()
    assert triggers.parse(raw) == triggers.parse(raw)
    assert not memo


# -- the redaction pre-check --------------------------------------------------------------------


def _redactor(*secrets: str | None) -> log.Redactor:
    redactor = log.Redactor()
    redactor.register(secrets)
    return redactor


@pytest.mark.parametrize(
    "secret",
    [
        "LTAI5tQ9xKzMd3Ab",  # an AccessKey id
        'se"cr\\et/+=',  # characters JSON escapes, and URL-encodes
        "tab\there",  # a control character: \\t in JSON
        "秘密的令牌",  # non-ASCII: raw UTF-8 in orjson's output
    ],
)
def test_the_pre_check_finds_a_secret_in_every_form_it_can_take(secret: str) -> None:
    redactor = _redactor(secret)
    for carrier in (secret, quote(secret, safe=""), f"prefix {secret} suffix"):
        value = {"data": {"reason": carrier, "targets": [{"hint": carrier}]}}
        assert not redactor.clean(log.dumps(value), foreign_keys=False)
        scrubbed = redactor.scrub(value, foreign_keys=False)
        assert secret not in json.dumps(scrubbed, ensure_ascii=False)


def test_a_clean_value_is_returned_as_is() -> None:
    redactor = _redactor("LTAI5tQ9xKzMd3Ab")
    value = {"data": {"outcome": "failed_over", "reason": "manual request: drill"}}
    assert redactor.scrub(value, foreign_keys=False) is value


def test_a_secret_looking_key_is_found_only_where_keys_are_foreign() -> None:
    redactor = _redactor()
    value = {"raw_event": {"AccessKeySecret": "unregistered-value"}}
    assert redactor.clean(log.dumps(value), foreign_keys=False)
    assert not redactor.clean(log.dumps(value), foreign_keys=True)
    assert redactor.scrub(value) == {"raw_event": {"AccessKeySecret": "***"}}


def test_a_cut_secret_is_suspect_once_secrets_are_registered() -> None:
    secret = "LTAI5tQ9xKzMd3Ab"
    cut = {"reason": secret[:9] + "..."}
    assert _redactor().clean(log.dumps(cut))
    redactor = _redactor(secret)
    assert not redactor.clean(log.dumps(cut))
    assert secret[:9] not in redactor.scrub(cut)["reason"]


def test_registering_the_same_secrets_again_changes_nothing() -> None:
    redactor = _redactor("LTAI5tQ9xKzMd3Ab", None)
    pattern = redactor._pattern
    redactor.register(["LTAI5tQ9xKzMd3Ab", None])
    assert redactor._pattern is pattern
    redactor.register(["LTAI5tQ9xKzMd3Ab", "a-second-secret"])
    assert redactor.scrub("a-second-secret") == "***"


# -- the log line ---------------------------------------------------------------------------------


@pytest.mark.parametrize("breaker", ["\u0085", "\u2028", "\u2029", "\n", "\r", "\x1e"])
def test_a_log_line_stays_one_line_whatever_it_carries(breaker: str) -> None:
    stream = io.StringIO()
    log.configure(stream=stream)
    try:
        with log.invocation(service="test"):
            log.get_logger().info("result", reason=f"before{breaker}after")
    finally:
        log.configure(stream=io.StringIO())
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["reason"] == f"before{breaker}after"


@pytest.mark.parametrize(
    "value",
    [{"n": 2**70}, {"text": "lone \ud800 surrogate"}, {1: "int key"}, {"set": {1, 2}}],
    ids=["huge-int", "lone-surrogate", "int-key", "unknown-type"],
)
def test_dumps_takes_what_orjson_refuses(value: dict[Any, Any]) -> None:
    rendered = log.dumps(value)
    assert json.loads(rendered)  # valid JSON, whatever path produced it


def test_a_rendered_value_is_embedded_as_it_is() -> None:
    rendered = log.Rendered(b'{"kept":"as rendered","n":1}')
    assert json.loads(log.dumps({"result": rendered})) == {"result": {"kept": "as rendered", "n": 1}}
    # The json fallback (a lone surrogate elsewhere in the line) parses it back rather than repr it.
    line = json.loads(log.dumps({"text": "lone \ud800", "result": rendered}))
    assert line["result"] == {"kept": "as rendered", "n": 1}


def test_scrub_rendered_gives_the_masked_value_and_its_json() -> None:
    redactor = _redactor("LTAI5tQ9xKzMd3Ab", None)
    clean, text = redactor.scrub_rendered({"reason": "nothing to hide"})
    assert clean == {"reason": "nothing to hide"}
    assert json.loads(log.dumps({"r": text}))["r"] == clean
    masked, text = redactor.scrub_rendered({"reason": "key LTAI5tQ9xKzMd3Ab"})
    assert masked == {"reason": "key ***"}
    assert b"LTAI5tQ9xKzMd3Ab" not in log.dumps({"r": text})


def test_a_line_with_a_cut_mark_in_its_result_is_still_masked_elsewhere() -> None:
    """The whole line looks suspect (the result holds a cut mark): the rest is checked on its own."""
    stream = io.StringIO()
    secret = "LTAI5tQ9xKzMd3Ab-line"
    saved = log.REDACTOR
    log.REDACTOR = _redactor(secret, None)
    log.configure(stream=stream)
    try:
        _, rendered = log.REDACTOR.scrub_rendered({"reason": "shortened..."})
        with log.invocation(service="test"):
            log.get_logger().info("result", note=f"leaked {secret}", result=rendered)
    finally:
        log.REDACTOR = saved
        log.configure(stream=io.StringIO())
    line = json.loads(stream.getvalue())
    assert line["note"] == "leaked ***"
    assert line["result"] == {"reason": "shortened..."}


def test_each_level_writes_its_name_and_debug_writes_nothing() -> None:
    stream = io.StringIO()
    log.configure(stream=stream)
    try:
        with log.invocation(service="test"):
            for level in ("debug", "info", "warning", "error", "critical"):
                getattr(log.get_logger(), level)(f"a {level} line", detail=level)
    finally:
        log.configure(stream=io.StringIO())
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["level"], line["event"]) for line in lines] == [
        (level, f"a {level} line") for level in ("info", "warning", "error", "critical")
    ]


def test_the_context_is_per_invocation_and_restored_after() -> None:
    stream = io.StringIO()
    log.configure(stream=stream)
    try:
        with log.invocation(function_request_id="first"):
            log.bind(correlation_id="incident-1")
            with log.invocation(function_request_id="nested"):
                log.get_logger().info("inner")
            log.get_logger().info("outer")
        log.get_logger().info("after")
    finally:
        log.configure(stream=io.StringIO())
    inner, outer, after = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inner["function_request_id"] == "nested"
    assert "correlation_id" not in inner
    assert outer["function_request_id"] == "first"
    assert outer["correlation_id"] == "incident-1"
    assert "function_request_id" not in after
    assert "correlation_id" not in after


# -- settings and ids -------------------------------------------------------------------------------


def test_the_settings_follow_an_environment_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAILOVER_MODE", "dry-run")
    assert not config.current().live
    monkeypatch.setenv("FAILOVER_MODE", "live")
    assert config.current().live
    monkeypatch.setenv("FAILOVER_MODE", "sometimes")
    with pytest.raises(config.ConfigError, match="FAILOVER_MODE"):
        config.current()
    monkeypatch.delenv("FAILOVER_MODE")
    assert config.current().mode == "dry-run"


def test_the_settings_fingerprint_reads_every_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    before = config._fingerprint(os.environ)
    for name in (*config.VARIABLES, *config.CREDENTIAL_VARIABLES):
        monkeypatch.setenv(name, "changed")
        assert config._fingerprint(os.environ) != before, name
        monkeypatch.undo()


def test_the_settings_follow_rotated_environment_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "STS.first")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "first-secret")
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    first = config.current().environment_credentials
    assert first is not None
    assert first.access_key_secret == "first-secret"
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "second-secret")
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "second-token")
    second = config.current().environment_credentials
    assert second is not None
    assert (second.access_key_secret, second.security_token) == (
        "second-secret",
        "second-token",
    )
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID")
    assert config.current().environment_credentials is None
    assert config.current().environment_secrets == (None, "second-secret", "second-token")
    monkeypatch.setenv("CALLBACK_TOKEN", "callback-secret-7d1e")
    shown = repr(config.current())
    assert "second-secret" not in shown
    assert "callback-secret-7d1e" not in shown


@given(st.integers(min_value=0, max_value=4_102_444_800 * 10**6))
def test_timestamps_read_as_datetime_writes_them(micro: int) -> None:
    from datetime import datetime, timezone

    from ebs_failover._clock import iso_utc

    now = micro / 1_000_000
    moment = datetime.fromtimestamp(now, timezone.utc)
    assert iso_utc(now, digits=6) == moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
    assert iso_utc(now) == moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_picked_credentials_follow_a_rotation() -> None:
    from ebs_failover.credentials import Credentials

    first = Credentials.pick(("STS.key", "first-secret", "first-token"), None)
    assert Credentials.pick(("STS.key", "first-secret", "first-token"), None) is first
    rotated = Credentials.pick(("STS.key", "second-secret", "second-token"), None)
    assert rotated == Credentials("STS.key", "second-secret", "second-token")
    fallback = Credentials("env-key", "env-secret")
    assert Credentials.pick((None, "lone-secret", None), fallback) is fallback


def test_event_ids_are_random_uuids() -> None:
    ids = [results._uuid4() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


# -- the fifth session's shortcuts ----------------------------------------------------------------

#: JSON texts with and without the whitespace around the value that ``_decode_strict`` handles itself.
_JSON_TEXTS = st.sampled_from(
    ['{"a": 1}', ' {"a": 1}', '{"a": 1} ', "\t\n{}\r\n", "[1, 2]", "", " ", '{"a": 1} x', '{"a": 1}  {', "x"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_JSON_TEXTS, min_size=1, max_size=3).map("".join))
def test_the_strict_decoder_answers_as_json_decoder_decode(text: str) -> None:
    from ebs_failover.triggers._decode import _DECODER, _decode_strict

    assert _answer(_decode_strict, text) == _answer(_DECODER.decode, text)


def _answer(decode: Any, text: str) -> tuple[str, Any]:
    """What ``decode`` gives for ``text``: its value, or the error's message and position."""
    try:
        return "value", decode(text)
    except json.JSONDecodeError as error:
        return "error", (error.msg, error.pos)


@given(st.floats(min_value=0, max_value=10**9, allow_nan=False))
def test_a_duration_in_tenths_is_round_to_one_digit_but_for_ties(value: float) -> None:
    from ebs_failover._clock import tenths

    rounded = tenths(value)
    assert abs(rounded - value) <= 0.05 + 1e-9 * value
    assert rounded == round(value, 1) or abs(value * 10 - round(value * 10)) == pytest.approx(0.5)


def test_the_current_time_reads_as_datetime_writes_it() -> None:
    from datetime import datetime, timedelta, timezone

    from ebs_failover._clock import iso_utc

    slack = timedelta(milliseconds=1)  # datetime rounds the clock to the microsecond, iso_utc truncates
    before = datetime.now(timezone.utc)
    text = iso_utc(digits=6)
    after = datetime.now(timezone.utc)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert before - slack <= moment <= after + slack
    assert len(text) == len("2026-11-26T05:00:00.000000Z")
    assert len(iso_utc()) == len("2026-11-26T05:00:00.000Z")


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        (["failed_over"], "failed_over"),
        (["already_failed_over", "failed_over"], "failed_over"),
        (["failed_over", "refused", "dry_run"], "refused"),
        (["ignored", "failed"], "failed"),
    ],
)
def test_the_most_serious_outcome_wins(outcomes: list[str], expected: str) -> None:
    assert results.aggregate(outcomes) == expected
    assert results.aggregate(outcomes) == min(outcomes, key=results.OUTCOMES.index)


def test_a_trigger_is_immutable_and_its_shared_default_summary_read_only() -> None:
    from ebs_failover.triggers import Trigger

    bare = Trigger("manual", "manual:x", "MANUAL", None, (), None, None, None)
    with pytest.raises(AttributeError):
        bare.identity = "manual:y"  # type: ignore[misc]
    with pytest.raises(TypeError):
        bare.summary["added"] = "x"  # type: ignore[index]
    assert bare._replace(pair_id="p").pair_id == "p"
    assert bare.pair_id is None
