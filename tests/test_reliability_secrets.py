"""Secrets never leave the function: not in a log line, a result, an MNS message or an exception.

Distinctive fake secrets everywhere the function can meet one: AccessKey id / secret / STS token in
the FC context (python3.10) and in ``ALIBABA_CLOUD_*`` (python3.12, context without credentials),
``CALLBACK_TOKEN``, ``LOG_EVENT=true`` so that the raw event is logged, and events carrying the
secrets in their free-text fields (reason, idempotency key, alert name, rule name, transId,
dimensions, query token...). Every sample event, then error paths: EBS faults (transient until the
budget runs out, refusals, an error message echoing a secret, a wrong secret, an unknown key), bad
configuration, MNS failures. Each case starts with a fresh redactor, so a secret must be registered
by the invocation that meets it. The scan counts are asserted and printed (``pytest -s``).
"""

from __future__ import annotations

import base64
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote_plus

import pytest

from ebs_failover import log, redact
from ebs_failover.notify import NotifyError
from ebs_failover.testing import FakeMnsServer, FcCredentials
from tests.reliability_helpers import (
    DB_PAIR,
    FILES,
    SAMPLE_CALLBACK_TOKEN,
    SAMPLES,
    Invocation,
    Live,
    context,
)

CTX_KEY_ID = "STS.RelCtxKeyId9Lm2Qx7Wd"
CTX_SECRET = "RelCtxSecret7Hq2Lr0Vw6Zp4Kd9"
CTX_TOKEN = "CAISRelCtxStsToken+8Jk/3Nb5Vc=Qw1"
ENV_KEY_ID = "LTAIRelEnvKeyId5Pz8Ys3Qa"
ENV_SECRET = "RelEnvSecret3Xy6Tb1Mn4Gh8Uj"
ENV_TOKEN = "CAISRelEnvStsToken/2Fg+7Dk=Lp0"
CALLBACK_TOKEN = "RelCallbackToken-5e1c7a9b3d"
WRONG_SECRET = "RelWrongSecret4Ty7Ui0Op2As"
SECRETS = (CTX_KEY_ID, CTX_SECRET, CTX_TOKEN, ENV_KEY_ID, ENV_SECRET, ENV_TOKEN, CALLBACK_TOKEN, WRONG_SECRET)
ALL = " ".join(SECRETS)
TOPIC = "failover-results"

SCANNED: Counter[str] = Counter()


def ctx_shape() -> Any:
    return context(credentials=FcCredentials(CTX_KEY_ID, CTX_SECRET, CTX_TOKEN))


def env_shape() -> Any:
    return context(credentials=None)


SHAPES: dict[str, Callable[[], Any]] = {"fc-context": ctx_shape, "environment": env_shape}


@contextmanager
def scene(**env: str | None) -> Iterator[tuple[Live, FakeMnsServer]]:
    """The function with every secret configured, a fresh redactor, MNS up."""
    original = redact.REDACTOR
    redact.REDACTOR = redact.Redactor()
    try:
        with FakeMnsServer() as mns:
            mns.register_credential(CTX_KEY_ID, CTX_SECRET, security_token=CTX_TOKEN)
            mns.register_credential(ENV_KEY_ID, ENV_SECRET, security_token=ENV_TOKEN)
            mns.create_topic(TOPIC)
            settings: dict[str, str | None] = {
                "CALLBACK_TOKEN": CALLBACK_TOKEN,
                "LOG_EVENT": "true",
                "NOTIFY_TARGETS": f"mns:{TOPIC}",
                "MNS_ENDPOINT": mns.endpoint,
                "ALIBABA_CLOUD_ACCESS_KEY_ID": ENV_KEY_ID,
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ENV_SECRET,
                "ALIBABA_CLOUD_SECURITY_TOKEN": ENV_TOKEN,
                "FAILOVER_TIME_MARGIN": "1",
                **env,
            }
            credentials = [(CTX_KEY_ID, CTX_SECRET, CTX_TOKEN), (ENV_KEY_ID, ENV_SECRET, ENV_TOKEN)]
            with Live(env=settings, credentials=credentials) as live:  # configures the log: after the swap
                yield live, mns
    finally:
        redact.REDACTOR = original
        log.configure(stream=io.StringIO())


def known(ctx: Any) -> tuple[str, ...]:
    """The secrets the function holds in an invocation: what it can (and must) mask.

    Always the ``ALIBABA_CLOUD_*`` ones and ``CALLBACK_TOKEN`` (all in the environment), plus the
    context's credentials when it has some. A secret of the other shape, present only in the event's
    text, is just text to the function.
    """
    credentials = getattr(ctx, "credentials", None)
    held = [ENV_KEY_ID, ENV_SECRET, ENV_TOKEN, CALLBACK_TOKEN]
    if credentials is not None:
        held += [credentials.access_key_id, credentials.access_key_secret, credentials.security_token]
    return tuple(held)


def scan(call: Invocation, mns: FakeMnsServer, seen: int, secrets: tuple[str, ...]) -> int:
    """Assert no secret in anything this invocation produced; returns the MNS message count."""
    texts: list[tuple[str, str]] = []
    lines = call.text.splitlines()
    SCANNED["log lines"] += len(lines)
    texts += [("log", line) for line in lines]
    if call.result is not None:
        SCANNED["results"] += 1
        texts.append(("result", json.dumps(call.result, ensure_ascii=False)))
    if call.error is not None:
        SCANNED["exceptions"] += 1
        texts.append(("exception", f"{call.error}\n{call.error!r}\n{call.error.args!r}"))
    messages = mns.published[TOPIC][seen:]
    SCANNED["messages"] += len(messages)
    texts += [("message", m.body) for m in messages]
    for where, text in texts:
        for secret in secrets:
            assert secret not in text, f"{secret} in a {where}: {text[:300]}"
    return len(mns.published[TOPIC])


def run(live: Live, mns: FakeMnsServer, event: Any, ctx: Any) -> Invocation:
    seen = len(mns.published[TOPIC])
    call = live.invoke(event, ctx)
    scan(call, mns, seen, known(ctx))
    if call.changes:
        live.reseed()
    return call


# -- the events ------------------------------------------------------------------------------------


def sample(name: str) -> bytes:
    """A sample, its callback URL token replaced by the secret one."""
    return SAMPLES[name].replace(SAMPLE_CALLBACK_TOKEN.encode(), CALLBACK_TOKEN.encode())


def _envelope(form: str, token: str, encoded: bool) -> bytes:
    envelope = json.loads(SAMPLES["http-envelope-callback-plain.json"])
    envelope["queryParameters"] = {"token": token}
    envelope["headers"]["X-Note"] = ALL
    envelope["body"] = base64.b64encode(form.encode()).decode() if encoded else form
    envelope["isBase64Encoded"] = encoded
    return json.dumps(envelope).encode()


CALLBACK_FORM = (
    f"alertName={quote_plus('disk hang ' + ALL)}&alertState=ALERT&triggerLevel=CRITICAL"
    f"&metricName={quote_plus(CTX_SECRET)}&namespace=acs_ebs_dashboard&ruleId=rule-secret"
    f"&transId={quote_plus(CALLBACK_TOKEN)}&timestamp=1726121300000"
    f"&dimensions={quote_plus('{userId=1, diskId=d-bp1demo0primary01, note=' + CTX_TOKEN + '}')}"
)


def secret_events() -> dict[str, Any]:
    manual = {"action": "failover", "replicaPairId": DB_PAIR, "reason": f"creds: {ALL}"}
    alarm = json.loads(SAMPLES["cms-alarm-json-critical.json"])
    alarm.update(ruleName=f"rule {ALL}", productGroupName=ENV_SECRET, batchId=CTX_TOKEN)
    bridge = json.loads(SAMPLES["eventbridge-cms-alertwebhook.json"])
    bridge["data"]["alertName"] = f"alert {ALL}"
    bridge["id"] = ENV_TOKEN
    system = json.loads(SAMPLES["system-disk-stalled-executing.json"])
    system["content"]["ecsInstanceName"] = ALL
    system["id"] = CTX_SECRET
    mns_message = json.loads(SAMPLES["mns-message-cms-alarm.json"])
    mns_message["Message"] = json.dumps(alarm)
    mns_message["Subscriber"] = ALL
    return {
        "manual, secrets in the reason": json.dumps({**manual, "idempotencyKey": "sec-1"}).encode(),
        "manual, a secret as idempotency key": json.dumps({**manual, "idempotencyKey": CTX_SECRET}).encode(),
        "manual, as a dict": {**manual, "idempotencyKey": "sec-2"},
        "manual, refused": json.dumps(
            {**manual, "replicaPairId": "pair-cn-other1", "idempotencyKey": ALL}
        ).encode(),
        "manual, invalid (extra field)": json.dumps({**manual, ENV_KEY_ID.lower(): ALL}).encode(),
        "callback, form": CALLBACK_FORM.encode(),
        "callback, invalid timestamp": CALLBACK_FORM.replace("1726121300000", quote_plus(CTX_TOKEN)).encode(),
        "cms alarm JSON": json.dumps(alarm).encode(),
        "eventbridge": json.dumps(bridge).encode(),
        "system event": json.dumps(system).encode(),
        "mns message": json.dumps(mns_message).encode(),
        "envelope, plain, right token": _envelope(CALLBACK_FORM, CALLBACK_TOKEN, encoded=False),
        "envelope, base64, right token": _envelope(CALLBACK_FORM, CALLBACK_TOKEN, encoded=True),
        "envelope, a secret as wrong token": _envelope(CALLBACK_FORM, CTX_SECRET, encoded=False),
        "envelope, token prefix": _envelope(CALLBACK_FORM, CALLBACK_TOKEN[:-1], encoded=False),
    }


# -- the cases -------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_sample_leaks_nothing(shape: str) -> None:
    with scene() as (live, mns):
        outcomes = Counter(run(live, mns, sample(p.name), SHAPES[shape]()).outcome for p in FILES)
    assert outcomes["failed_over"] >= 8  # the envelopes passed the (secret) callback token
    print(f"\nSECRETS samples/{shape}: {dict(outcomes)}; scanned so far {dict(SCANNED)}")


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_events_carrying_the_secrets_leak_nothing(shape: str) -> None:
    with scene() as (live, mns):
        outcomes = {name: run(live, mns, event, SHAPES[shape]()) for name, event in secret_events().items()}
    assert outcomes["manual, secrets in the reason"].outcome == "failed_over"
    assert outcomes["envelope, base64, right token"].outcome == "failed_over"
    assert outcomes["envelope, a secret as wrong token"].outcome == "rejected"
    assert "***" in json.dumps(outcomes["manual, secrets in the reason"].result)  # masked, not dropped
    print(f"\nSECRETS events/{shape}: { ({k: v.outcome for k, v in outcomes.items()}) }")


FAILOVER = "FailoverDiskReplicaPair"
EBS_FAULTS: dict[str, Callable[[Live], object]] = {
    "500 on every attempt": lambda live: live.fake.faults.error(FAILOVER, 500, "InternalError", times=1000),
    "403 Forbidden.Action": lambda live: live.fake.faults.error(FAILOVER, 403, "Forbidden.Action"),
    "an error echoing the secrets": lambda live: live.fake.faults.error(
        FAILOVER, 400, "InvalidParameter.Echo", f"bad value {ALL}"
    ),
    "a transient error echoing the secrets": lambda live: live.fake.faults.error(
        "DescribeDiskReplicaPairs", 503, "ServiceUnavailable", f"busy {ALL}", times=1000
    ),
    "connection reset": lambda live: live.fake.faults.drop(FAILOVER),
    "lost answer": lambda live: live.fake.faults.stall(FAILOVER, when="after"),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_ebs_errors_leak_nothing(shape: str) -> None:
    event = json.dumps(
        {"action": "failover", "replicaPairId": DB_PAIR, "reason": ALL, "idempotencyKey": "sec-ebs"}
    ).encode()
    observed: dict[str, str] = {}
    with scene() as (live, mns):
        for name, inject in EBS_FAULTS.items():
            inject(live)
            call = run(live, mns, event, context(timeout=2, credentials=SHAPES[shape]().credentials))
            observed[name] = type(call.error).__name__ if call.error else call.outcome
            live.reseed()
        # Credentials EBS does not accept: a wrong secret, an unknown key.
        for name, credentials in {
            "wrong secret": FcCredentials(CTX_KEY_ID, WRONG_SECRET, CTX_TOKEN),
            "unknown key": FcCredentials("STS.RelUnknownKey00", CTX_SECRET, CTX_TOKEN),
            "wrong STS token": FcCredentials(CTX_KEY_ID, CTX_SECRET, ENV_TOKEN),
        }.items():
            call = run(live, mns, event, context(credentials=credentials))
            # MNS refuses the same credentials: nobody was told of a failed result, so the handler raises
            # (after its log line) for FC to deliver the event again.
            data = (call.result or call.result_lines()[0]["result"])["data"]
            observed[name] = f"{data['outcome']} ({data['targets'][0].get('error_code')})"
            assert call.result is not None or type(call.error).__name__ == "NotifyError", call.error
    assert observed["500 on every attempt"] == "TransientFailure"
    assert observed["an error echoing the secrets"] == "failed"
    assert observed["wrong secret"].startswith("failed")
    print(f"\nSECRETS ebs/{shape}: {observed}")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FAILOVER_MODE", "bogus"),
        ("FAILOVER_TARGETS", "{not json"),
        ("CALLBACK_ALLOWED_IPS", "not-a-network"),
        ("FAILOVER_TIME_MARGIN", "-5"),
        ("NOTIFY_TARGETS", "mns:"),
    ],
)
def test_bad_configuration_leaks_nothing(variable: str, value: str) -> None:
    with scene(**{variable: value}) as (live, mns):
        for event in (
            sample("http-envelope-callback-plain.json"),
            secret_events()["manual, secrets in the reason"],
        ):
            for make in SHAPES.values():
                call = run(live, mns, event, make())
                assert call.outcome == "failed"
                assert variable in call.result["data"]["reason"]  # type: ignore[index]


MNS_FAULTS: dict[str, Callable[[FakeMnsServer], None]] = {
    "down": lambda mns: mns.down(),
    "503": lambda mns: mns.fail_next(1000),
    "topic missing": lambda mns: mns.topics.discard(TOPIC),
}


@pytest.mark.parametrize("fault", sorted(MNS_FAULTS))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_mns_errors_leak_nothing(shape: str, fault: str) -> None:
    event = json.dumps(
        {"action": "failover", "replicaPairId": DB_PAIR, "reason": ALL, "idempotencyKey": f"sec-mns-{fault}"}
    ).encode()
    with scene() as (live, mns):
        MNS_FAULTS[fault](mns)
        call = run(live, mns, event, SHAPES[shape]())
        assert type(call.error).__name__ == "NotifyError"
        assert len(call.changes) == 1


def test_mns_credentials_mns_does_not_accept_leak_nothing() -> None:
    event = json.dumps(
        {"action": "failover", "replicaPairId": DB_PAIR, "reason": ALL, "idempotencyKey": "sec-mns-creds"}
    ).encode()
    with scene() as (live, mns):
        mns.register_credential(
            CTX_KEY_ID, WRONG_SECRET, security_token=CTX_TOKEN
        )  # MNS knows another secret
        call = run(live, mns, event, ctx_shape())
        assert isinstance(call.error, NotifyError)
        assert call.error.code == "SignatureDoesNotMatch"
        mns.register_credential(CTX_KEY_ID, CTX_SECRET, security_token=ENV_TOKEN)  # ... another token
        call = run(live, mns, secret_events()["cms alarm JSON"], ctx_shape())
        assert isinstance(call.error, NotifyError)
        assert call.error.code == "AccessDenied"


def test_zz_scan_counts() -> None:
    """Printed for RELIABILITY.md; asserted when the whole module ran (not under ``-k``)."""
    print(f"\nSECRETS scanned: {dict(SCANNED)}")
    if SCANNED["results"]:
        assert SCANNED["log lines"] >= 250
        assert SCANNED["results"] >= 120
        assert SCANNED["messages"] >= 100
        assert SCANNED["exceptions"] >= 10


# -- leaks found by this suite, fixed (regressions) -------------------------------------------------


@pytest.mark.parametrize("where", ["summary (200)", "invalid event (80)"])
def test_a_secret_cut_by_truncation_leaks_no_part(where: str) -> None:
    """A value is shortened before the redactor runs; the cut-off start of a secret is masked too."""
    piece = CTX_SECRET[:8]  # unique to it: "RelCtx" also starts another secret
    if where == "summary (200)":
        event = json.dumps(
            {
                "action": "failover",
                "replicaPairId": DB_PAIR,
                "reason": "x" * 188 + CTX_SECRET,
                "idempotencyKey": "t",
            }
        ).encode()
    else:
        event = CALLBACK_FORM.replace("1726121300000", "1" * 65 + CTX_SECRET).encode()
    with scene() as (live, mns):
        call = live.invoke(event, ctx_shape())
        text = call.text + json.dumps(call.result) + "".join(m.body for m in mns.published[TOPIC])
    assert piece not in text


def test_a_secret_as_a_key_of_a_dict_event_is_masked() -> None:
    with scene() as (live, _):
        call = live.invoke({"action": "failover", CALLBACK_TOKEN: 1}, ctx_shape())
    assert call.outcome == "rejected"
    assert CALLBACK_TOKEN not in call.text


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_an_mns_error_echoing_secrets_leaks_nothing_through_the_exception(shape: str) -> None:
    """The raised NotifyError (FC prints it) once kept what MNS echoed: the AccessKey id, CALLBACK_TOKEN..."""
    event = json.dumps(
        {"action": "failover", "replicaPairId": DB_PAIR, "reason": "echo", "idempotencyKey": "sec-echo"}
    ).encode()
    with scene() as (live, mns):
        mns.fail_next(1000, 400, "InvalidArgument", f"bad {ALL}")
        ctx = SHAPES[shape]()
        call = live.invoke(event, ctx)
        assert type(call.error).__name__ == "NotifyError"
        line = json.dumps(call.result_lines())
        text = f"{call.error}"
    leaked = [secret for secret in known(ctx) if secret in text]
    assert all(secret not in line for secret in known(ctx))  # the log line is clean
    assert leaked == []
