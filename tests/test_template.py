"""template.yml: a ROS template that deploys what the code needs, and nothing more.

The ROS facts (required properties, ranges, allowed values, GetAtt attributes) are the table in
``tests/template_specs.py``, copied from the reference's deploy-ros.md with its sections cited.
The facts about the function are not restated here: they come from the code. The environment is
checked against ``config.VARIABLES`` and ``config.load``; the RAM actions against what the handler
really sends when it runs, in live mode, every sample event against the fake EBS and the fake MNS,
with the environment the template gives it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import math
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import responses

from ebs_failover import config, log, notify
from ebs_failover.cli.run import event_files
from ebs_failover.testing import (
    FakeEbs,
    FakeEventBridgeServer,
    FakeMnsServer,
    FakeOss,
    FcContext,
    FcCredentials,
    FcFunction,
    MockEbs,
    MockOss,
)
from ebs_failover.testing.oss.models import OssGrant
from ebs_failover.testing.oss.wire import ACTION_OF
from tests import template_specs as ros

from .helpers import (
    EVENTS,
    ROOT,
    demo,
    only,
    pair_ids,
    resources,
    sample_values,
    stack,
    template,
    trigger,
)

#: Environment variables the template must set (the rest of config.VARIABLES is optional).
REQUIRED_ENV = frozenset(
    {
        "FAILOVER_MODE",
        "FAILOVER_TARGETS",
        "FAILOVER_REGION",
        "FAILOVER_MIN_LEVEL",
        "NOTIFY_TARGETS",
        "CALLBACK_TOKEN",
    }
)

#: Actions the role needs for FC itself, not for the code: FC sends an event that failed every
#: async retry to the AsyncInvokeConfig OnFailure destination (an MNS queue) with the function's role
#: (fc-runtime.md §5 "Destinations"; deploy-ros.md §2). Value: the destination it is needed on.
NEEDED_BY_FC = {
    "mns:SendMessage": "the AsyncInvokeConfig OnFailure destination",
    # FC writes the function's logs to its LogConfig logstore (test_the_function_logs_...).
    "log:PostLogStoreLogs": "the function's LogConfig logstore",
}


#: The bus the EventBusName runs use (it must exist before the stack: the template creates none).
BUS = "ops-bus"

#: MNS requests -> RAM actions. The MNS API reference: PublishMessage is
#: ``POST /topics/$TopicName/messages``. A request not listed fails the test: a new MNS
#: operation in the code must come with its action here and in the template's policy.
MNS_OPERATIONS = ((("POST", re.compile(r"^/topics/[^/?]+/messages$")), "PublishMessage"),)

#: Outcomes that mean the function acted (an EventBridge event with one of these must get through the filter).
ACTING = frozenset({"failed_over", "already_failed_over", "dry_run"})

STS_KEY, STS_SECRET, STS_TOKEN = "STS.fc-role", "Sup3rS3cretValue-9f8e7d", "STS-token-value-1a2b3c4d5e"


def statements(evaluated: ros.Stack) -> list[dict[str, Any]]:
    role = evaluated.properties(only("ALIYUN::RAM::Role"))
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def like(pattern: str, value: str) -> bool:
    """RAM's ``*`` wildcard (any characters, none included), as in resources and ``StringLike``."""
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), value) is not None


def allows(
    statements: list[dict[str, Any]], action: str, arn: str, context: Mapping[str, str] | None = None
) -> bool:
    """Whether an Allow statement grants ``action`` on ``arn`` (RAM's ``*`` wildcard in resources).

    A statement with a ``Condition`` grants only when every condition holds for the request's ``context``
    (condition key -> value; a key the request lacks fails it). Only ``StringLike`` is modelled: any other
    operator fails the test, so a new one comes with its meaning here."""
    for statement in statements:
        if statement["Effect"] != "Allow" or action not in statement["Action"]:
            continue
        if not any(like(resource, arn) for resource in statement["Resource"]):
            continue
        conditions = statement.get("Condition", {})
        assert set(conditions) <= {"StringLike"}, (
            f"a condition operator the test does not model: {conditions}"
        )
        context = context or {}
        if all(
            key in context and any(like(pattern, context[key]) for pattern in patterns)
            for key, patterns in conditions.get("StringLike", {}).items()
        ):
            return True
    return False


# -- the document -----------------------------------------------------------------------------------


def test_the_template_is_plain_yaml_and_a_ros_template() -> None:
    doc = template()
    assert doc["ROSTemplateFormatVersion"] == ros.FORMAT_VERSION
    assert set(doc) <= ros.SECTIONS
    assert doc["Resources"]


def test_every_parameter_is_well_formed_and_its_default_acceptable() -> None:
    for name, param in template()["Parameters"].items():
        assert set(param) <= ros.PARAMETER_KEYS, name
        assert param["Type"] in ros.PARAMETER_TYPES, name
        assert param.get("Description"), f"{name}: say what it is for"
        if "Default" in param:
            assert ros.check_parameter_value(name, param, param["Default"]) == []


def test_the_sample_deployment_is_acceptable() -> None:
    params = template()["Parameters"]
    for name, value in sample_values().items():
        parsed = value.split(",") if params[name]["Type"] == "CommaDelimitedList" else value
        assert ros.check_parameter_value(name, params[name], parsed) == []
    required = {name for name, p in params.items() if "Default" not in p}
    assert required <= set(sample_values()), "the sample must supply every parameter without a Default"


def test_every_reference_resolves() -> None:
    doc = template()
    params, res, conditions = doc["Parameters"], doc["Resources"], doc.get("Conditions", {})
    for node in ros.walk(doc):
        if not isinstance(node, dict):
            continue
        functions = [key for key in node if key == "Ref" or key.startswith("Fn::")]
        if not functions:
            continue
        assert len(node) == 1, node
        assert functions[0] in ros.FUNCTIONS, node
        function, args = functions[0], node[functions[0]]
        if function == "Ref":
            assert args in params or args in ros.PSEUDO_PARAMETERS or args in res, args
        elif function == "Fn::GetAtt":
            resource, attribute = args
            assert attribute in ros.ATTRIBUTES[res[resource]["Type"]], args
        elif function == "Fn::If":
            assert args[0] in conditions, args
        elif function == "Fn::Sub":
            text, variables = (args, {}) if isinstance(args, str) else (args[0], args[1])
            for name in ros.SUB_VARIABLE.findall(text):
                head, _, attribute = name.partition(".")
                known = name in variables or name in params or name in ros.PSEUDO_PARAMETERS
                if not known and head in res:
                    known = attribute == "" or attribute in ros.ATTRIBUTES[res[head]["Type"]]
                assert known, f"Fn::Sub ${{{name}}}"
    for name, resource in res.items():
        assert set(resource) <= ros.RESOURCE_KEYS, name
        depends = resource.get("DependsOn", [])
        for target in [depends] if isinstance(depends, str) else depends:
            assert target in res, f"{name} DependsOn {target}"


def test_every_parameter_is_used() -> None:
    used = {node["Ref"] for node in ros.walk(template()) if isinstance(node, dict) and "Ref" in node}
    for node in ros.walk(template()):
        if isinstance(node, dict) and "Fn::Sub" in node:
            args = node["Fn::Sub"]
            used |= set(ros.SUB_VARIABLE.findall(args if isinstance(args, str) else args[0]))
    assert set(template()["Parameters"]) <= used


# -- resources against the ROS specs ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(template()["Resources"]))
def test_resource_properties_match_the_ros_spec(name: str) -> None:
    resource = template()["Resources"][name]
    assert resource["Type"] in ros.RESOURCE_SPECS, f"{resource['Type']}: no spec in template_specs.py"
    props = resource.get("Properties", {})
    errors = ros.check_fields(props, ros.RESOURCE_SPECS[resource["Type"]], name, template()["Parameters"])
    if resource["Type"] == "ALIYUN::FC3::Trigger":
        config_spec = ros.TRIGGER_CONFIGS[props["TriggerType"]]
        errors += ros.check(props["TriggerConfig"], config_spec, f"{name}.TriggerConfig")
    assert errors == []


LONGEST_NAME = "a" * template()["Parameters"]["FunctionName"]["MaxLength"]
VARIANTS = {
    "defaults": {},
    "existing project": {"LogProject": "team-logs"},
    "existing logstore": {"LogProject": "team-logs", "LogStore": "fc_logs"},
    "mail subscription": {"ResultsSubscriptionEndpoint": "mail:directmail:ops@example.com"},
    "existing ledger bucket": {"LedgerBucket": "team-dr-ledger", "LedgerPrefix": "dr/ebs/"},
    "no ledger": {"LedgerEnabled": "false"},
}


def fc_regions() -> list[str]:
    return sorted(ros.FC3_REGIONS)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("function_name", ["ebs-failover", "f", LONGEST_NAME])
def test_the_resolved_properties_match_the_ros_spec(function_name: str, variant: str) -> None:
    evaluated = stack(FunctionName=function_name, **VARIANTS[variant])
    assert evaluated.rule_violations() == []
    errors: list[str] = []
    for name in evaluated.created():
        resource = template()["Resources"][name]
        props = evaluated.properties(name)
        errors += ros.check_fields(props, ros.RESOURCE_SPECS[resource["Type"]], name)
        if resource["Type"] == "ALIYUN::FC3::Trigger":
            errors += ros.check(props["TriggerConfig"], ros.TRIGGER_CONFIGS[props["TriggerType"]], name)
    assert errors == []


# -- the function -----------------------------------------------------------------------------------


def test_the_handler_string_names_the_real_handler() -> None:
    from ebs_failover.handler import handler

    props = template()["Resources"][only("ALIYUN::FC3::Function")]["Properties"]
    assert props["Handler"] == "index.handler"
    module_name, _, attribute = props["Handler"].rpartition(".")
    # FC imports index.py from the root of the code ZIP, which is the function/ directory.
    spec = importlib.util.spec_from_file_location("fc_code_index", ROOT / "function" / f"{module_name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    entry = getattr(module, attribute)
    assert callable(entry)
    assert entry is handler


def test_the_runtime_is_one_ros_lists_and_the_code_supports() -> None:
    props = template()["Resources"][only("ALIYUN::FC3::Function")]["Properties"]
    assert props["Runtime"] in ros.FC3_RUNTIMES
    requires = re.search(r'requires-python\s*=\s*">=(\d+)\.(\d+)"', (ROOT / "pyproject.toml").read_text())
    assert requires is not None
    runtime = tuple(int(part) for part in props["Runtime"].removeprefix("python").split("."))
    assert runtime >= (int(requires.group(1)), int(requires.group(2)))


def test_the_environment_names_are_variables_the_code_reads() -> None:
    env = template()["Resources"][only("ALIYUN::FC3::Function")]["Properties"]["EnvironmentVariables"]
    # The robot's channel variables are NOTIFY_<NAME>_URL / _SECRET of config.VARIABLES for the name robot.
    channel = {name.replace("<NAME>", "ROBOT") for name in config.VARIABLES if "<NAME>" in name}
    assert set(env) <= set(config.VARIABLES) | channel, set(env) - set(config.VARIABLES) - channel
    assert set(env) >= REQUIRED_ENV, REQUIRED_ENV - set(env)


def test_the_environment_is_one_the_code_accepts() -> None:
    evaluated = stack()
    env = evaluated.properties(only("ALIYUN::FC3::Function"))["EnvironmentVariables"]
    settings = config.load({name: str(value) for name, value in env.items()})
    topic = evaluated.properties(only("ALIYUN::MNS::Topic"))["TopicName"]
    assert settings.live
    assert [c.label for c in settings.notify_targets] == [f"mns:{topic}"]
    with_bus = stack(EventBusName=BUS).properties(only("ALIYUN::FC3::Function"))["EnvironmentVariables"]
    bus_settings = config.load({name: str(value) for name, value in with_bus.items()})
    assert [c.label for c in bus_settings.notify_targets] == [f"mns:{topic}", f"eventbridge:{BUS}"]
    assert settings.callback_token == sample_values()["CallbackToken"]
    assert settings.region is None  # FailoverRegion '' is "the function's region"
    # The policy's pairs and groups are the function's targets, read from the one FailoverTargets.
    targets = sample_values()["FailoverTargets"]
    assert {*pair_ids(targets), *pair_ids(targets, "pg-")} == settings.configured_targets
    assert (settings.max_targets, settings.concurrency, settings.calls_per_second) == (20, 10, 10.0)


def test_the_parameters_offer_what_the_code_accepts_with_the_code_defaults() -> None:
    params = template()["Parameters"]
    defaults = config.load({})
    for mode in params["FailoverMode"]["AllowedValues"]:
        assert config.load({"FAILOVER_MODE": mode}).mode == mode
    assert params["FailoverMode"]["Default"] == defaults.mode == "dry-run"
    assert params["FailoverMinLevel"]["AllowedValues"] == list(config.LEVELS)
    assert params["FailoverMinLevel"]["Default"] == defaults.min_level
    assert params["FailoverRegion"]["Default"] == ""
    assert config.load({"FAILOVER_REGION": params["FailoverRegion"]["Default"]}).region is None
    # The targets are typed once: no second list of pair or group ids for the policy.
    assert not {"ReplicaPairIds", "ReplicaGroupIds"} & set(params)
    assert params["FailoverMaxTargets"]["Default"] == defaults.max_targets
    assert params["FailoverConcurrency"]["Default"] == defaults.concurrency
    assert params["FailoverCallsPerSecond"]["Default"] == defaults.calls_per_second
    assert params["FunctionName"]["Default"] == "ebs-failover"


def test_the_callback_token_is_secret_and_long() -> None:
    doc = template()
    token = doc["Parameters"]["CallbackToken"]
    assert token["NoEcho"] is True
    assert token["MinLength"] >= 16
    assert "Default" not in token
    env = doc["Resources"][only("ALIYUN::FC3::Function")]["Properties"]["EnvironmentVariables"]
    assert env["CALLBACK_TOKEN"] == {"Ref": "CallbackToken"}
    for name, output in doc.get("Outputs", {}).items():
        for node in ros.walk(output["Value"]):
            leak = node == {"Ref": "CallbackToken"}
            if isinstance(node, dict) and "Fn::Sub" in node:
                leak = "${CallbackToken}" in json.dumps(node)
            assert not leak, f"output {name}: a NoEcho parameter must not come back in an output"


def test_memory_and_timeout_defaults_leave_room_for_the_retry_budget() -> None:
    params = template()["Parameters"]
    cpu, memory_gb = params["Cpu"]["Default"], params["MemorySize"]["Default"] / 1024
    # deploy-ros.md section 1: cpu:memory(GB) between 1:1 and 1:4; a cold failover peaks near 57 MB.
    assert cpu <= memory_gb <= 4 * cpu
    assert params["MemorySize"]["Default"] >= 128
    assert params["Timeout"]["Default"] == 300  # a drill takes minutes (Terraform's provider waits 5)
    # The margin keeps room for one MNS publish; the smallest allowed timeout still leaves an EBS budget
    # after it, and the default one a whole verification window too.
    settings = config.load({})
    assert settings.time_margin >= notify.DEFAULT_TIMEOUT
    assert params["Timeout"]["MinValue"] >= settings.time_margin + 5
    assert params["Timeout"]["Default"] >= settings.time_margin + settings.verify_seconds + 10


# -- RAM: derived from what the code calls -----------------------------------------------------------


def mns_action(method: str, path: str) -> str:
    for (verb, route), action in MNS_OPERATIONS:
        if method == verb and route.match(path):
            return action
    raise AssertionError(f"MNS request {method} {path}: no RAM action known for it (MNS_OPERATIONS)")


def ledger_of(evaluated: ros.Stack) -> config.LedgerPlace | None:
    """Where the function's ledger is, read from the template's environment by the code's own parser."""
    env = evaluated.properties(only("ALIYUN::FC3::Function"))["EnvironmentVariables"]
    return config.load({name: str(value) for name, value in env.items()}).ledger


def oss_grants(policy: list[dict[str, Any]]) -> list[OssGrant]:
    """The policy's OSS statements as the fake OSS's grants (it refuses what none allows): an object
    resource ``acs:oss:*:*:<bucket>/<prefix>*`` grants its actions on the keys under ``<prefix>``; the
    bucket's resource ``acs:oss:*:*:<bucket>`` grants ``oss:ListObjects`` of the prefixes its
    ``StringLike oss:Prefix`` allows (``<prefix>*``), the fake's model of that condition. Any other
    shape fails here, so that the fake never grants more than RAM would."""
    grants: list[OssGrant] = []
    for statement in policy:
        actions = frozenset(a for a in statement["Action"] if a.startswith("oss:"))
        if not actions:
            continue
        assert actions == frozenset(statement["Action"]), "OSS actions in a statement of their own"
        for resource in statement["Resource"]:
            found = re.fullmatch(r"acs:oss:\*:\*:([a-z0-9-]+)(?:/([^*]*)\*)?", resource)
            assert found is not None, resource
            bucket, prefix = found.group(1), found.group(2)
            if prefix is None:  # the bucket itself: listings, narrowed by the condition
                assert actions == {"oss:ListObjects"}, statement
                [pattern] = statement["Condition"]["StringLike"]["oss:Prefix"]
                assert pattern.endswith("*"), pattern
                assert "*" not in pattern[:-1], pattern
                prefix = pattern[:-1]
            else:
                assert "Condition" not in statement, statement
            grants.append(OssGrant(bucket, prefix, actions))
    return grants


@pytest.fixture
def quiet_logs() -> Iterator[None]:
    log.configure(stream=io.StringIO())
    yield
    log.configure(stream=io.StringIO())


def run_live(
    evaluated: ros.Stack, monkeypatch: pytest.MonkeyPatch
) -> tuple[FakeEbs, FakeMnsServer, FakeEventBridgeServer, FakeOss]:
    """Every sample event and a manual request per pair through the handler, in the template's environment.

    The ledger is a fake OSS on OSS's own endpoint (the template sets no OSS_ENDPOINT) that accepts only
    the stack's region (LEDGER_REGION empty) and only what the role's OSS statements allow."""
    from ebs_failover.handler import handler

    function = evaluated.properties(only("ALIYUN::FC3::Function"))
    for name in config.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in function["EnvironmentVariables"].items():
        monkeypatch.setenv(name, str(value))
    topic = str(evaluated.properties(only("ALIYUN::MNS::Topic"))["TopicName"])
    context = FcContext(
        function=FcFunction(
            name=function["FunctionName"], memory=function["MemorySize"], timeout=function["Timeout"]
        ),
        credentials=FcCredentials(STS_KEY, STS_SECRET, STS_TOKEN),
        region=evaluated.region,
        account_id=evaluated.tenant,
    )
    events = [path.read_bytes() for path in event_files(EVENTS)]
    events += [
        json.dumps(
            {"action": "failover", "replicaPairId": pair, "reason": "drill", "idempotencyKey": "t-1"}
        ).encode()
        for pair in pair_ids(str(evaluated.parameter("FailoverTargets")))
    ]
    events += [
        json.dumps(
            {"action": "failover", "replicaGroupId": group, "reason": "drill", "idempotencyKey": "t-1"}
        ).encode()
        for group in pair_ids(str(evaluated.parameter("FailoverTargets")), "pg-")
    ]
    # The weekly timer's drill of every configured target, first (a failed-over target is not drilled).
    timer = evaluated.properties("DrillTimer")["TriggerConfig"]
    fired = {
        "triggerTime": "2026-12-07T19:00:00Z",
        "triggerName": "weekly-drill",
        "payload": timer["payload"],
    }
    events.insert(0, json.dumps(fired).encode())
    ledger = ledger_of(evaluated)
    oss = FakeOss(buckets=[ledger.bucket] if ledger else [], region=evaluated.region)
    oss.register_credential(
        STS_KEY, STS_SECRET, security_token=STS_TOKEN, grants=oss_grants(statements(evaluated))
    )
    mns = FakeMnsServer()
    bridge = FakeEventBridgeServer()
    fake = FakeEbs(seed=11)
    with mns, bridge:
        mns.register_credential(STS_KEY, STS_SECRET, security_token=STS_TOKEN)
        mns.create_topic(topic)
        bridge.register_credential(STS_KEY, STS_SECRET, security_token=STS_TOKEN)
        bridge.create_bus(BUS)
        # The overrides: the fakes instead of MNS and EventBridge.
        monkeypatch.setenv("MNS_ENDPOINT", mns.endpoint)
        monkeypatch.setenv("EVENTBRIDGE_ENDPOINT", bridge.url)
        fake.register_credential(STS_KEY, STS_SECRET, security_token=STS_TOKEN, account_id=evaluated.tenant)
        fake.load_seed(demo()["seed"])
        # EBS through responses; the EventBridge SDK's requests pass through it to the fake's socket.
        requests_mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        requests_mock.add_passthru(bridge.url)
        with (
            requests_mock,
            MockEbs(fake, requests_mock=requests_mock),
            MockOss(oss, requests_mock=requests_mock),
        ):
            for raw in events:
                handler(raw, context)
    return fake, mns, bridge, oss


#: The ledger variants: the bucket the stack creates (the default), an existing one, none. The live runs
#: take the first two (with none, the role has no OSS statement: test_no_ledger_no_bucket_and_no_oss).
LEDGER_BUCKET = "team-dr-ledger"
LEDGERS = {
    "created": {},
    "existing": {"LedgerBucket": LEDGER_BUCKET, "LedgerPrefix": "dr/ebs/"},
    "off": {"LedgerEnabled": "false"},
}


@pytest.mark.usefixtures("quiet_logs")
@pytest.mark.parametrize(
    ("failover_region", "event_bus", "ledger"),
    [("", "", "created"), ("standby", "", "created"), ("", BUS, "created"), ("", "", "existing")],
)
def test_the_policy_allows_exactly_what_the_code_calls(
    failover_region: str, event_bus: str, ledger: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    standby = demo()["env"]["FAILOVER_REGION"]
    evaluated = stack(
        standby if failover_region == "standby" else "", EventBusName=event_bus, **LEDGERS[ledger]
    )
    fake, mns, bridge, oss = run_live(evaluated, monkeypatch)
    assert fake.state_changes(), "the run must have failed over for real, or it proves nothing"
    topic = str(evaluated.properties(only("ALIYUN::MNS::Topic"))["TopicName"])
    assert mns.published[topic], "the run must have published results"
    assert bool(bridge.events[BUS]) == bool(event_bus), "results reach the bus exactly when one is named"
    place = ledger_of(evaluated)
    assert place is not None
    assert oss.objects(place.bucket), "the run must have recorded its incidents, or it proves nothing"
    assert all(key.startswith(place.prefix) for key in oss.objects(place.bucket))

    called = {f"ebs:{call.action}" for call in fake.calls}
    called |= {f"mns:{mns_action(call.method, call.path)}" for call in mns.calls}
    # The EventBridge OpenAPI's RAM action is its action's name (the system policy's, [Unverified]).
    called |= {f"eventbridge:{call.action}" for call in bridge.calls}
    # OSS's RAM actions by operation (ListObjectsV2 is authorised as oss:ListObjects).
    called |= {ACTION_OF[call.operation] for call in oss.calls}
    granted = {action for s in statements(evaluated) for action in s["Action"]}
    extra, missing = granted - called - set(NEEDED_BY_FC), called - granted
    assert granted == called | set(NEEDED_BY_FC), (
        f"granted, not called: {extra}; called, not granted: {missing}"
    )

    # ... and on the resources the calls were about.
    policy = statements(evaluated)
    for call in fake.calls:
        if "Group" in call.action:
            group = (
                call.params.get("ReplicaGroupId")
                or call.params.get("GroupId")
                or call.params.get("GroupIds", "")
            )
            arn = f"acs:ebs:{call.region_id}:{call.account_id}:diskreplicagroup/{group}"
        else:
            pair = (
                call.params.get("ReplicaPairId")
                or call.params.get("PairId")
                or call.params.get("PairIds", "")
            )
            arn = f"acs:ebs:{call.region_id}:{call.account_id}:diskreplicapair/{pair}"
        assert allows(policy, f"ebs:{call.action}", arn), arn
    endpoint = re.fullmatch(
        r"https://(\d+)\.mns\.([a-z0-9-]+)\.aliyuncs\.com",
        evaluated.properties(only("ALIYUN::FC3::Function"))["EnvironmentVariables"]["MNS_ENDPOINT"],
    )
    assert endpoint is not None
    for mns_call in mns.calls:
        arn = f"acs:mns:{endpoint.group(2)}:{endpoint.group(1)}:{mns_call.path}"
        assert allows(policy, f"mns:{mns_action(mns_call.method, mns_call.path)}", arn), arn
    for bridge_call in bridge.calls:
        arn = f"acs:eventbridge:{evaluated.region}:{evaluated.tenant}:eventbus/{bridge_call.bus}"
        assert allows(policy, f"eventbridge:{bridge_call.action}", arn), arn
    # Every ledger request was answered (the fake refuses, 403, what the role's OSS statements do not
    # allow, a listing's prefix included), and every object request is on a key the policy names.
    assert [(c.operation, c.key, c.status) for c in oss.calls if c.status == 403] == []
    for oss_call in oss.calls:
        if oss_call.key is not None:
            arn = f"acs:oss:{evaluated.region}:{evaluated.tenant}:{oss_call.bucket}/{oss_call.key}"
            assert allows(policy, ACTION_OF[oss_call.operation], arn), arn


def test_put_events_is_allowed_only_on_the_named_bus() -> None:
    region, tenant = stack().region, stack().tenant
    assert not any(a.startswith("eventbridge:") for s in statements(stack()) for a in s["Action"])
    policy = statements(stack(EventBusName=BUS))
    assert allows(policy, "eventbridge:PutEvents", f"acs:eventbridge:{region}:{tenant}:eventbus/{BUS}")
    assert not allows(policy, "eventbridge:PutEvents", f"acs:eventbridge:{region}:{tenant}:eventbus/default")


def test_failover_is_allowed_only_on_the_configured_pairs_in_the_standby_region() -> None:
    evaluated = stack()
    policy = statements(evaluated)
    pairs = pair_ids(str(evaluated.parameter("FailoverTargets")))
    tenant, standby = evaluated.tenant, evaluated.region
    for pair in pairs:
        assert allows(
            policy, "ebs:FailoverDiskReplicaPair", f"acs:ebs:{standby}:{tenant}:diskreplicapair/{pair}"
        )
    assert not allows(
        policy, "ebs:FailoverDiskReplicaPair", f"acs:ebs:{standby}:{tenant}:diskreplicapair/pair-x"
    )
    assert not allows(
        policy, "ebs:FailoverDiskReplicaPair", f"acs:ebs:cn-hangzhou:{tenant}:diskreplicapair/{pairs[0]}"
    )
    explicit = stack("cn-beijing")
    assert allows(
        statements(explicit),
        "ebs:FailoverDiskReplicaPair",
        f"acs:ebs:cn-beijing:{tenant}:diskreplicapair/{pairs[0]}",
    )
    # Derived from FailoverTargets alone: a pair named twice (and in a list) is granted once, a group is
    # not a pair; with no pair at all, an ARN that names none.
    one = stack(FailoverTargets='{"d-1": "pair-cn-only1", "i-1": ["pair-cn-only1", "pg-only1"]}')
    [failover] = [s for s in statements(one) if "ebs:FailoverDiskReplicaPair" in s["Action"]]
    assert failover["Resource"] == [f"acs:ebs:{standby}:{tenant}:diskreplicapair/pair-cn-only1"]
    groups_only = stack(FailoverTargets='{"i-1": "pg-only1"}')
    [failover] = [s for s in statements(groups_only) if "ebs:FailoverDiskReplicaPair" in s["Action"]]
    assert failover["Resource"] == [f"acs:ebs:{standby}:{tenant}:diskreplicapair/no-pair-configured"]


def test_a_group_failover_is_allowed_only_on_the_configured_groups() -> None:
    evaluated = stack()
    tenant, standby = evaluated.tenant, evaluated.region
    [group] = pair_ids(str(evaluated.parameter("FailoverTargets")), "pg-")
    policy = statements(evaluated)
    assert allows(
        policy, "ebs:FailoverDiskReplicaGroup", f"acs:ebs:{standby}:{tenant}:diskreplicagroup/{group}"
    )
    assert not allows(
        policy, "ebs:FailoverDiskReplicaGroup", f"acs:ebs:{standby}:{tenant}:diskreplicagroup/pg-x"
    )
    none = statements(stack(FailoverTargets='{"d-1": "pair-cn-only1"}'))
    [failover] = [s for s in none if "ebs:FailoverDiskReplicaGroup" in s["Action"]]
    assert failover["Resource"] == [f"acs:ebs:{standby}:{tenant}:diskreplicagroup/no-group-configured"]
    assert not allows(
        none, "ebs:FailoverDiskReplicaGroup", f"acs:ebs:{standby}:{tenant}:diskreplicagroup/{group}"
    )


def test_fc_sends_events_that_failed_every_retry_to_the_failed_events_queue() -> None:
    evaluated = stack()
    async_config = evaluated.properties(only("ALIYUN::FC3::AsyncInvokeConfig"))
    assert set(async_config["DestinationConfig"]) == {"OnFailure"}  # no OnSuccess
    destination = async_config["DestinationConfig"]["OnFailure"]["Destination"]
    queue = evaluated.properties(only("ALIYUN::MNS::Queue"))
    assert queue["QueueName"] == "ebs-failover-failed-events"
    assert queue["MessageRetentionPeriod"] == 604800  # MNS's longest: a week to notice
    # fc-runtime.md §5: acs:mns:{region}:{account}:/queues/{queue}/messages
    assert (
        destination == f"acs:mns:{evaluated.region}:{evaluated.tenant}:/queues/{queue['QueueName']}/messages"
    )
    policy = statements(evaluated)
    assert allows(policy, "mns:SendMessage", destination), NEEDED_BY_FC["mns:SendMessage"]
    # ... and nothing else on it, and nothing of FC's on the results topic.
    topic = evaluated.properties(only("ALIYUN::MNS::Topic"))["TopicName"]
    topic_arn = f"acs:mns:{evaluated.region}:{evaluated.tenant}:/topics/{topic}/messages"
    assert not allows(policy, "mns:PublishMessage", destination)
    assert not allows(policy, "mns:SendMessage", topic_arn)


def test_no_wildcard_action_and_a_wildcard_resource_only_where_unverified() -> None:
    doc = template()
    role = doc["Resources"][only("ALIYUN::RAM::Role")]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": ["fc.aliyuncs.com"]}}
    ]
    actions = [trust[0]["Action"]]
    for statement in statements(stack()):
        assert statement["Effect"] == "Allow"
        assert isinstance(statement["Action"], list)
        actions += statement["Action"]
        if "*" in statement["Resource"]:
            # ebs-api.md §5: the resource level of the Describe actions (the drills' too) is unverified.
            assert statement["Action"] == [
                "ebs:DescribeDiskReplicaPairs",
                "ebs:DescribeDiskReplicaGroups",
                "ebs:DescribePairDrills",
                "ebs:DescribeReplicaGroupDrills",
            ]
    assert all("*" not in action for action in actions), actions


# -- triggers, retries, outputs ---------------------------------------------------------------------


def test_the_http_trigger_takes_cloudmonitor_posts() -> None:
    config_ = trigger("http")["TriggerConfig"]
    assert config_["authType"] == "anonymous"  # CloudMonitor cannot sign; the token is checked by the code
    assert config_["methods"] == ["POST"]


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """EventBridge's exact-value matching, for the keys the pattern uses."""
    return all(event.get(key) in values for key, values in pattern.items())


def test_the_event_pattern_lets_through_what_the_code_acts_on() -> None:
    settings = trigger("eventbridge")["TriggerConfig"]
    assert settings["eventSourceConfig"]["eventSourceType"] == "Default"
    assert settings["eventSinkConfig"]["deliveryOption"]["eventSchema"] == "CloudEvents"
    pattern = ros.json_pattern(settings["eventRuleFilterPattern"])
    assert set(pattern) == {"source", "type"}
    schema = json.loads(
        (ROOT / "function/ebs_failover/triggers/schemas/eventbridge.json").read_text(encoding="utf-8")
    )
    source_rule = schema["properties"]["source"]["pattern"]
    assert all(re.match(source_rule, source) for source in pattern["source"]), "a source the code rejects"
    assert {"acs.ebs", "acs.cms", "acs.ecs"} <= set(pattern["source"])
    # Every default event type of the code that EventBridge carries (prefix = a source's product).
    products = {source.split(".", 1)[1] for source in pattern["source"]}
    eventbridge_defaults = {t for t in config.DEFAULT_EVENT_TYPES if t.split(":", 1)[0] in products}
    assert eventbridge_defaults
    assert eventbridge_defaults <= set(pattern["type"])
    # Every EventBridge sample the function acts on gets through.
    expected = json.loads((EVENTS / "expected.json").read_text(encoding="utf-8"))
    acting = [n for n, e in expected.items() if e.get("kind") == "eventbridge" and e["outcome"] in ACTING]
    assert acting
    for name in acting:
        assert matches(pattern, json.loads((EVENTS / name).read_text(encoding="utf-8"))), name


def test_async_events_are_retried_three_times_then_kept() -> None:
    props = template()["Resources"][only("ALIYUN::FC3::AsyncInvokeConfig")]["Properties"]
    assert props["MaxAsyncRetryAttempts"] == 3
    assert "OnFailure" in props["DestinationConfig"]
    # The retries apply only to asynchronous invocations.
    assert trigger("eventbridge")["TriggerConfig"]["asyncInvocationType"] is True


def test_the_outputs() -> None:
    outputs = template()["Outputs"]
    expected = {"CallbackUrl", "TopicName", "TopicArn", "FunctionArn", "FailedEventsQueueName"}
    expected |= {"FailedEventsQueueArn", "RoleName", "RoleArn", "LogProject", "LogStore", "Ledger"}
    assert expected <= set(outputs)
    assert all(output.get("Description") for output in outputs.values())
    http = next(
        n for n, r in resources("ALIYUN::FC3::Trigger").items() if r["Properties"]["TriggerType"] == "http"
    )
    assert outputs["CallbackUrl"]["Value"] == {"Fn::GetAtt": [http, "UrlInternet"]}
    assert "?token=<CallbackToken>" in outputs["CallbackUrl"]["Description"]
    evaluated = stack()
    resolved = evaluated.outputs()
    assert resolved["FunctionArn"].startswith("acs:fc:")
    assert resolved["TopicArn"].endswith(f":/topics/{resolved['TopicName']}")
    queue = evaluated.properties(only("ALIYUN::MNS::Queue"))["QueueName"]
    assert resolved["FailedEventsQueueName"] == queue
    assert resolved["FailedEventsQueueArn"].endswith(f":/queues/{queue}")
    role = evaluated.properties(only("ALIYUN::RAM::Role"))["RoleName"]
    assert resolved["RoleName"] == role
    assert resolved["RoleArn"] == evaluated.properties(only("ALIYUN::FC3::Function"))["Role"]
    log_config = evaluated.properties(only("ALIYUN::FC3::Function"))["LogConfig"]
    assert (resolved["LogProject"], resolved["LogStore"]) == (log_config["Project"], log_config["Logstore"])
    reused = stack(LogProject="team-logs", LogStore="fc_logs").outputs()
    assert (reused["LogProject"], reused["LogStore"]) == ("team-logs", "fc_logs")
    env = evaluated.properties(only("ALIYUN::FC3::Function"))["EnvironmentVariables"]
    assert resolved["Ledger"] == env["LEDGER"]
    assert stack(LedgerEnabled="false").outputs()["Ledger"] == ""


# -- names unique per stack and region ------------------------------------------------------------


def unique_names(evaluated: ros.Stack) -> dict[str, str]:
    """The names that are account-wide (RAM), global in a region (SLS projects) or global (OSS buckets)."""
    role = evaluated.properties(only("ALIYUN::RAM::Role"))
    [policy] = role["Policies"]
    return {
        "role": role["RoleName"],
        "policy": policy["PolicyName"],
        "project": evaluated.properties(only("ALIYUN::SLS::Project"))["Name"],
        "logstore": evaluated.properties(only("ALIYUN::SLS::Logstore"))["LogstoreName"],
        "bucket": evaluated.properties(only("ALIYUN::OSS::Bucket"))["BucketName"],
    }


def test_names_carry_the_region_and_the_stack() -> None:
    here = stack()
    piece = here.stack_id.split("-")[0]
    names = unique_names(here)
    for kind in ("role", "policy", "project", "bucket"):
        assert here.region in names[kind], kind
        assert piece in names[kind], kind
    assert here.tenant in names["project"]  # SLS project names are unique across accounts
    assert here.tenant in names["bucket"]  # OSS bucket names too, and across regions
    assert piece in names["logstore"]  # two stacks may share an existing LogProject
    # The fail-back stack (same account, the other region) and a second stack in this region.
    other_region = ros.Stack(template(), sample_values(), region="cn-hangzhou", stack_id=here.stack_id)
    other_stack = ros.Stack(
        template(), sample_values(), region=here.region, stack_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    )
    for other in (other_region, other_stack):
        clashes = {k for k, v in unique_names(other).items() if v == names[k] and k != "logstore"}
        assert clashes == set()


def test_the_results_topic_is_named_after_the_function_unless_named() -> None:
    """A fixed default topic name had two stacks of one region (two FunctionNames) claim one topic."""

    def topic(**values: str) -> str:
        evaluated = ros.Stack(template(), {**sample_values(), **values}, region="cn-shanghai")
        name = evaluated.properties(only("ALIYUN::MNS::Topic"))["TopicName"]
        assert isinstance(name, str)
        return name

    assert template()["Parameters"]["NotifyTopicName"]["Default"] == ""
    assert topic() == "ebs-failover-results"
    assert topic(FunctionName="orders-dr") == "orders-dr-results"
    assert topic(FunctionName="orders-dr", NotifyTopicName="shared-results") == "shared-results"


@pytest.mark.parametrize("region", fc_regions())
def test_the_longest_names_fit_in_every_fc_region(region: str) -> None:
    evaluated = ros.Stack(template(), {**sample_values(), "FunctionName": LONGEST_NAME}, region=region)
    names = unique_names(evaluated)
    ram = ros.RESOURCE_SPECS["ALIYUN::RAM::Role"]
    assert len(names["role"]) <= ram["RoleName"].length[1]  # type: ignore[index]
    assert re.fullmatch(r"[A-Za-z0-9.-]+", names["role"]), "RAM role names: letters, digits, . and -"
    assert re.fullmatch(r"[A-Za-z0-9-]{1,128}", names["policy"])
    # SLS project names: 3-63 lowercase letters, digits and -, not starting or ending with -.
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", names["project"]), names["project"]
    assert re.fullmatch(r"[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]", names["logstore"])
    # OSS bucket names: 3-63 lowercase letters, digits and -, not starting or ending with - (the code's rule).
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", names["bucket"]), names["bucket"]
    assert config.load({"LEDGER": f"oss://{names['bucket']}/"}).ledger is not None
    one_more = ros.Stack(template(), {**sample_values(), "FunctionName": LONGEST_NAME + "a"}, region=region)
    params = template()["Parameters"]
    assert ros.check_parameter_value("FunctionName", params["FunctionName"], LONGEST_NAME + "a") != []
    if region == max(fc_regions(), key=len):  # the bound is tight: one more character would not fit
        assert len(unique_names(one_more)["role"]) > ram["RoleName"].length[1]  # type: ignore[index]


# -- logs ---------------------------------------------------------------------------------------------


def log_arn(evaluated: ros.Stack, project: str, logstore: str) -> str:
    return f"acs:log:{evaluated.region}:{evaluated.tenant}:project/{project}/logstore/{logstore}"


def test_the_function_logs_to_the_created_project_and_logstore() -> None:
    evaluated = stack()
    assert {"FunctionLogProject", "FunctionLogstore", "FunctionLogIndex"} <= set(evaluated.created())
    project = evaluated.properties(only("ALIYUN::SLS::Project"))["Name"]
    logstore = evaluated.properties(only("ALIYUN::SLS::Logstore"))
    index = evaluated.properties(only("ALIYUN::SLS::Index"))
    assert logstore["ProjectName"] == project
    assert (index["ProjectName"], index["LogstoreName"]) == (project, logstore["LogstoreName"])
    assert index["FullTextIndex"]["Enable"] is True  # queries (FC's console) need an index
    params = template()["Parameters"]
    assert logstore["TTL"] == params["LogRetentionDays"]["Default"] == 30
    assert stack(LogRetentionDays="7").properties(only("ALIYUN::SLS::Logstore"))["TTL"] == 7
    log_config = evaluated.properties(only("ALIYUN::FC3::Function"))["LogConfig"]
    assert (log_config["Project"], log_config["Logstore"]) == (project, logstore["LogstoreName"])
    policy = statements(evaluated)
    assert allows(policy, "log:PostLogStoreLogs", log_arn(evaluated, project, logstore["LogstoreName"]))
    assert not allows(policy, "log:PostLogStoreLogs", log_arn(evaluated, project, "other"))
    assert not allows(policy, "log:PostLogStoreLogs", log_arn(evaluated, "other", logstore["LogstoreName"]))
    [log_statement] = [s for s in policy if "log:PostLogStoreLogs" in s["Action"]]
    assert log_statement["Action"] == ["log:PostLogStoreLogs"]


@pytest.mark.parametrize(
    ("values", "created"),
    [
        ({"LogProject": "team-logs"}, {"FunctionLogstore", "FunctionLogIndex"}),
        ({"LogProject": "team-logs", "LogStore": "fc_logs"}, set()),
    ],
)
def test_the_function_can_log_to_an_existing_project_or_logstore(
    values: dict[str, str], created: set[str]
) -> None:
    evaluated = stack(**values)
    assert evaluated.rule_violations() == []
    sls = {n for n in evaluated.created() if template()["Resources"][n]["Type"].startswith("ALIYUN::SLS::")}
    assert sls == created
    logstore = values.get("LogStore") or evaluated.properties("FunctionLogstore")["LogstoreName"]
    if "LogStore" not in values:
        assert evaluated.properties("FunctionLogstore")["ProjectName"] == "team-logs"
    log_config = evaluated.properties(only("ALIYUN::FC3::Function"))["LogConfig"]
    assert (log_config["Project"], log_config["Logstore"]) == ("team-logs", logstore)
    policy = statements(evaluated)
    assert allows(policy, "log:PostLogStoreLogs", log_arn(evaluated, "team-logs", logstore))
    assert not allows(policy, "log:PostLogStoreLogs", log_arn(evaluated, "team-logs", "other"))


def test_an_existing_logstore_without_its_project_is_rejected() -> None:
    assert stack(LogStore="fc_logs").rule_violations() != []
    assert stack(LogProject="team-logs", LogStore="fc_logs").rule_violations() == []
    params = template()["Parameters"]
    for bad in ("Team-Logs", "-logs", "ab"):  # SLS: lowercase, no leading -, at least 3
        assert ros.check_parameter_value("LogProject", params["LogProject"], bad) != [], bad


# -- Cpu and MemorySize: what FC accepts ---------------------------------------------------------------


def fc_accepts(cpu: float, memory: int) -> bool:
    """FC 3.0 (CreateFunctionInput): cpu a multiple of 0.05 in [0.05, 16], memory a multiple of 64 MB,
    cpu:memory(GB) from 1:1 to 1:4."""
    steps = round(cpu / 0.05)
    return (
        abs(steps * 0.05 - cpu) < 1e-9
        and 0.05 <= cpu <= 16
        and memory % 64 == 0
        and cpu * 1024 <= memory <= cpu * 4096
    )


def sizing(cpu: float, memory: int) -> ros.Stack:
    return stack(Cpu=str(cpu), MemorySize=str(memory))


def parameter_errors(cpu: float, memory: int) -> list[str]:
    params = template()["Parameters"]
    return ros.check_parameter_value("Cpu", params["Cpu"], cpu) + ros.check_parameter_value(
        "MemorySize", params["MemorySize"], memory
    )


def test_the_rules_reject_half_a_vcpu_with_128_mb_and_accept_it_with_512() -> None:
    assert sizing(0.5, 128).rule_violations() != []
    assert sizing(0.5, 2112).rule_violations() != []  # more than 4 GB per vCPU
    assert sizing(0.5, 500).rule_violations() != []  # not a multiple of 64
    assert sizing(0.5, 512).rule_violations() == []
    assert sizing(0.5, 2048).rule_violations() == []
    assert stack().rule_violations() == []  # the defaults


def test_the_parameters_and_rules_accept_exactly_the_pairs_fc_accepts() -> None:
    params = template()["Parameters"]
    cpus = params["Cpu"]["AllowedValues"]
    assert all(fc_accepts(cpu, math.ceil(cpu * 1024 / 64) * 64) for cpu in cpus), "a Cpu FC refuses"
    for cpu in [*cpus, 0.3, 3]:
        for memory in range(params["MemorySize"]["MinValue"] - 64, params["MemorySize"]["MaxValue"] + 65, 8):
            evaluated = ros.Stack(template(), {**sample_values(), "Cpu": str(cpu), "MemorySize": str(memory)})
            accepted = not parameter_errors(cpu, memory) and not evaluated.rule_violations()
            if accepted:
                assert fc_accepts(cpu, memory), (cpu, memory)
            elif (
                cpu in cpus and params["MemorySize"]["MinValue"] <= memory <= params["MemorySize"]["MaxValue"]
            ):
                assert not fc_accepts(cpu, memory), (cpu, memory)


def test_the_rules_use_only_functions_rules_offer() -> None:
    rules = template()["Rules"]
    assert rules
    for name, rule in rules.items():
        assert set(rule) <= {"RuleCondition", "Assertions"}, name
        assert rule["Assertions"], name
        for node in ros.walk(rule):
            if isinstance(node, dict):
                functions = {key for key in node if key == "Ref" or key.startswith("Fn::")}
                assert functions <= ros.RULE_FUNCTIONS, (name, functions)
                if "Ref" in node:
                    assert node["Ref"] in template()["Parameters"], name  # Rules see parameters only
        for assertion in rule["Assertions"]:
            assert set(assertion) <= {"Assert", "AssertDescription"}, name
            assert assertion.get("AssertDescription"), f"{name}: tell the user what to change"


# -- the results subscription ---------------------------------------------------------------------------


def test_the_results_subscription_exists_only_with_an_endpoint() -> None:
    assert "ResultsSubscription" not in stack().created()
    endpoint = "mail:directmail:ops@example.com"
    evaluated = stack(ResultsSubscriptionEndpoint=endpoint)
    assert "ResultsSubscription" in evaluated.created()
    subscription = evaluated.properties("ResultsSubscription")
    assert subscription["TopicName"] == evaluated.properties(only("ALIYUN::MNS::Topic"))["TopicName"]
    assert subscription["Endpoint"] == endpoint
    assert subscription["SubscriptionName"] == "ebs-failover-results"
    # MNS's subscription names: a letter first, then letters, digits and -.
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,255}", subscription["SubscriptionName"])
    param = template()["Parameters"]["ResultsSubscriptionEndpoint"]
    for good in ("", endpoint, "http://hooks.example.com/ebs", "https://hooks.example.com/ebs?x=1"):
        assert ros.check_parameter_value("ResultsSubscriptionEndpoint", param, good) == [], good
    for bad in ("ops@example.com", "mail:directmail:", "ftp://x", "http://a b"):
        assert ros.check_parameter_value("ResultsSubscriptionEndpoint", param, bad) != [], bad


# -- the incident ledger ---------------------------------------------------------------------------------


def ledger_statements(evaluated: ros.Stack) -> list[dict[str, Any]]:
    return [s for s in statements(evaluated) if any(a.startswith("oss:") for a in s["Action"])]


def test_the_ledger_bucket_is_private_unversioned_and_expires_the_records() -> None:
    evaluated = stack()
    assert "IncidentLedgerBucket" in evaluated.created()
    raw = template()["Resources"][only("ALIYUN::OSS::Bucket")]
    # Never versioned (OSS ignores x-oss-forbid-overwrite in a versioned or suspended bucket): the key is
    # nowhere in the resource, whatever the parameters.
    assert not any(isinstance(node, dict) and "VersioningConfiguration" in node for node in ros.walk(raw))
    bucket = evaluated.properties(only("ALIYUN::OSS::Bucket"))
    assert bucket["AccessControl"] == "private"
    assert not bucket.get("DeletionForce", False)  # ROS never deletes the records with the bucket
    assert raw["DeletionPolicy"] == "Retain"  # deleting the stack keeps the incidents it recorded
    params = template()["Parameters"]
    prefix = params["LedgerPrefix"]["Default"]
    assert params["LedgerRetentionDays"]["Default"] == 400
    assert bucket["LifecycleConfiguration"] == {
        "Rule": [
            {
                "ID": "ebs-failover-ledger-expiry",
                "Prefix": prefix,
                "Status": "Enabled",
                "Expiration": {"Days": 400},
            }
        ]
    }
    # The rule follows the parameters: its days, and the prefix the function writes under.
    [rule] = stack(LedgerRetentionDays="30", LedgerPrefix="dr/ebs/").properties("IncidentLedgerBucket")[
        "LifecycleConfiguration"
    ]["Rule"]
    assert (rule["Prefix"], rule["Expiration"]["Days"]) == ("dr/ebs/", 30)
    elsewhere = ledger_of(stack(LedgerPrefix="dr/ebs/"))
    assert elsewhere is not None
    assert elsewhere.prefix == "dr/ebs/"
    piece = evaluated.stack_id.split("-")[0]
    assert bucket["BucketName"] == f"failover-ledger-{evaluated.tenant}-{evaluated.region}-{piece}"


def test_ledger_names_the_bucket_and_the_prefix() -> None:
    evaluated = stack()
    env = evaluated.properties(only("ALIYUN::FC3::Function"))["EnvironmentVariables"]
    bucket = evaluated.properties("IncidentLedgerBucket")["BucketName"]
    assert env["LEDGER"] == f"oss://{bucket}/ebs-failover/"
    assert env["LEDGER_REGION"] == ""  # the stack's region, where the bucket is
    assert "OSS_ENDPOINT" not in env
    place = ledger_of(evaluated)
    assert place == config.LedgerPlace(bucket, "ebs-failover/", None, None)
    # The template's default prefix is the code's.
    default = config.load({"LEDGER": f"oss://{bucket}"}).ledger
    assert default is not None
    assert template()["Parameters"]["LedgerPrefix"]["Default"] == default.prefix


def test_the_role_may_append_to_the_ledger_and_nothing_else_on_oss() -> None:
    evaluated = stack()
    bucket = evaluated.properties("IncidentLedgerBucket")["BucketName"]
    assert ledger_statements(evaluated) == [
        {
            "Effect": "Allow",
            "Action": ["oss:PutObject", "oss:GetObject"],
            "Resource": [f"acs:oss:*:*:{bucket}/ebs-failover/*"],
        },
        {
            "Effect": "Allow",
            "Action": ["oss:ListObjects"],
            "Resource": [f"acs:oss:*:*:{bucket}"],
            "Condition": {"StringLike": {"oss:Prefix": ["ebs-failover/*"]}},
        },
    ]
    actions = {a for s in statements(evaluated) for a in s["Action"] if a.startswith("oss:")}
    assert actions == {"oss:PutObject", "oss:GetObject", "oss:ListObjects"}  # no Delete of any kind
    policy = statements(evaluated)
    region, tenant = evaluated.region, evaluated.tenant

    def obj(key: str, in_bucket: str = bucket) -> str:
        return f"acs:oss:{region}:{tenant}:{in_bucket}/{key}"

    record = "ebs-failover/incidents/cms%3A1/pair-cn-x/failover"
    for action in ("oss:PutObject", "oss:GetObject"):
        assert allows(policy, action, obj(record))
        assert not allows(policy, action, obj("other/incidents/cms%3A1/pair-cn-x/failover"))
        assert not allows(policy, action, obj(record, "another-bucket"))
    for action in ("oss:DeleteObject", "oss:PutObjectAcl", "oss:PutBucketVersioning", "oss:*"):
        assert not allows(policy, action, obj(record)), action
        assert not allows(policy, action, f"acs:oss:{region}:{tenant}:{bucket}"), action
    listing = f"acs:oss:{region}:{tenant}:{bucket}"
    assert allows(policy, "oss:ListObjects", listing, {"oss:Prefix": "ebs-failover/incidents/cms%3A1/"})
    assert allows(policy, "oss:ListObjects", listing, {"oss:Prefix": "ebs-failover/"})
    assert not allows(policy, "oss:ListObjects", listing, {"oss:Prefix": ""})  # the whole bucket
    assert not allows(policy, "oss:ListObjects", listing, {"oss:Prefix": "other/"})
    assert not allows(policy, "oss:ListObjects", listing)  # a listing with no prefix at all
    assert not allows(
        policy,
        "oss:ListObjects",
        f"acs:oss:{region}:{tenant}:another-bucket",
        {"oss:Prefix": "ebs-failover/"},
    )


def test_the_ledger_works_within_the_role_and_no_further() -> None:
    """The function's own store, through the real OSS SDK, against a fake OSS that grants only what the
    role's OSS statements allow: every operation the ledger has works; a listing beyond the prefix and a
    delete are refused."""
    from ebs_failover.cloud.credentials import Credentials
    from ebs_failover.errors import LedgerUnavailable
    from ebs_failover.ledger import Record, open_ledger

    evaluated = stack(LedgerBucket=LEDGER_BUCKET, LedgerPrefix="dr/ebs/")
    place = ledger_of(evaluated)
    assert place is not None
    oss = FakeOss(buckets=[place.bucket], region=evaluated.region)
    oss.register_credential(
        STS_KEY, STS_SECRET, security_token=STS_TOKEN, grants=oss_grants(statements(evaluated))
    )
    credentials = Credentials(STS_KEY, STS_SECRET, STS_TOKEN)
    with MockOss(oss):
        ledger = open_ledger(place, evaluated.region, lambda: credentials)
        record = Record(
            "cms:1-2-0", "pair-cn-x1", "failover", 1_726_121_401.5, {"client_token": "t"}, by="r-1"
        )
        assert ledger.append(record).won
        assert ledger.append(dataclasses.replace(record, by="r-2")).won is False  # the 409, read back
        assert [r.by for r in ledger.records("cms:1-2-0")] == ["r-1"]
        assert ledger.incidents() == ["cms:1-2-0"]
        for beyond in ("", "dr/", "other/"):
            with pytest.raises(LedgerUnavailable, match="AccessDenied"):
                ledger.store.keys(beyond)
    assert {call.operation for call in oss.calls if call.status == 200} == {
        "PutObject",
        "GetObject",
        "ListObjectsV2",
    }
    assert list(oss.objects(place.bucket)) == [record.key("dr/ebs/")]
    # No store operation deletes, and the grants would refuse it: DeleteObject is not among them.
    assert all("oss:DeleteObject" not in grant.actions for grant in oss_grants(statements(evaluated)))


def test_an_existing_ledger_bucket_is_used_and_not_created() -> None:
    evaluated = stack(LedgerBucket=LEDGER_BUCKET)
    assert evaluated.rule_violations() == []
    assert "IncidentLedgerBucket" not in evaluated.created()
    assert not any(template()["Resources"][n]["Type"] == "ALIYUN::OSS::Bucket" for n in evaluated.created())
    env = evaluated.properties(only("ALIYUN::FC3::Function"))["EnvironmentVariables"]
    assert env["LEDGER"] == f"oss://{LEDGER_BUCKET}/ebs-failover/"
    assert env["LEDGER_REGION"] == ""
    resources_named = {r for s in ledger_statements(evaluated) for r in s["Resource"]}
    assert resources_named == {f"acs:oss:*:*:{LEDGER_BUCKET}/ebs-failover/*", f"acs:oss:*:*:{LEDGER_BUCKET}"}
    assert evaluated.outputs()["Ledger"] == env["LEDGER"]


def test_no_ledger_no_bucket_and_no_oss() -> None:
    evaluated = stack(LedgerEnabled="false")
    assert evaluated.rule_violations() == []
    assert "IncidentLedgerBucket" not in evaluated.created()
    env = evaluated.properties(only("ALIYUN::FC3::Function"))["EnvironmentVariables"]
    assert env["LEDGER"] == ""
    assert ledger_of(evaluated) is None
    assert ledger_statements(evaluated) == []
    # A bucket named while the ledger is off is a contradiction: rejected before anything is created.
    assert stack(LedgerEnabled="false", LedgerBucket=LEDGER_BUCKET).rule_violations() != []


def test_the_ledger_parameters_accept_what_the_code_and_oss_accept() -> None:
    params = template()["Parameters"]
    assert params["LedgerEnabled"]["Default"] == "true"
    assert params["LedgerBucket"]["Default"] == ""
    for good in ("", "team-dr-ledger", "abc", "a" * 63):
        assert ros.check_parameter_value("LedgerBucket", params["LedgerBucket"], good) == [], good
    for bad in ("Team-Ledger", "ab", "-ledger", "ledger-", "a" * 64, "dr_ledger", "dr.ledger"):
        assert ros.check_parameter_value("LedgerBucket", params["LedgerBucket"], bad) != [], bad
    # A prefix ends with "/" and has no RAM wildcard: the policy grants exactly <prefix>*, and the code
    # writes under <prefix> as given.
    for good in ("ebs-failover/", "dr/ebs/", "a/"):
        assert ros.check_parameter_value("LedgerPrefix", params["LedgerPrefix"], good) == [], good
        place = config.load({"LEDGER": f"oss://{LEDGER_BUCKET}/{good}"}).ledger
        assert place is not None
        assert place.prefix == good
    for bad in ("", "ebs-failover", "/ebs-failover/", "dr//ebs/", "dr/*/", "dr?/", "a b/"):
        assert ros.check_parameter_value("LedgerPrefix", params["LedgerPrefix"], bad) != [], bad
    days = params["LedgerRetentionDays"]
    assert days["Type"] == "Number"
    assert days["MinValue"] >= 1  # a record outlives its incident's retries (an hour at most)


# -- the deploy files carry the safety settings ---------------------------------------------------------

#: The FAILOVER_* settings the stack sets, each from its parameter.
SAFETY = {
    "FAILOVER_MAX_DATA_LOSS": "FailoverMaxDataLoss",
    "FAILOVER_MAX_EVENT_AGE": "FailoverMaxEventAge",
    "FAILOVER_VERIFY_SECONDS": "FailoverVerifySeconds",
    "FAILOVER_TIME_MARGIN": "FailoverTimeMargin",
    "FAILOVER_EVENT_TYPES": "FailoverEventTypes",
    "FAILOVER_ZONE": "FailoverZone",
}


def settings_of(evaluated: ros.Stack) -> config.Settings:
    env = evaluated.properties(only("ALIYUN::FC3::Function"))["EnvironmentVariables"]
    return config.load({name: str(value) for name, value in env.items()})


def test_every_failover_setting_of_the_code_is_a_parameter_of_the_stack() -> None:
    env = template()["Resources"][only("ALIYUN::FC3::Function")]["Properties"]["EnvironmentVariables"]
    assert {name for name in config.VARIABLES if name.startswith("FAILOVER_")} <= set(env)
    params = template()["Parameters"]
    for variable, parameter in SAFETY.items():
        assert parameter in params, parameter
        assert variable in params[parameter]["Description"], parameter
        evaluated = stack()
        assert str(
            evaluated.properties(only("ALIYUN::FC3::Function"))["EnvironmentVariables"][variable]
        ) == str(evaluated.parameter(parameter))


def test_a_stack_deployed_with_defaults_has_its_data_loss_guard_on() -> None:
    """The code's default is no limit; the stack's is a number above a replication cycle (900 s) plus an
    alarm's delay: a failover that would lose more than half an hour waits for a person."""
    settings = settings_of(stack())
    assert settings.max_data_loss == 1800
    assert settings.max_event_age == 3600  # the code's default, and MaxAsyncEventAgeInSeconds
    async_config = template()["Resources"][only("ALIYUN::FC3::AsyncInvokeConfig")]["Properties"]
    assert settings.max_event_age == async_config["MaxAsyncEventAgeInSeconds"]
    defaults = config.load({})
    assert (settings.verify_seconds, settings.time_margin) == (defaults.verify_seconds, defaults.time_margin)
    assert settings.event_types == defaults.event_types
    # none switches either guard off, as the function reads it.
    off = settings_of(stack(FailoverMaxDataLoss="none", FailoverMaxEventAge="none"))
    assert (off.max_data_loss, off.max_event_age) == (None, None)


#: Values for each safety parameter: what its AllowedPattern / range accepts, the function reads as said;
#: what it refuses, ROS refuses before anything is created.
ACCEPTED: dict[str, dict[str, Any]] = {
    "FailoverMaxDataLoss": {"0": 0.0, "1800": 1800.0, "999999999": 999999999.0, "none": None},
    "FailoverMaxEventAge": {"1": 1.0, "3600": 3600.0, "315360000": 315360000.0, "none": None},
    "FailoverVerifySeconds": {"0": 0.0, "30": 30.0, "600": 600.0},
    "FailoverTimeMargin": {"0": 0.0, "8": 8.0, "600": 600.0},
    "FailoverEventTypes": {
        "": config.load({}).event_types,
        "ebs:Disk:DiskIOHang": frozenset({"ebs:Disk:DiskIOHang"}),
        "Disk:Stalled:Executing,ebs:Disk:DiskIOHang": frozenset(
            {"Disk:Stalled:Executing", "ebs:Disk:DiskIOHang"}
        ),
    },
}
REFUSED = {
    # 0 is the old spelling of none for the event age (a warning): the stack offers only none.
    "FailoverMaxDataLoss": ["", "-1", "abc", "1e3", "None ", "1234567890"],
    "FailoverMaxEventAge": ["", "0", "-1", "abc", "1234567890"],
    "FailoverVerifySeconds": ["-1", "601"],
    "FailoverTimeMargin": ["-1", "601"],
    "FailoverEventTypes": [",", "a,,b", "a, b"],
}
FIELD = {
    "FailoverMaxDataLoss": "max_data_loss",
    "FailoverMaxEventAge": "max_event_age",
    "FailoverVerifySeconds": "verify_seconds",
    "FailoverTimeMargin": "time_margin",
    "FailoverEventTypes": "event_types",
}


@pytest.mark.parametrize("parameter", sorted(ACCEPTED))
def test_the_safety_parameters_accept_what_the_code_reads_as_meant(parameter: str) -> None:
    spec = template()["Parameters"][parameter]
    for value, meant in ACCEPTED[parameter].items():
        assert ros.check_parameter_value(parameter, spec, value) == [], value
        assert getattr(settings_of(stack(**{parameter: value})), FIELD[parameter]) == meant, value
    for value in REFUSED[parameter]:
        assert ros.check_parameter_value(parameter, spec, value) != [], value


ROBOT = {"RobotUrl": "https://oapi.dingtalk.com/robot/send?access_token=t0k3n", "RobotSecret": "SECs1gn"}


def test_no_robot_by_default_and_no_robot_variables() -> None:
    env = stack().properties(only("ALIYUN::FC3::Function"))["EnvironmentVariables"]
    assert not {"NOTIFY_ROBOT_URL", "NOTIFY_ROBOT_SECRET"} & set(env)
    assert [c.kind for c in settings_of(stack()).notify_targets] == ["mns"]
    assert settings_of(stack()).warnings == ()


@pytest.mark.parametrize("kind", ["dingtalk", "lark", "wecom"])
def test_a_chat_robot_through_the_stack(kind: str) -> None:
    values = (
        {"RobotKind": kind, **ROBOT}
        if kind != "wecom"
        else {"RobotKind": kind, "RobotUrl": ROBOT["RobotUrl"]}
    )
    evaluated = stack(EventBusName=BUS, **values)
    assert evaluated.rule_violations() == []
    settings = settings_of(evaluated)
    topic = evaluated.properties(only("ALIYUN::MNS::Topic"))["TopicName"]
    assert [c.label for c in settings.notify_targets] == [
        f"mns:{topic}",
        f"eventbridge:{BUS}",
        f"{kind}:robot",
    ]
    robot = settings.notify_targets[-1]
    assert robot.url == ROBOT["RobotUrl"]
    assert robot.secret == (None if kind == "wecom" else ROBOT["RobotSecret"])
    assert robot.outcomes == frozenset({"failed_over", "failed", "refused", "drill_failed"})
    assert settings.warnings == ()
    every = settings_of(stack(**values, RobotOutcomes="")).notify_targets[-1]
    assert every.outcomes is None


def test_the_robot_parameters_are_secret_and_checked_before_anything_is_created() -> None:
    params = template()["Parameters"]
    assert params["RobotKind"]["Default"] == "none"
    assert set(params["RobotKind"]["AllowedValues"]) - {"none"} <= set(notify.channels.KINDS)
    assert params["RobotUrl"]["NoEcho"] is True
    assert params["RobotSecret"]["NoEcho"] is True
    # The outcome filter's pattern names exactly the outcomes the function tells.
    from ebs_failover.outcomes import OUTCOMES

    named = set(re.findall(r"[a-z_]+", params["RobotOutcomes"]["AllowedPattern"]))
    assert named == set(OUTCOMES)
    assert ros.check_parameter_value("RobotOutcomes", params["RobotOutcomes"], "failed_over,nonsense") != []
    assert stack(RobotKind="dingtalk", RobotUrl=ROBOT["RobotUrl"]).rule_violations() != []  # no secret
    assert stack(RobotKind="lark", RobotSecret="s").rule_violations() != []  # no URL
    assert stack(RobotUrl=ROBOT["RobotUrl"]).rule_violations() != []  # no kind
    assert ros.check_parameter_value("RobotUrl", params["RobotUrl"], "http://example.com/hook") != []


def test_no_secret_parameter_comes_back_in_an_output() -> None:
    doc = template()
    secret = [name for name, p in doc["Parameters"].items() if p.get("NoEcho")]
    assert {"CallbackToken", "RobotUrl", "RobotSecret"} <= set(secret)
    for name, output in doc.get("Outputs", {}).items():
        text = json.dumps(output["Value"])
        for parameter in secret:
            assert json.dumps({"Ref": parameter}) not in text, f"output {name} shows {parameter}"
            assert "${" + parameter + "}" not in text, f"output {name} shows {parameter}"


@pytest.mark.skipif(shutil.which("jq") is None, reason="no jq on this machine to compare the models with")
@pytest.mark.parametrize("script", sorted(ros.JQ_SCRIPTS))
def test_the_jq_models_are_what_jq_computes(script: str) -> None:
    documents = [
        sample_values()["FailoverTargets"],
        '{"d-1": "pair-b", "i-1": ["pair-a", "pg-x", "pair-b"], "d-2": "pg-a"}',
        '{"d-1": "pair-only"}',
        '{"i-1": ["pg-only", "pg-only"]}',
        "{}",
    ]
    for document in documents:
        real = subprocess.run(
            ["jq", "-c", script], input=document, capture_output=True, text=True, check=True
        ).stdout.splitlines()
        assert [json.loads(line) for line in real] == [ros.jq("First", script, document)], document


def test_the_targets_are_typed_once() -> None:
    """The policy's pairs and groups come from FailoverTargets: a target added there is granted, with no
    second list to forget."""
    params = template()["Parameters"]
    assert [name for name, p in params.items() if "Default" not in p] == [
        "FailoverTargets",
        "CodeBucket",
        "CodeObject",
        "CallbackToken",
    ]
    evaluated = stack(FailoverTargets='{"d-new1": "pair-cn-new1", "i-new1": ["pg-new1"]}')
    policy, tenant, standby = statements(evaluated), evaluated.tenant, evaluated.region
    assert allows(
        policy, "ebs:FailoverDiskReplicaPair", f"acs:ebs:{standby}:{tenant}:diskreplicapair/pair-cn-new1"
    )
    assert allows(policy, "ebs:StartPairDrill", f"acs:ebs:{standby}:{tenant}:diskreplicapair/pair-cn-new1")
    assert allows(
        policy, "ebs:FailoverDiskReplicaGroup", f"acs:ebs:{standby}:{tenant}:diskreplicagroup/pg-new1"
    )
    assert not allows(
        policy, "ebs:FailoverDiskReplicaPair", f"acs:ebs:{standby}:{tenant}:diskreplicapair/pair-cn-demo0db01"
    )


def test_the_console_shows_every_parameter_once_in_a_labelled_group() -> None:
    interface = template()["Metadata"]["ALIYUN::ROS::Interface"]
    grouped: list[str] = []
    for group in interface["ParameterGroups"]:
        assert group["Label"]["default"], group
        grouped += group["Parameters"]
    params = template()["Parameters"]
    assert sorted(grouped) == sorted(params), "every parameter in exactly one group"
    assert len(grouped) == len(set(grouped))
    for name, param in params.items():
        assert param.get("Label"), f"{name}: the console's label"
    assert interface["ParameterGroups"][0]["Parameters"][0] == "FailoverTargets"


def test_the_weekly_drill_is_off_until_switched_on() -> None:
    """A fresh deployment makes no drill disks: the timer exists, disabled, until DrillEnabled is true."""
    assert template()["Parameters"]["DrillEnabled"]["Default"] == "false"
    assert stack().properties("DrillTimer")["TriggerConfig"]["enable"] is False
    assert stack(DrillEnabled="true").properties("DrillTimer")["TriggerConfig"]["enable"] is True
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    deploy = readme[readme.index("## Deploy") : readme.index("## Wire an alarm")]
    assert "DrillEnabled" in deploy
    assert "DRILL_ENABLED" in deploy
    assert "replicating" in deploy


EXAMPLE = ROOT / "deploy" / "parameters.example.json"


def example_values() -> dict[str, str]:
    entries = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(entries, list)
    values: dict[str, str] = {}
    for entry in entries:
        assert set(entry) == {"ParameterKey", "ParameterValue"}, entry
        assert isinstance(entry["ParameterValue"], str), entry  # CreateStack takes text
        assert entry["ParameterKey"] not in values, f"{entry['ParameterKey']} twice"
        values[entry["ParameterKey"]] = entry["ParameterValue"]
    return values


def test_the_parameters_example_is_a_deployment_the_template_and_the_code_accept() -> None:
    params = template()["Parameters"]
    values = example_values()
    assert set(values) <= set(params), set(values) - set(params)
    required = {name for name, p in params.items() if "Default" not in p}
    assert required <= set(values), required - set(values)
    for name, value in values.items():
        parsed = value.split(",") if params[name]["Type"] == "CommaDelimitedList" else value
        assert ros.check_parameter_value(name, params[name], parsed) == [], name
    evaluated = ros.Stack(template(), values, region=demo()["env"]["FAILOVER_REGION"])
    assert evaluated.rule_violations() == []
    settings = settings_of(evaluated)
    # A safe first deployment: dry-run, the data-loss guard on, no weekly drill yet.
    assert (settings.mode, settings.max_data_loss) == ("dry-run", 1800)
    assert evaluated.properties("DrillTimer")["TriggerConfig"]["enable"] is False
    assert settings.configured_targets == {
        *pair_ids(values["FailoverTargets"]),
        *pair_ids(values["FailoverTargets"], "pg-"),
    }
    found = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert found is not None
    assert values["CodeObject"].endswith(f"ebs-failover-{found.group(1)}.zip")
