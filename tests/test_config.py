"""Settings: read from the environment on every invocation, a bad value named, secrets never shown."""

from __future__ import annotations

import pytest

from ebs_failover import config
from ebs_failover.cloud import Credentials
from ebs_failover.errors import ConfigError, EbsFailoverError


def test_the_settings_follow_an_environment_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAILOVER_MODE", "dry-run")
    assert not config.current().live
    monkeypatch.setenv("FAILOVER_MODE", "live")
    assert config.current().live
    monkeypatch.setenv("FAILOVER_MODE", "sometimes")
    with pytest.raises(ConfigError, match="FAILOVER_MODE"):
        config.current()
    monkeypatch.delenv("FAILOVER_MODE")
    assert config.current().mode == "dry-run"


def test_a_config_error_is_an_ebs_failover_error_naming_variable_and_expectation() -> None:
    with pytest.raises(EbsFailoverError) as raised:
        config.load({"EBS_PROTOCOL": "gopher"})
    assert isinstance(raised.value, ConfigError)
    assert raised.value.variable == "EBS_PROTOCOL"
    assert str(raised.value) == "environment variable EBS_PROTOCOL: expected one of https, http, got 'gopher'"


def test_the_settings_follow_rotated_environment_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "STS.first")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "first-secret")
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    assert config.current().environment_credentials == Credentials("STS.first", "first-secret")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "second-secret")
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "second-token")
    assert config.current().environment_credentials == Credentials(
        "STS.first", "second-secret", "second-token"
    )
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID")
    assert config.current().environment_credentials is None
    assert config.current().environment_secrets == (None, "second-secret", "second-token")


def test_the_settings_and_credentials_never_show_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "STS.shown-key")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "hidden-secret-1")
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "hidden-token-2")
    monkeypatch.setenv("CALLBACK_TOKEN", "hidden-callback-3")
    settings = config.current()
    shown = repr(settings) + repr(settings.environment_credentials)
    for secret in ("hidden-secret-1", "hidden-token-2", "hidden-callback-3"):
        assert secret not in shown


def test_picked_credentials_prefer_the_context_and_follow_a_rotation() -> None:
    fallback = Credentials("env-key", "env-secret")
    first = Credentials.pick(("STS.key", "first-secret", "first-token"), fallback)
    assert first == Credentials("STS.key", "first-secret", "first-token")
    rotated = Credentials.pick(("STS.key", "second-secret", "second-token"), fallback)
    assert rotated == Credentials("STS.key", "second-secret", "second-token")
    assert Credentials.pick((None, "lone-secret", None), fallback) is fallback


@pytest.mark.parametrize(
    "held",
    [
        {"access_key_id": "k", "access_key_secret": "s", "security_token": "t"},
        {"accessKeyId": "k", "accessKeySecret": "s", "securityToken": "t"},
    ],
    ids=["snake", "camel"],
)
def test_credentials_fields_read_either_spelling(held: dict[str, str]) -> None:
    class Attributes:
        def __init__(self, **values: str) -> None:
            self.__dict__.update(values)

    assert Credentials.fields(held) == ("k", "s", "t")
    assert Credentials.fields(Attributes(**held)) == ("k", "s", "t")


def test_a_targets_value_nested_too_deep_is_a_config_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ConfigError, match="FAILOVER_TARGETS"):
        config.load({"FAILOVER_TARGETS": deep})


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("FAILOVER_CONCURRENCY", "0", "a whole number from 1 to 100"),
        ("FAILOVER_CONCURRENCY", "101", "a whole number from 1 to 100"),
        ("FAILOVER_CONCURRENCY", "2.5", "a whole number from 1 to 100"),
        ("FAILOVER_MAX_TARGETS", "0", "a whole number from 1 to 1000"),
        ("FAILOVER_MAX_TARGETS", "many", "a whole number from 1 to 1000"),
        ("FAILOVER_CALLS_PER_SECOND", "0", "0.1 to 1000 calls per second"),
        ("FAILOVER_CALLS_PER_SECOND", "nan", "0.1 to 1000 calls per second"),
        ("FAILOVER_CALLS_PER_SECOND", "fast", "a number of calls per second"),
        ("FAILOVER_TARGETS", '{"i-bp1abc": "pg_orders"}', "group ids (pg-…)"),
        ("FAILOVER_TARGETS", '{"i-bp1abc": ["pair-cn-a", 5]}', "a pair or group id"),
    ],
)
def test_the_fleet_settings_are_validated(variable: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config.load({variable: value})
    assert raised.value.variable == variable
    assert expected in str(raised.value)


def test_the_fleet_settings_defaults_and_groups_as_targets() -> None:
    settings = config.load(
        {"FAILOVER_TARGETS": '{"i-bp1abc": ["pair-cn-a", "pg-orders"], "d-bp1x": "pg-orders"}'}
    )
    assert (settings.max_targets, settings.concurrency, settings.calls_per_second) == (20, 10, 10.0)
    assert settings.configured_targets == {"pair-cn-a", "pg-orders"}
    tuned = config.load(
        {"FAILOVER_CONCURRENCY": "50", "FAILOVER_CALLS_PER_SECOND": "2.5", "FAILOVER_MAX_TARGETS": "60"}
    )
    assert (tuned.max_targets, tuned.concurrency, tuned.calls_per_second) == (60, 50, 2.5)


def test_notify_targets_name_several_channels_with_their_filters_and_secrets() -> None:
    settings = config.load(
        {
            "NOTIFY_TARGETS": "mns:results, dingtalk:on-call[failed_over, failed,refused],webhook:audit",
            "NOTIFY_ON_CALL_URL": "https://oapi.dingtalk.com/robot/send?access_token=tok-123",
            "NOTIFY_ON_CALL_SECRET": "SECrobot",
            "NOTIFY_AUDIT_URL": "http://127.0.0.1:8080/hooks/audit",
        }
    )
    mns, robot, hook = settings.notify_targets
    assert [c.label for c in settings.notify_targets] == ["mns:results", "dingtalk:on-call", "webhook:audit"]
    assert (mns.outcomes, hook.outcomes) == (None, None)
    assert robot.outcomes == frozenset({"failed_over", "failed", "refused"})
    assert (robot.wants("failed"), robot.wants("ignored"), mns.wants("ignored")) == (True, False, True)
    assert robot.secrets == ("https://oapi.dingtalk.com/robot/send?access_token=tok-123", "SECrobot")
    assert "tok-123" not in repr(robot)
    assert hook.secret is None


@pytest.mark.parametrize(
    ("environ", "variable", "expected"),
    [
        ({"NOTIFY_TARGETS": "sms:oncall"}, "NOTIFY_TARGETS", "channels such as"),
        ({"NOTIFY_TARGETS": "mns:a,mns:a"}, "NOTIFY_TARGETS", "each channel once"),
        ({"NOTIFY_TARGETS": "mns:a[paged]"}, "NOTIFY_TARGETS", "outcomes among"),
        ({"NOTIFY_TARGETS": "mns:a[failed"}, "NOTIFY_TARGETS", "outcomes in brackets"),
        ({"NOTIFY_TARGETS": "dingtalk:x"}, "NOTIFY_X_URL", "https:// URL"),
        (
            {
                "NOTIFY_TARGETS": "dingtalk:x",
                "NOTIFY_X_URL": "http://oapi.dingtalk.com/robot/send?access_token=t",
            },
            "NOTIFY_X_URL",
            "https:// URL",
        ),
        (
            {"NOTIFY_TARGETS": "lark:x", "NOTIFY_X_URL": "https://open.feishu.cn/hook/t"},
            "NOTIFY_X_SECRET",
            "signing",
        ),
    ],
)
def test_a_bad_channel_is_a_config_error_naming_its_variable(
    environ: dict[str, str], variable: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        config.load(environ)
    assert raised.value.variable == variable
    assert expected in str(raised.value)
    assert "access_token" not in str(raised.value)  # a robot's URL is a secret: never echoed
