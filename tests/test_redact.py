"""The redactor: what it masks, in which forms, and that its three users mask alike."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from ebs_failover import log, redact
from ebs_failover.cli._common import masked, say
from ebs_failover.cloud import Credentials
from ebs_failover.handler import handler
from ebs_failover.notify.mns import _scrub
from ebs_failover.redact import MASK, Redactor, mask_named, shorten
from ebs_failover.testing import FakeEbs, FcContext, FcCredentials, MockEbs

from .conftest import STANDBY, seed_pair

PLAIN = "Sup3rS3cretValue-9f8e7d"
SECRETS = {
    "plain": PLAIN,
    "JSON-escaped characters": 'se"cr\\et/+=',
    "control character": "tab\there",
    "non-ASCII": "秘密的令牌",
    "base64 STS token": "CAIS+gF1q6Ft5B2yfSjIr5b/Dd3ApL1Y0Q==",
}
FORMS: dict[str, Callable[[str], str]] = {
    "clear": lambda s: s,
    "quote": lambda s: quote(s, safe=""),
    "quote_plus": quote_plus,
}
SECRET_KEYS = [
    "AccessKeySecret",
    "access_key_secret",
    "password",
    "db_password",
    "security_token",
    "SecurityToken",
    "Authorization",
    "x-acs-signature",
    "Signature",
    "credentials",
    "robotSecret",
]
NOT_SECRET_KEYS = ["client_token", "ClientToken", "token", "replica_pair_id", "reason", "idempotencyKey"]


def _redactor(*secrets: str) -> Redactor:
    redactor = Redactor()
    redactor.register(secrets)
    return redactor


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEbs]:
    """The function in dry-run, configured for the demo database pair, which the fake holds."""
    monkeypatch.setenv("FAILOVER_TARGETS", json.dumps({"d-bp1demo0primary01": "pair-cn-demo0db01"}))
    monkeypatch.setenv("FAILOVER_REGION", STANDBY)
    monkeypatch.setenv("FAILOVER_MODE", "dry-run")  # a look at the pair, no failover
    fake = FakeEbs()
    fake.load_seed({"pairs": [seed_pair("pair-cn-demo0db01", "d-bp1demo0primary01")]})
    with MockEbs(fake):
        yield fake


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Redactor:
    """A new process-wide redactor: what earlier tests registered is forgotten."""
    redactor = Redactor()
    monkeypatch.setattr(redact, "REDACTOR", redactor)
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN", "CALLBACK_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return redactor


# -- registered secrets, anywhere in any string -------------------------------------------


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
@pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
def test_a_registered_secret_is_masked_in_each_form(secret: str, form: Callable[[str], str]) -> None:
    redactor = _redactor(secret)
    assert redactor.scrub_text(form(secret)) == MASK
    assert redactor.scrub_text(f"denied: key={form(secret)}&next=1") == "denied: key=***&next=1"
    assert redactor.scrub(form(secret)) == MASK


@pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
def test_every_occurrence_is_masked(secret: str) -> None:
    text = f"{secret}|{quote(secret, safe='')}|{quote_plus(secret)}|{secret}{secret}"
    assert _redactor(secret).scrub_text(text) == "***|***|***|******"


@pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
def test_a_secret_is_masked_inside_nested_values(secret: str) -> None:
    value = {
        "outer": [{"inner": f"echo {secret} echo"}, [secret, 7, None]],
        "tuple": (f"({quote_plus(secret)})",),
        f"key-{secret}": True,
    }
    assert _redactor(secret).scrub(value) == {
        "outer": [{"inner": "echo *** echo"}, ["***", 7, None]],
        "tuple": ["(***)"],
        "key-***": True,
    }


def test_a_log_line_of_a_json_escaped_secret_is_masked(fresh: Redactor, logs: io.StringIO) -> None:
    secret = SECRETS["JSON-escaped characters"]
    fresh.register([secret])
    log.LOGGER.info("echo", body=f'{{"k": "{secret}"}}', nested={"list": [secret]})
    text = logs.getvalue()
    assert secret not in text
    assert json.dumps(secret)[1:-1] not in text  # nor as JSON wrote it
    line = json.loads(text)
    assert (line["body"], line["nested"]) == ('{"k": "***"}', {"list": ["***"]})


def test_an_unregistered_value_is_left_alone() -> None:
    assert _redactor(PLAIN).scrub_text("nothing to see: Sup3rS3cret") == "nothing to see: Sup3rS3cret"
    assert Redactor().scrub_text(PLAIN) == PLAIN  # nothing registered


# -- secret-looking keys ------------------------------------------------------------------


@pytest.mark.parametrize("key", SECRET_KEYS)
@pytest.mark.parametrize("value", ["hunter2", "x", 12345, {"nested": "dict"}, ["a", "list"], False])
def test_a_value_under_a_secret_looking_key_is_masked_whatever_it_is(key: str, value: Any) -> None:
    assert Redactor().scrub({key: value, "other": "kept"}) == {key: MASK, "other": "kept"}
    assert Redactor().scrub([{"deeper": {key: value}}]) == [{"deeper": {key: MASK}}]


@pytest.mark.parametrize("key", NOT_SECRET_KEYS)
def test_a_value_under_an_ordinary_key_is_kept(key: str) -> None:
    value = "ebsfo-350e26a45c9a1c41db7dded2115035"
    assert Redactor().scrub({key: value}) == {key: value}


@pytest.mark.parametrize("key", ["password", "AccessKeySecret", "Authorization"])
@pytest.mark.parametrize("empty", [None, ""])
def test_an_empty_secret_value_stays_empty(key: str, empty: str | None) -> None:
    assert Redactor().scrub({key: empty}) == {key: empty}


def test_is_secret_key() -> None:
    assert all(redact.is_secret_key(key) for key in SECRET_KEYS)
    assert not any(redact.is_secret_key(key) for key in NOT_SECRET_KEYS)


# -- registering ------------------------------------------------------------------------


@pytest.mark.parametrize("short", ["", "a", "abc"])
def test_values_shorter_than_four_characters_are_not_registered(short: str) -> None:
    redactor = _redactor(short)
    text = "a abc cab abcd"
    assert redactor.scrub_text(text) == text


def test_four_characters_are_enough() -> None:
    assert _redactor("abcd").scrub_text("xabcdx") == "x***x"


def test_none_is_ignored_among_the_values() -> None:
    redactor = Redactor()
    redactor.register([None, PLAIN, None])
    assert redactor.scrub_text(PLAIN) == MASK


def test_registering_again_is_harmless_and_a_later_secret_is_masked_too() -> None:
    redactor = _redactor(PLAIN)
    redactor.register([PLAIN])
    redactor.register([PLAIN, None, ""])
    assert redactor.scrub_text(f"<{PLAIN}>") == "<***>"
    later = "later-secret-0042"
    redactor.register([later])
    assert redactor.scrub_text(f"{PLAIN} {later}") == "*** ***"


def test_a_secret_inside_another_is_masked_as_one() -> None:
    redactor = _redactor("abcd", "xxabcdyy")
    assert redactor.scrub_text("[xxabcdyy] [abcd]") == "[***] [***]"


# -- cut text -----------------------------------------------------------------------------


@pytest.mark.parametrize("kept", [4, 5, 12, len(PLAIN) - 1])
def test_a_secret_cut_by_shorten_has_its_surviving_characters_masked(kept: int) -> None:
    prefix = "denied for key "
    cut = shorten(prefix + PLAIN + " and more text", len(prefix) + kept + len(redact.CUT))
    assert cut == prefix + PLAIN[:kept] + "..."
    assert _redactor(PLAIN).scrub_text(cut) == prefix + "***..."


def test_three_surviving_characters_are_too_few_to_mask() -> None:
    cut = "key " + PLAIN[:3] + "..."
    assert _redactor(PLAIN).scrub_text(cut) == cut


def test_a_cut_in_the_middle_of_a_text_is_masked_too() -> None:
    text = f"first {PLAIN[:8]}... then {PLAIN}"
    assert _redactor(PLAIN).scrub_text(text) == "first ***... then ***"


def test_a_cut_url_encoded_secret_has_its_surviving_characters_masked() -> None:
    secret = SECRETS["base64 STS token"]
    prefix = "GET /?SecurityToken="
    cut = shorten(prefix + quote(secret, safe="") + "&Signature=x", len(prefix) + 12)
    assert "%2B" in cut  # the cut kept a few encoded characters of the token
    assert _redactor(secret).scrub_text(cut) == prefix + "***..."


# -- purity -------------------------------------------------------------------------------


def test_scrub_does_not_modify_its_input() -> None:
    value = {
        "password": "hunter22",
        "list": [PLAIN, {"Authorization": "Bearer x"}],
        "tuple": (PLAIN,),
        PLAIN: "key",
    }
    before = copy.deepcopy(value)
    scrubbed = _redactor(PLAIN).scrub(value)
    assert value == before
    assert scrubbed != value
    assert scrubbed["list"] is not value["list"]


# -- the three users mask alike -----------------------------------------------------------

SHARED = "Sh4red/Secret+Value=="
SHARED_TEXT = f"EBS said: bad key {SHARED} (form: {quote_plus(SHARED)})"
SHARED_MASKED = "EBS said: bad key *** (form: ***)"


def _through_the_log(text: str) -> str:
    stream = io.StringIO()
    log.configure(stream=stream)
    try:
        log.isolated(lambda: log.LOGGER.info("echo", detail=text))
    finally:
        log.configure(stream=io.StringIO())
    detail: str = json.loads(stream.getvalue())["detail"]
    return detail


def test_the_log_masks_a_registered_secret(fresh: Redactor) -> None:
    fresh.register([SHARED])
    assert _through_the_log(SHARED_TEXT) == SHARED_MASKED


@pytest.mark.parametrize("place", ["secret", "token"])
def test_the_mns_channel_masks_its_credentials(fresh: Redactor, place: str) -> None:
    credentials = (
        Credentials("AKID", SHARED, "sts-0000")
        if place == "secret"
        else Credentials("AKID", "unused-1", SHARED)
    )
    assert _scrub(SHARED_TEXT, credentials) == SHARED_MASKED
    assert _through_the_log(SHARED_TEXT) == SHARED_MASKED  # registered for every user


@pytest.mark.parametrize(
    "variable", ["ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN", "CALLBACK_TOKEN"]
)
def test_the_cli_masks_the_secret_environment(
    fresh: Redactor, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str
) -> None:
    monkeypatch.setenv(variable, SHARED)
    assert masked(SHARED_TEXT) == SHARED_MASKED
    say(SHARED_TEXT + "\nsecond line")
    assert capsys.readouterr().err == f"ebs-failover: {SHARED_MASKED} second line\n"


def test_the_three_users_mask_a_secret_the_same_way(fresh: Redactor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLBACK_TOKEN", SHARED)
    outputs = {
        "cli": masked(SHARED_TEXT),  # registers it from the environment
        "mns": _scrub(SHARED_TEXT, None),
        "log": _through_the_log(SHARED_TEXT),
    }
    assert outputs == dict.fromkeys(outputs, SHARED_MASKED)


def test_a_secret_the_handler_saw_is_masked_by_every_user(
    fresh: Redactor, fake: FakeEbs, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: the handler registers the context's secret; its lines, MNS and the CLI mask it."""
    fake.register_credential("STS.fc-role", SHARED, security_token="STS-token-value-1a2b3c4d5e")
    monkeypatch.setenv("LOG_EVENT", "true")
    reason = f"operator pasted {SHARED} by mistake"
    event = json.dumps({"action": "failover", "replicaPairId": "pair-cn-demo0db01", "reason": reason})
    context = FcContext(credentials=FcCredentials("STS.fc-role", SHARED, "STS-token-value-1a2b3c4d5e"))
    result = handler(event.encode(), context)
    text = logs.getvalue()
    assert [json.loads(line)["message"] for line in text.splitlines()] == ["raw_event", "result"]
    assert SHARED not in text + json.dumps(result)
    assert MASK in text
    assert result["data"]["trigger"]["summary"]["reason"] == "operator pasted *** by mistake"
    for output in (masked(SHARED_TEXT), _scrub(SHARED_TEXT, None)):
        assert MASK in output
        assert SHARED not in output


def test_a_json_escaped_secret_in_a_logged_event_is_masked(
    fresh: Redactor, fake: FakeEbs, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = SECRETS["JSON-escaped characters"]
    fake.register_credential("STS.fc-role", secret)
    monkeypatch.setenv("LOG_EVENT", "true")
    event = json.dumps({"action": "failover", "replicaPairId": "pair-cn-demo0db01", "reason": secret})
    handler(event.encode(), FcContext(credentials=FcCredentials("STS.fc-role", secret, "")))
    raw_event = json.loads(logs.getvalue().splitlines()[0])["raw_event"]
    assert secret not in json.loads(raw_event)["reason"]


def test_a_cut_secret_is_masked_whole_when_another_secret_fits_its_tail() -> None:
    # Each pair: the second secret's first characters are followed by the whole first one's prefix.
    # Which secret _mask_cut_end tries first is the frozenset's order: 32 pairs, so one at least is wrong.
    leaked = []
    for n in range(32):
        inner, outer = f"abcd{n:02}XYZW1234", f"zzzzabcd{n:02}XYZQ"
        cut = "x " + outer[:-1] + redact.CUT
        masked_cut = _redactor(inner, outer).scrub_text(cut)
        if masked_cut != "x ***...":
            leaked.append(masked_cut)
    assert leaked == []


@pytest.mark.parametrize("kind", [bytes, bytearray])
def test_a_logged_raw_event_of_bytes_or_a_bytearray_is_text_masked(
    fresh: Redactor,
    fake: FakeEbs,
    logs: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
    kind: type[bytes] | type[bytearray],
) -> None:
    secret = "Bytearray-Secret-Value-77"
    fake.register_credential("STS.fc-role", secret)
    monkeypatch.setenv("LOG_EVENT", "true")
    event = json.dumps({"action": "failover", "replicaPairId": "pair-cn-demo0db01", "reason": f"x {secret}"})
    handler(kind(event.encode()), FcContext(credentials=FcCredentials("STS.fc-role", secret, "")))
    raw_event = json.loads(logs.getvalue().splitlines()[0])["raw_event"]
    assert json.loads(raw_event)["reason"] == "x ***"  # the event's text, not a repr
    assert secret not in logs.getvalue()


def test_a_value_of_another_type_is_its_masked_repr() -> None:
    class Holder:
        def __repr__(self) -> str:
            return "Holder(Other-Type-Secret-42)"

    assert _redactor("Other-Type-Secret-42").scrub({"held": Holder(), "n": 3, "ok": True}) == {
        "held": "Holder(***)",
        "n": 3,
        "ok": True,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=1&token=abc%20d&sign=zz&transId=5", "a=1&token=***&sign=***&transId=5"),
        (
            '{"token": ["a", "b"], "access_token":"q", "other":"v"}',
            '{"token": ["***"], "access_token":"***", "other":"v"}',
        ),
        ('{"X-Acs-Signature": "s\\"ig", "Host": "h"}', '{"X-Acs-Signature": "***", "Host": "h"}'),
    ],
)
def test_values_named_like_secrets_are_masked_in_raw_text(text: str, expected: str) -> None:
    assert mask_named(text) == expected


@pytest.mark.parametrize(
    "text", ["a" * 65536, "token" * 13000, "a-" * 32000, '"' * 65536, "x=" * 30000, "[" + '"a",' * 15000]
)
def test_masking_named_values_is_linear_on_hostile_text(text: str) -> None:
    """A raw event is anyone's text: the pattern must not backtrack (a fuzzed event once hung it)."""
    masked = mask_named(text)
    assert len(masked) <= len(text) + 3
