"""pytest fixtures for the fake EBS, registered through the ``pytest11`` entry point.

* ``fake_ebs``: a fresh :class:`~ebs_failover.testing.MockEbs`, mounted on
  ``requests`` for the test's duration;
* ``fake_ebs_server``: a fresh :class:`~ebs_failover.testing.FakeEbsServer` on
  127.0.0.1, with the proxy variables removed so the SDK reaches it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import PROXY_VARIABLES, FakeEbsServer, MockEbs, mock_ebs


@pytest.fixture
def fake_ebs() -> Iterator[MockEbs]:
    with mock_ebs() as mock:
        yield mock


@pytest.fixture
def fake_ebs_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEbsServer]:
    # darabonba passes proxies from the environment explicitly; NO_PROXY does not help.
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with FakeEbsServer() as server:
        yield server
