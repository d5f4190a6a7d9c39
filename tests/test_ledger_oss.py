"""The incident ledger's OSS store, through the real ``alibabacloud-oss-v2`` against the fake OSS, in process
and served on 127.0.0.1: claims, a race, the echo of our own write, a versioned bucket, paging, OSS down."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ebs_failover.cloud.credentials import Credentials
from ebs_failover.config import LedgerPlace
from ebs_failover.errors import LedgerUnavailable, LedgerUnusable
from ebs_failover.ledger import Ledger, Record, open_ledger
from ebs_failover.testing import PROXY_VARIABLES, FakeOss, FakeOssServer, MockOss

BUCKET, REGION = "dr-ledger", "cn-shanghai"
TESTING = Credentials("testing", "testing")
INCIDENT = "cms:6021337-1726121400-0"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@dataclass
class Scene:
    fake: FakeOss
    ledger: Ledger


@pytest.fixture(params=["in-process", "served"])
def scene(request: pytest.FixtureRequest) -> Iterator[Scene]:
    fake = FakeOss(buckets=[BUCKET])
    if request.param == "in-process":
        with MockOss(fake):
            yield Scene(fake, _ledger(None))
    else:
        with FakeOssServer(fake) as server:
            yield Scene(fake, _ledger(server.endpoint))


def _ledger(endpoint: str | None, credentials: Credentials | None = TESTING) -> Ledger:
    place = LedgerPlace(BUCKET, "ebs-failover/", None, endpoint)
    return open_ledger(place, REGION, lambda: credentials)


def _record(by: str = "req-1", target: str = "pair-cn-x1", kind: str = "failover") -> Record:
    return Record(INCIDENT, target, kind, 1_726_121_401.5, {"client_token": "ebsfo-1"}, by=by)  # type: ignore[arg-type]


def test_a_step_is_claimed_once(scene: Scene) -> None:
    assert scene.ledger.append(_record("req-1")).won
    lost = scene.ledger.append(_record("req-2"))
    assert lost.won is False
    assert lost.held is not None
    assert lost.held.by == "req-1"
    assert [r.by for r in scene.ledger.records(INCIDENT)] == ["req-1"]


def test_of_twenty_concurrent_claims_one_wins(scene: Scene) -> None:
    wins: list[bool] = []
    threads = [
        threading.Thread(target=lambda n=n: wins.append(scene.ledger.append(_record(f"req-{n}")).won))
        for n in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 19 + [True]


def test_a_409_over_our_own_bytes_is_the_echo_of_our_retried_write(scene: Scene) -> None:
    """The SDK retries a write whose answer was lost; the retry meets the object the first attempt wrote."""
    record = _record("req-1")
    key = record.key(scene.ledger.prefix)
    scene.fake.backend.put(BUCKET, key, record.to_json())  # the first attempt landed; its answer did not
    assert scene.ledger.append(record).won
    assert scene.ledger.append(_record("req-2")).won is False


def test_a_versioned_bucket_is_detected_on_the_claims_own_answer(scene: Scene) -> None:
    scene.fake.backend.set_versioning(BUCKET, True)
    calls = len(scene.fake.calls)
    with pytest.raises(LedgerUnusable, match="versioned"):
        scene.ledger.append(_record())
    assert len(scene.fake.calls) - calls == 1  # no extra request, no extra permission


def test_an_incident_of_1200_records_is_read_over_every_page(scene: Scene) -> None:
    for n in range(1200):
        scene.fake.backend.put(BUCKET, _record(target=f"pair-cn-{n:04d}").key("ebs-failover/"), b"{}")
    assert len(scene.ledger.keys(INCIDENT)) == 1200
    assert scene.ledger.incidents() == [INCIDENT]


def test_oss_down_is_unavailable_not_a_traceback(scene: Scene) -> None:
    scene.fake.down()
    with pytest.raises(LedgerUnavailable) as down:
        scene.ledger.append(_record())
    assert down.value.operation == "create"
    with pytest.raises(LedgerUnavailable):
        scene.ledger.keys(INCIDENT)


def test_wrong_credentials_are_unavailable_naming_the_code() -> None:
    fake = FakeOss(buckets=[BUCKET])
    with MockOss(fake):
        ledger = _ledger(None, Credentials("testing", "wrong-secret"))
        with pytest.raises(LedgerUnavailable) as refused:
            ledger.append(_record())
    assert refused.value.code == "SignatureDoesNotMatch"
    assert "wrong-secret" not in str(refused.value)


def test_a_body_that_stalls_mid_read_is_unavailable_not_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """OSS sends the headers, then stalls: the read's timeout is the ledger's, never an escaping error
    (which would end a delivery as a bug, before its Failover)."""
    import http.server
    import socketserver

    from ebs_failover.ledger import oss as ledger_oss

    class Stalling(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"{")
            self.wfile.flush()
            time.sleep(2)

        def log_message(self, *args: object) -> None:
            pass

    monkeypatch.setattr(ledger_oss, "READ_TIMEOUT", 0.3)
    monkeypatch.setattr(ledger_oss, "ATTEMPTS", 1)
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Stalling) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        ledger = _ledger(f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(LedgerUnavailable) as stalled:
            ledger.read("ebs-failover/incidents/x/-/decision/1")
        server.shutdown()
    assert stalled.value.operation == "read"
