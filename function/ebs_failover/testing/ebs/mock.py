"""Mount the fake EBS in-process through ``responses``: ``mock_ebs()``.

Works as a context manager, a decorator and (see ``pytest_plugin``) a
fixture. Every ``requests`` call to ``ebs*.aliyuncs.com`` reaches the fake;
any other host is refused by ``responses`` with a message listing what is
mounted, so a test can never reach the network by mistake.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ebs_failover.testing.ebs.responses import WireRequest
from ebs_failover.testing.ebs.service import DEFAULT_CREDENTIAL, FakeEbs

if TYPE_CHECKING:
    import requests
    import responses

__all__ = ["EBS_URL", "MockEbs", "mock_ebs"]

#: The hosts intercepted: ``ebs.<region>.aliyuncs.com``, ``ebs-vpc.…``, ``ebs.aliyuncs.com``.
EBS_URL = re.compile(r"^https?://ebs[a-z0-9-]*(\.[a-z0-9-]+)?\.aliyuncs\.com(:\d+)?/")

#: Environment the SDK and the function read; set to the test credentials while mounted.
_ENV = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_CREDENTIAL.access_key_id,
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_CREDENTIAL.access_key_secret,
}
_ENV_REMOVED = ("ALIBABA_CLOUD_SECURITY_TOKEN",)

F = TypeVar("F", bound=Callable[..., Any])


_LOOPBACK = re.compile(r"^https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?/")


class MockEbs:
    """A :class:`FakeEbs` mounted on ``requests`` through ``responses``.

    ``requests_mock`` lets the fake join a ``responses.RequestsMock`` a test
    already runs (for other fakes); then starting and stopping it stays the
    test's business, and so does that mock's call history. A mock of its own
    keeps none: ``responses`` records every request and response it sees, a
    copy of what the fake's own log (``fake.calls``) holds, and over a long run
    (a benchmark, a soak) that copy would grow without bound and slow every
    full garbage collection down.
    """

    def __init__(
        self,
        fake: FakeEbs | None = None,
        *,
        requests_mock: responses.RequestsMock | None = None,
        set_env: bool = True,
    ) -> None:
        self.fake = fake if fake is not None else FakeEbs()
        self._external = requests_mock
        self._mock: responses.RequestsMock | None = None
        #: What ``_callback`` clears before each request: ``responses``' call lists (own mock only).
        self._histories: list[Any] = []
        self._set_env = set_env
        self._saved_env: dict[str, str | None] = {}
        self._depth = 0

    # -- mounting ------------------------------------------------------------

    def start(self) -> MockEbs:
        self._depth += 1
        if self._depth > 1:
            return self
        import responses  # only tests and the demo pay for it

        mock = self._external or responses.RequestsMock(assert_all_requests_are_fired=False)
        mounted = [mock.add_callback(method, EBS_URL, callback=self._callback) for method in ("POST", "GET")]
        if self._external is None:
            # The other fakes (the robots', EventBridge's) listen on loopback sockets: let their
            # requests through, so that one test or demo can mount EBS here and reach them there.
            mock.add_passthru(_LOOPBACK)
            mock.start()
            self._histories = [mock.calls, *(response.calls for response in mounted)]
        self._mock = mock
        if self._set_env:
            self._patch_env()
        return self

    def stop(self) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        if self._mock is not None and self._external is None:
            self._mock.stop()
            self._mock.reset()
        self._mock = None
        self._histories = []
        self._restore_env()

    def __enter__(self) -> MockEbs:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __call__(self, func: F) -> F:
        """Decorate a test: a fresh fake for every call."""

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.fake.reset()
            with self:
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    # -- the bridge ----------------------------------------------------------

    def _callback(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], Any]:
        import requests

        for history in self._histories:  # responses adds this call after we answer: it keeps one
            history.reset()

        wire = WireRequest.build(
            request.method or "POST", request.url or "", dict(request.headers), request.body
        )
        answer = self.fake.handle(wire, transport="responses")
        if answer.fault is not None and answer.fault.kind == "trickle":
            time.sleep(answer.fault.seconds)  # in process, a slow answer is a call that takes this long
        elif answer.fault is not None and answer.fault.kind == "stall":
            return 0, {}, requests.exceptions.ReadTimeout(f"fake EBS stalled {wire.action}")
        elif answer.fault is not None:
            return 0, {}, requests.exceptions.ConnectionError(f"fake EBS dropped {wire.action}")
        assert answer.response is not None
        return answer.response.status, answer.response.headers, answer.response.body

    def _patch_env(self) -> None:
        for name in (*_ENV, *_ENV_REMOVED):
            self._saved_env[name] = os.environ.get(name)
        os.environ.update(_ENV)
        for name in _ENV_REMOVED:
            os.environ.pop(name, None)

    def _restore_env(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()

    # -- shortcuts -----------------------------------------------------------

    @property
    def calls(self) -> list[Any]:
        return self.fake.calls


def mock_ebs(
    fake: FakeEbs | None = None,
    *,
    requests_mock: responses.RequestsMock | None = None,
    set_env: bool = True,
) -> MockEbs:
    """Mount a fake EBS; use as ``with mock_ebs() as m:`` or ``@mock_ebs()``."""
    return MockEbs(fake, requests_mock=requests_mock, set_env=set_env)
