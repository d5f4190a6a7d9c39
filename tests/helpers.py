"""Helpers more than one test module uses: the repository's paths, the command's runner, the demo
deployment's pairs on the fake EBS and the events that reach them, and template.yml read and resolved.

A plain module, not a test module: no tests here, and no test module imports another (fixtures shared by
every module are in ``conftest.py``).
"""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from ebs_failover import cli
from ebs_failover.testing import FakeEbs, FcContext, FcCredentials, FcFunction

from . import template_specs as ros
from .conftest import PRIMARY, STANDBY, seed_pair

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
TEMPLATE = ROOT / "template.yml"

# -- the command -----------------------------------------------------------------------------------

#: What the command's tests clear from the environment: proxies (the SDKs send even loopback requests
#: through one) and the ``ALIBABA_CLOUD_*`` credentials and account.
CLEARED = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALIBABA_CLOUD_ACCOUNT_ID",
    "ALIBABA_CLOUD_REGION_ID",
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    """The command's single stderr line (asserts there is exactly one, and no traceback)."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ebs-failover: "), err
    assert "Traceback" not in err
    return lines[0]


# -- the handler against the fake EBS: the demo's two pairs ------------------------------------------

DB_PAIR, APP_PAIR = "pair-cn-demo0db01", "pair-cn-demo0app01"
DB_DISK, APP_DISK, APP_INSTANCE = "d-bp1demo0primary01", "d-bp1demo0app0data1", "i-bp1demo0app01"
KEY, SECRET = "STS.fc-role", "Trust-Secret-Value-5a6b7c"
DESCRIBE, FAILOVER = "DescribeDiskReplicaPairs", "FailoverDiskReplicaPair"


def demo_fake(*pairs: dict[str, Any]) -> FakeEbs:
    """A fake EBS that accepts ``KEY``/``SECRET``, seeded with ``pairs`` (by default the DB and APP pairs)."""
    fake = FakeEbs(seed=5)
    fake.register_credential(KEY, SECRET)
    fake.load_seed({"pairs": list(pairs) or [seed_pair(DB_PAIR, DB_DISK), seed_pair(APP_PAIR, APP_DISK)]})
    return fake


def fc_context(timeout: int = 30, request_id: str = "req-1") -> FcContext:
    """FC's context in the standby region, with ``KEY``/``SECRET`` as the function's credentials."""
    return FcContext(
        request_id=request_id,
        function=FcFunction(timeout=timeout),
        credentials=FcCredentials(KEY, SECRET, ""),
        region=STANDBY,
    )


def alarm(
    dimensions: str = f"diskId={DB_DISK}",
    *,
    at: float | None = None,
    level: str = "CRITICAL",
    trans: str = "t-1",
) -> bytes:
    """A CloudMonitor callback (form), alerting now unless ``at`` says otherwise."""
    millis = int((time.time() if at is None else at) * 1000)
    fields = [
        "alertName=iops",
        "alertState=ALERT",
        *([f"triggerLevel={level}"] if level else []),
        "metricName=DiskIOPS",
        "ruleId=rule-7",
        f"timestamp={millis}",
        f"dimensions={{userId=1,+{dimensions}}}",
        f"transId={trans}",
    ]
    return "&".join(fields).encode()


def disk_event(disk: str, instance: str) -> bytes:
    """EventBridge's ebs:Disk:DiskIOHang on ``disk``, attached to ``instance``, happening now."""
    event = json.loads((EVENTS / "eventbridge-ebs-diskiohang.json").read_text())
    event["id"] = f"iohang-{disk}"
    event["subject"] = f"acs.ebs:{PRIMARY}:1234567890123456:{disk}"
    event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    event["data"]["resourceId"] = disk
    event["data"]["extraAttributes"]["EcsInstanceId"] = instance
    return json.dumps(event).encode()


# -- template.yml ------------------------------------------------------------------------------------


@cache
def template() -> dict[str, Any]:
    # safe_load: the template must not need the short tags (!Ref, !Sub) a plain YAML reader rejects.
    loaded = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@cache
def demo() -> dict[str, Any]:
    """The demo's configuration and seed: the sample deployment the live runs use."""
    loaded = json.loads((EVENTS / "config.json").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def pair_ids(targets_json: str, prefix: str = "pair-") -> list[str]:
    """Every pair (``prefix`` ``pg-``: replica group) id in FAILOVER_TARGETS, each once: what the template's
    RAM policy must name (it derives them from FailoverTargets itself)."""
    pairs: list[str] = []
    for value in json.loads(targets_json).values():
        for pair in [value] if isinstance(value, str) else value:
            if pair not in pairs and pair.startswith(prefix):
                pairs.append(pair)
    return pairs


def sample_values(failover_region: str = "") -> dict[str, str]:
    env = demo()["env"]
    return {
        "FailoverTargets": env["FAILOVER_TARGETS"],
        "FailoverMode": "live",
        "FailoverRegion": failover_region,
        "CodeBucket": "ebs-failover-code",
        "CodeObject": "ebs-failover-0.1.0.zip",
        "CallbackToken": env.get("CALLBACK_TOKEN") or "a-callback-token-of-some-length",
    }


def stack(failover_region: str = "", **values: str) -> ros.Stack:
    """The template resolved for the sample deployment, in the demo's standby region."""
    standby = demo()["env"]["FAILOVER_REGION"]
    return ros.Stack(template(), {**sample_values(failover_region), **values}, region=standby)


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == kind}


def only(kind: str) -> str:
    [name] = resources(kind)
    return name


def trigger(kind: str) -> dict[str, Any]:
    [props] = [
        r["Properties"]
        for r in resources("ALIYUN::FC3::Trigger").values()
        if r["Properties"]["TriggerType"] == kind
    ]
    assert isinstance(props, dict)
    return props
