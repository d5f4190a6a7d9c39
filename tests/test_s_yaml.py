"""s.yaml: the Serverless Devs (fc3 component) deployment of the same function as template.yml.

The two descriptions are held side by side: the handler, runtime, code package, sizes, environment,
retries, failure destination and both triggers of s.yaml are compared with template.yml's, resolved
for the same inputs, so that changing one without the other fails here.

The fc3 component's props are checked against :data:`FC3_PROPS`, a subset of the component's own JSON
schema (devsapp/fc3 ``src/schema.json`` at d1472196f74a717199d17d31177b48438ef3f8d4, 2026-05-24;
generated from its ``IProps`` TypeScript interface), restated for the props s.yaml uses. The component
itself only logs a schema mismatch (``src/utils/verify.ts``: debug output, deploys anyway), so this is
stricter than ``s deploy``. One deviation, kept on purpose: the schema marks ``eventSourceParameters``
and ``runOptions`` of an eventbridge trigger as required (the interface's fields are not optional),
yet the component's own example of a ``Default`` source (``__tests__/complete-props.yaml``) has
neither, and ``runOptions`` applies to event-streaming only; FC3_PROPS leaves them optional.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
import yaml

from ebs_failover import config
from tests import template_specs as ros

from .helpers import demo, only, sample_values, stack, template, trigger

ROOT = Path(__file__).resolve().parent.parent
S_YAML = ROOT / "s.yaml"
ACCOUNT = "1234567890123456"

_TRIGGER = {
    "type": "object",
    "required": ["triggerName", "triggerType", "triggerConfig"],
    "properties": {
        "triggerName": {"type": "string"},
        "triggerType": {
            "enum": ["cdn_events", "eventbridge", "http", "log", "mns_topic", "oss", "tablestore", "timer"]
        },
        "qualifier": {"type": "string"},
        "description": {"type": "string"},
        "triggerConfig": {"type": "object"},
    },
}
_HTTP_CONFIG = {
    "type": "object",
    "required": ["authType", "methods"],
    "properties": {
        "authType": {"enum": ["anonymous", "function", "jwt"]},
        "methods": {
            "type": "array",
            "items": {"enum": ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]},
        },
        "disableURLInternet": {"type": "boolean"},
    },
}
_EVENTBRIDGE_CONFIG = {
    "type": "object",
    # The schema's list less eventSourceParameters and runOptions (see the module docstring).
    "required": ["asyncInvocationType", "eventRuleFilterPattern", "eventSinkConfig", "eventSourceConfig"],
    "properties": {
        "asyncInvocationType": {"type": "boolean"},
        "triggerEnable": {"type": "boolean"},
        "eventRuleFilterPattern": {"type": "string"},
        "eventSinkConfig": {
            "type": "object",
            "required": ["deliveryOption"],
            "properties": {"deliveryOption": {"type": "object"}},
        },
        "eventSourceConfig": {
            "type": "object",
            "required": ["eventSourceType"],
            "properties": {
                "eventSourceType": {"type": "string"},
                "eventSourceParameters": {"type": "object"},
            },
        },
        "runOptions": {"type": "object"},
    },
}
#: devsapp/fc3 src/schema.json's IProps, for the props s.yaml uses (types, enums, ranges as there).
FC3_PROPS: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["region", "functionName", "runtime", "code", "handler"],
    "properties": {
        "region": {"enum": sorted(ros.FC3_REGIONS)},
        "functionName": {"type": "string"},
        "description": {"type": "string"},
        "runtime": {
            "enum": [
                "custom",
                "custom-container",
                "micro-sandbox",
                "custom.debian10",
                "custom.debian11",
                "custom.debian12",
                "dotnetcore2.1",
                "dotnetcore3.1",
                "go1",
                "java11",
                "java8",
                "nodejs10",
                "nodejs12",
                "nodejs14",
                "nodejs16",
                "nodejs18",
                "nodejs20",
                "nodejs8",
                "php7.2",
                "python2.7",
                "python3",
                "python3.10",
                "python3.12",
                "python3.9",
            ]
        },
        "handler": {"type": "string"},
        "code": {"type": "string"},  # ICodeUri: a path (or {ossBucketName, ossObjectName, src})
        "cpu": {"type": "number", "minimum": 0.05, "maximum": 16},
        "memorySize": {"type": "integer", "multipleOf": 64, "minimum": 128, "maximum": 32768},
        "timeout": {"type": "integer", "minimum": 1, "maximum": 86400},
        "instanceConcurrency": {"type": "integer", "minimum": 1, "maximum": 200},
        "role": {"type": "string"},
        "logConfig": {
            "anyOf": [
                {
                    "type": "object",
                    "required": ["logstore", "project"],
                    "properties": {
                        "project": {"type": "string"},
                        "logstore": {"type": "string"},
                        "enableRequestMetrics": {"type": "boolean"},
                        "enableInstanceMetrics": {"type": "boolean"},
                        "logBeginRule": {"enum": ["DefaultRegex", "None"]},
                    },
                },
                {"const": "auto", "type": "string"},
            ]
        },
        "environmentVariables": {"type": "object", "additionalProperties": {"type": "string"}},
        "asyncInvokeConfig": {
            "type": "object",
            "properties": {
                "maxAsyncEventAgeInSeconds": {"type": "number", "minimum": 1, "maximum": 2592000},
                "maxAsyncRetryAttempts": {"type": "number", "minimum": 0, "maximum": 8},
                "destinationConfig": {
                    "type": "object",
                    "properties": {
                        "onFailure": {"type": "object", "properties": {"destination": {"type": "string"}}},
                        "onSuccess": {"type": "object", "properties": {"destination": {"type": "string"}}},
                    },
                },
            },
        },
        "triggers": {"type": "array", "items": _TRIGGER},
    },
}
#: ITimerTriggerConfig (the same schema.json).
_TIMER_CONFIG: dict[str, Any] = {
    "type": "object",
    "required": ["cronExpression", "enable"],
    "properties": {
        "cronExpression": {"type": "string"},
        "enable": {"type": "boolean"},
        "payload": {"type": "string"},
    },
}
#: The trigger configs by type (the schema's anyOf of configs, for the types s.yaml has).
TRIGGER_CONFIGS = {"http": _HTTP_CONFIG, "eventbridge": _EVENTBRIDGE_CONFIG, "timer": _TIMER_CONFIG}

#: The one JavaScript expression s.yaml uses (Serverless Devs' magic variables are art-template code): a
#: whole value ``${env('X', 'd') == 'true'}``, a boolean.
SWITCH = re.compile(r"^\$\{env\('(?P<env>[A-Za-z_][A-Za-z0-9_]*)', '(?P<default>[^']*)'\) == 'true'\}$")

VARIABLE = re.compile(
    r"\$\{(?:env\('(?P<env>[A-Za-z_][A-Za-z0-9_]*)'(?:,\s*'(?P<default>[^']*)')?\)"
    r"|vars\.(?P<var>[A-Za-z_][A-Za-z0-9_]*)|config\('(?P<config>[A-Za-z]+)'\))\}"
)


@cache
def document() -> dict[str, Any]:
    loaded = yaml.safe_load(S_YAML.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


class Unset(Exception):
    pass


def resolve(node: Any, env: Mapping[str, str], variables: Mapping[str, Any]) -> Any:
    """Serverless Devs 3's magic variables, the forms s.yaml uses: ${env('X')}, ${env('X', 'd')},
    ${vars.x}, ${config('AccountID')}. An env variable without a default and without a value: Unset."""
    if isinstance(node, dict):
        return {key: resolve(value, env, variables) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, env, variables) for item in node]
    if not isinstance(node, str):
        return node
    switch = SWITCH.match(node)
    if switch:
        return env.get(switch["env"], switch["default"]) == "true"

    def one(match: re.Match[str]) -> str:
        if match["env"]:
            if match["env"] in env:
                return env[match["env"]]
            if match["default"] is None:
                raise Unset(match["env"])
            return str(match["default"])
        if match["var"]:
            return str(variables[match["var"]])
        assert match["config"] == "AccountID", match[0]
        return ACCOUNT

    resolved = VARIABLE.sub(one, node)
    assert "${" not in resolved, f"a variable form the test does not know: {node}"
    return resolved


def sample_env(**overrides: str) -> dict[str, str]:
    """What a user exports for the template's sample deployment (tests/helpers.py sample_values)."""
    values = sample_values()
    return {
        "REGION": demo()["env"]["FAILOVER_REGION"],
        "FC_ROLE_ARN": f"acs:ram::{ACCOUNT}:role/ebs-failover-cn-shanghai-4a6c9851",
        "FAILOVER_TARGETS": values["FailoverTargets"],
        "FAILOVER_MODE": values["FailoverMode"],
        "CALLBACK_TOKEN": values["CallbackToken"],
        **overrides,
    }


def props(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    doc = document()
    env = sample_env() if env is None else env
    variables = resolve(doc.get("vars", {}), env, {})
    [resource] = doc["resources"].values()
    resolved = resolve(resource["props"], env, variables)
    assert isinstance(resolved, dict)
    return resolved


def s_trigger(resolved: Mapping[str, Any], kind: str) -> dict[str, Any]:
    [found] = [t for t in resolved["triggers"] if t["triggerType"] == kind]
    assert isinstance(found, dict)
    return found


def function_props() -> dict[str, Any]:
    raw = template()["Resources"][only("ALIYUN::FC3::Function")]["Properties"]
    assert isinstance(raw, dict)
    return raw


# -- the document -------------------------------------------------------------------------------------


def test_s_yaml_is_a_serverless_devs_3_project_with_one_fc3_resource() -> None:
    doc = document()
    assert doc["edition"] == "3.0.0"
    assert set(doc) <= {"edition", "name", "access", "vars", "resources"}
    [resource] = doc["resources"].values()
    assert resource["component"] == "fc3"


def test_the_props_match_the_fc3_component_schema() -> None:
    resolved = props()
    fastjsonschema.compile(FC3_PROPS)(resolved)
    for found in resolved["triggers"]:
        fastjsonschema.compile(TRIGGER_CONFIGS[found["triggerType"]])(found["triggerConfig"])
    with pytest.raises(fastjsonschema.JsonSchemaException):
        fastjsonschema.compile(FC3_PROPS)({**resolved, "memorySize": 500})  # the schema bites


def test_every_value_a_user_must_give_has_no_default() -> None:
    for name in ("REGION", "FC_ROLE_ARN", "FAILOVER_TARGETS", "CALLBACK_TOKEN"):
        env = sample_env()
        del env[name]
        with pytest.raises(Unset, match=name):
            props(env)
    assert re.fullmatch(r"acs:ram::\d+:role/[A-Za-z0-9.-]{1,64}", props()["role"])


# -- side by side with template.yml -------------------------------------------------------------------


def test_the_same_function_as_the_template() -> None:
    resolved, raw = props(), function_props()
    params = template()["Parameters"]
    assert resolved["functionName"] == params["FunctionName"]["Default"]
    for key in ("runtime", "handler", "description"):
        assert resolved[key] == raw[key[0].upper() + key[1:]], key
    assert resolved["cpu"] == params["Cpu"]["Default"]
    assert resolved["memorySize"] == params["MemorySize"]["Default"]
    assert resolved["timeout"] == params["Timeout"]["Default"]
    assert resolved["instanceConcurrency"] == raw["InstanceConcurrency"]
    assert not stack(Cpu=str(resolved["cpu"]), MemorySize=str(resolved["memorySize"])).rule_violations()


def test_the_code_is_the_zip_make_package_builds(tmp_path: Path) -> None:
    """The pre-deploy action builds the package and copies the zip of pyproject.toml's version to the path
    ``code`` names: s.yaml writes no version of its own."""
    # tomllib is 3.11+; the [project] table's version line is enough.
    found = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert found is not None
    version = found.group(1)
    assert version not in S_YAML.read_text(encoding="utf-8"), "s.yaml must not hard-code the version"
    [resource] = document()["resources"].values()
    build, copy = resource["actions"]["pre-deploy"]
    assert (build["run"], build["path"]) == ("make package", "./")
    assert copy["path"] == "./"
    # Run the copy as the action would, in a checkout whose dist/ holds the zip make package builds.
    command = shlex.split(copy["run"])
    assert command[:2] == [".venv/bin/python", "-c"], command
    (tmp_path / "tools").symlink_to(ROOT / "tools")
    (tmp_path / "dist").mkdir()
    built = tmp_path / "dist" / f"ebs-failover-{version}.zip"
    built.write_bytes(b"PK the package")
    subprocess.run([sys.executable, *command[1:]], cwd=tmp_path, check=True)
    code = props()["code"]
    assert code == "./dist/ebs-failover.zip"
    assert (tmp_path / code).read_bytes() == built.read_bytes()


def test_the_environment_is_the_templates_for_the_same_inputs() -> None:
    resolved = props()
    # fc3 creates no bucket: s.yaml's unset LEDGER is the stack without a ledger (test_the_ledger_...).
    evaluated = stack(FailoverRegion="", LedgerEnabled="false")
    template_env = {
        k: str(v)
        for k, v in evaluated.properties(only("ALIYUN::FC3::Function"))["EnvironmentVariables"].items()
    }
    s_env = props(sample_env())["environmentVariables"]
    assert set(s_env) == set(template_env)
    # MNS_ENDPOINT names the account: the template's pseudo parameter, s's config('AccountID').
    template_env["MNS_ENDPOINT"] = template_env["MNS_ENDPOINT"].replace(evaluated.tenant, ACCOUNT)
    assert s_env == template_env
    settings = config.load(resolved["environmentVariables"])
    assert settings.live
    assert [channel.label for channel in settings.notify_targets] == ["mns:ebs-failover-results"]
    # The safety limits are set, with the template's defaults: the data-loss guard is on.
    assert settings.max_data_loss == float(template()["Parameters"]["FailoverMaxDataLoss"]["Default"]) == 1800
    assert settings.max_event_age == 3600
    assert (settings.verify_seconds, settings.time_margin) == (30, 8)
    # Every other template parameter's default is s.yaml's default too.
    defaults = props({k: v for k, v in sample_env().items() if k not in ("FAILOVER_MODE",)})
    assert (
        defaults["environmentVariables"]["FAILOVER_MODE"]
        == template()["Parameters"]["FailoverMode"]["Default"]
    )


LEDGER_BUCKET = "team-dr-ledger"


@pytest.mark.parametrize("prefix", ["ebs-failover/", "dr/ebs/"])
def test_the_ledger_is_the_templates_given_the_same_bucket(prefix: str) -> None:
    """With LEDGER naming a bucket made beforehand, the environment is the stack's with that LedgerBucket."""
    ledger = f"oss://{LEDGER_BUCKET}/{prefix}"
    s_env = props(sample_env(LEDGER=ledger))["environmentVariables"]
    evaluated = stack(LedgerBucket=LEDGER_BUCKET, LedgerPrefix=prefix)
    template_env = evaluated.properties(only("ALIYUN::FC3::Function"))["EnvironmentVariables"]
    assert (s_env["LEDGER"], s_env["LEDGER_REGION"]) == (
        template_env["LEDGER"],
        template_env["LEDGER_REGION"],
    )
    assert s_env["LEDGER"] == ledger
    place = config.load(s_env).ledger
    assert place is not None
    assert (place.bucket, place.prefix, place.region) == (LEDGER_BUCKET, prefix, None)
    # Unset, no ledger; a bucket of another region is named by LEDGER_REGION.
    assert props()["environmentVariables"]["LEDGER"] == ""
    assert config.load(props()["environmentVariables"]).ledger is None
    elsewhere = props(sample_env(LEDGER=ledger, LEDGER_REGION="cn-beijing"))["environmentVariables"]
    elsewhere_place = config.load(elsewhere).ledger
    assert elsewhere_place is not None
    assert elsewhere_place.region == "cn-beijing"


def test_logs_go_to_sls() -> None:
    # auto: fc3 creates serverless-<region>-<id>/default-logs with an index (README, Serverless Devs).
    assert props()["logConfig"] == "auto"


def test_retries_and_the_failure_destination_are_the_templates() -> None:
    resolved = props()["asyncInvokeConfig"]
    raw = template()["Resources"][only("ALIYUN::FC3::AsyncInvokeConfig")]["Properties"]
    assert resolved["maxAsyncRetryAttempts"] == raw["MaxAsyncRetryAttempts"]
    assert resolved["maxAsyncEventAgeInSeconds"] == raw["MaxAsyncEventAgeInSeconds"]
    # Async task mode on both: remote-invoke --async relies on FC refusing a repeated task id.
    assert resolved["asyncTask"] is raw["AsyncTask"] is True
    assert set(resolved["destinationConfig"]) == {"onFailure"}
    evaluated = ros.Stack(template(), sample_values(), region=sample_env()["REGION"], tenant=ACCOUNT)
    destination = evaluated.properties(only("ALIYUN::FC3::AsyncInvokeConfig"))["DestinationConfig"]
    assert (
        resolved["destinationConfig"]["onFailure"]["destination"] == destination["OnFailure"]["Destination"]
    )


@pytest.mark.parametrize("kind", ["http", "eventbridge"])
def test_the_triggers_are_the_templates(kind: str) -> None:
    mine, theirs = s_trigger(props(), kind), trigger(kind)
    assert mine["triggerName"] == theirs["TriggerName"]
    assert mine["qualifier"] == theirs["Qualifier"]
    assert mine["description"] == theirs["Description"]
    assert mine["triggerConfig"] == theirs["TriggerConfig"]
    if kind == "eventbridge":
        pattern = ros.json_pattern(mine["triggerConfig"]["eventRuleFilterPattern"])
        assert pattern == ros.json_pattern(theirs["TriggerConfig"]["eventRuleFilterPattern"])
        assert mine["triggerConfig"]["asyncInvocationType"] is True  # the retries apply


@pytest.mark.parametrize("enabled", [None, "false", "true"])
def test_the_weekly_drill_timer_is_the_templates(enabled: str | None) -> None:
    """Off unless switched on (DRILL_ENABLED / DrillEnabled): a fresh deployment makes no drill disks."""
    switch = {} if enabled is None else {"DRILL_ENABLED": enabled}
    mine = s_trigger(props(sample_env(**switch)), "timer")
    values = {**sample_values(), **({} if enabled is None else {"DrillEnabled": enabled})}
    evaluated = ros.Stack(template(), values, region=sample_env()["REGION"], tenant=ACCOUNT)
    theirs = evaluated.properties("DrillTimer")
    assert mine["triggerName"] == theirs["TriggerName"]
    assert mine["qualifier"] == theirs["Qualifier"]
    assert mine["description"] == theirs["Description"]
    assert mine["triggerConfig"] == theirs["TriggerConfig"]
    assert mine["triggerConfig"]["enable"] is (enabled == "true")
    assert json.loads(mine["triggerConfig"]["payload"]) == {"action": "drill"}  # never a failover
    assert template()["Parameters"]["DrillSchedule"]["Default"] == mine["triggerConfig"]["cronExpression"]


def test_the_readme_deploy_section_describes_s_deploy() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    deploy = readme[readme.index("## Deploy") : readme.index("## Wire an alarm")]
    assert "### Serverless Devs" in deploy
    assert "s deploy" in deploy
    for name in ("REGION", "FC_ROLE_ARN", "FAILOVER_TARGETS", "CALLBACK_TOKEN", "NOTIFY_TOPIC"):
        assert name in deploy, name
    for parameter in ("LogProject", "LogStore", "LogRetentionDays", "ResultsSubscriptionEndpoint"):
        assert parameter in deploy, parameter
    for parameter in ("LedgerEnabled", "LedgerBucket", "LedgerPrefix", "LedgerRetentionDays", "LEDGER"):
        assert parameter in deploy, parameter
    # The OSS statements the s deploy role needs, as the stack's role has them.
    for action in ("oss:PutObject", "oss:GetObject", "oss:ListObjects", "oss:Prefix"):
        assert action in deploy, action
    assert json.dumps(props()["code"]).strip('"').lstrip("./") in deploy
