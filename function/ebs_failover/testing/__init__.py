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

Layout (moto's), imports in one direction: mounting (``_mock`` through
``responses``, ``_server`` on a socket) → the service (``_service``: backends,
credentials, faults, the call log) → protocol (``_wire``, ``_auth``) → state
(``_models``, the status machine, and ``_drills``); the errors it answers with are documented in
``_exceptions``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._auth import DEFAULT_ACCOUNT_ID, Credential
    from ._context import FcContext, FcCredentials, FcFunction, FcTracing
    from ._drills import DRILL_STATUSES, Drill, DrillDisk, DrillOperation, Drills
    from ._eventbridge import FakeEventBridgeServer
    from ._faults import Fault, FaultPlan, Quota
    from ._fc import FakeFcServer, FcCall, FcInvocation
    from ._http import PROXY_VARIABLES
    from ._mns import FakeMnsServer
    from ._mock import EBS_URL, MockEbs, mock_ebs
    from ._models import (
        PAIR_STATUSES,
        EbsBackend,
        Operation,
        ReplicaGroup,
        ReplicaPair,
        Transition,
        Transitions,
    )
    from ._robots import FakeRobotServer, RobotCall
    from ._server import FakeEbsServer
    from ._service import DEFAULT_CREDENTIAL, FakeEbs, RecordedCall
    from ._wire import ACTIONS, API_VERSION

#: Where each public name lives. Imported on first use: ``FcContext`` alone (a console-style test,
#: ``ebs-failover run``) must not pay for the fake's signing, wire, HTTP server and models (~100 ms).
_HOMES = {
    "ACTIONS": "_wire",
    "API_VERSION": "_wire",
    "DEFAULT_ACCOUNT_ID": "_auth",
    "DEFAULT_CREDENTIAL": "_service",
    "DRILL_STATUSES": "_drills",
    "EBS_URL": "_mock",
    "PAIR_STATUSES": "_models",
    "PROXY_VARIABLES": "_http",
    "Credential": "_auth",
    "Drill": "_drills",
    "DrillDisk": "_drills",
    "DrillOperation": "_drills",
    "Drills": "_drills",
    "EbsBackend": "_models",
    "FakeEbs": "_service",
    "FakeEbsServer": "_server",
    "FakeEventBridgeServer": "_eventbridge",
    "FakeFcServer": "_fc",
    "FakeMnsServer": "_mns",
    "FakeRobotServer": "_robots",
    "FcCall": "_fc",
    "FcContext": "_context",
    "FcCredentials": "_context",
    "FcFunction": "_context",
    "FcInvocation": "_fc",
    "FcTracing": "_context",
    "Fault": "_faults",
    "FaultPlan": "_faults",
    "MockEbs": "_mock",
    "Operation": "_models",
    "Quota": "_faults",
    "RecordedCall": "_service",
    "RobotCall": "_robots",
    "ReplicaGroup": "_models",
    "ReplicaPair": "_models",
    "Transition": "_models",
    "Transitions": "_models",
    "mock_ebs": "_mock",
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
