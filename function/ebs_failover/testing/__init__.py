"""A moto-style fake of EBS async replication, shipped with the package.

Like ``structlog.testing``, it is part of the library so that tests, the demo
and the benchmarks all drive the real ``alibabacloud-ebs20210730`` client
against the same fake::

    from ebs_failover.testing import mock_ebs

    with mock_ebs() as ebs:               # requests to ebs*.aliyuncs.com reach the fake
        ...                               # use the real SDK, credentials testing/testing
        ebs.fake.calls                    # what was sent

    with FakeEbsServer() as server:       # the same fake on 127.0.0.1
        Config(endpoint=server.endpoint, protocol="http", ...)

Layout (moto's): what every fake shares in ``_core/`` (``http``: the loopback server and injected
faults; ``auth``: ACS3 signatures and credentials; ``errors``: the gateway's error answers;
``faults``: fault plans and quotas), then one package per service: ``ebs/``, ``mns/``,
``oss/`` (``FakeOss``, ``FakeOssServer``, ``MockOss``: objects for ``alibabacloud-oss-v2``),
``eventbridge/``, ``fc/`` (with ``context``, FC's runtime context) and ``robots/``. In each,
imports go one way: mounting (``ebs.mock`` through ``responses``, ``*.server`` on a socket) → the
service (``ebs.service``: backends, credentials, faults, the call log) → protocol
(``ebs.responses``) → state (``ebs.models``: one backend of resource mixins, pairs, groups and drills,
sharing one state and lock, as moto's EC2 backend does).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._core.auth import DEFAULT_ACCOUNT_ID, Credential
    from ._core.faults import Fault, FaultPlan, Quota
    from ._core.http import PROXY_VARIABLES
    from .ebs.mock import EBS_URL, MockEbs, mock_ebs
    from .ebs.models import (
        DRILL_STATUSES,
        PAIR_STATUSES,
        Drill,
        DrillDisk,
        DrillOperation,
        Drills,
        EbsBackend,
        Operation,
        ReplicaGroup,
        ReplicaPair,
        Transition,
        Transitions,
    )
    from .ebs.responses import ACTIONS, API_VERSION
    from .ebs.server import FakeEbsServer
    from .ebs.service import DEFAULT_CREDENTIAL, FakeEbs, RecordedCall
    from .eventbridge.server import FakeEventBridgeServer
    from .fc.context import FcContext, FcCredentials, FcFunction, FcTracing
    from .fc.server import FakeFcServer, FcCall, FcInvocation
    from .mns.server import FakeMnsServer
    from .oss.responses import FakeOss
    from .oss.server import FakeOssServer, MockOss
    from .robots.server import FakeRobotServer, RobotCall

#: Where each public name lives. Imported on first use: ``FcContext`` alone (a console-style test,
#: ``ebs-failover run``) must not pay for the fake's signing, wire, HTTP server and models (~100 ms).
_HOMES = {
    "ACTIONS": "ebs.responses",
    "API_VERSION": "ebs.responses",
    "DEFAULT_ACCOUNT_ID": "_core.auth",
    "DEFAULT_CREDENTIAL": "ebs.service",
    "DRILL_STATUSES": "ebs.models",
    "EBS_URL": "ebs.mock",
    "PAIR_STATUSES": "ebs.models",
    "PROXY_VARIABLES": "_core.http",
    "Credential": "_core.auth",
    "Drill": "ebs.models",
    "DrillDisk": "ebs.models",
    "DrillOperation": "ebs.models",
    "Drills": "ebs.models",
    "EbsBackend": "ebs.models",
    "FakeEbs": "ebs.service",
    "FakeEbsServer": "ebs.server",
    "FakeEventBridgeServer": "eventbridge.server",
    "FakeFcServer": "fc.server",
    "FakeMnsServer": "mns.server",
    "FakeOss": "oss.responses",
    "FakeOssServer": "oss.server",
    "FakeRobotServer": "robots.server",
    "FcCall": "fc.server",
    "FcContext": "fc.context",
    "FcCredentials": "fc.context",
    "FcFunction": "fc.context",
    "FcInvocation": "fc.server",
    "FcTracing": "fc.context",
    "Fault": "_core.faults",
    "FaultPlan": "_core.faults",
    "MockEbs": "ebs.mock",
    "MockOss": "oss.server",
    "Operation": "ebs.models",
    "Quota": "_core.faults",
    "RecordedCall": "ebs.service",
    "RobotCall": "robots.server",
    "ReplicaGroup": "ebs.models",
    "ReplicaPair": "ebs.models",
    "Transition": "ebs.models",
    "Transitions": "ebs.models",
    "mock_ebs": "ebs.mock",
}

__all__ = [
    "ACTIONS",
    "API_VERSION",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_CREDENTIAL",
    "DRILL_STATUSES",
    "EBS_URL",
    "PAIR_STATUSES",
    "PROXY_VARIABLES",
    "Credential",
    "Drill",
    "DrillDisk",
    "DrillOperation",
    "Drills",
    "EbsBackend",
    "FakeEbs",
    "FakeEbsServer",
    "FakeEventBridgeServer",
    "FakeFcServer",
    "FakeMnsServer",
    "FakeOss",
    "FakeOssServer",
    "FakeRobotServer",
    "FcCall",
    "FcContext",
    "FcCredentials",
    "FcFunction",
    "FcInvocation",
    "FcTracing",
    "Fault",
    "FaultPlan",
    "MockEbs",
    "MockOss",
    "Operation",
    "Quota",
    "RecordedCall",
    "RobotCall",
    "ReplicaGroup",
    "ReplicaPair",
    "Transition",
    "Transitions",
    "mock_ebs",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # the next lookup is a plain global
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
