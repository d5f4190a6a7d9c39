"""Duplicates: 50 concurrent deliveries of one CloudMonitor callback plus 10 other alarms for the same
pair, all released at once from 60 threads, change the pair's state exactly once.

Run against the fake mounted in-process (``responses``: its registry lookup is locked and the fake
serialises every request under its own lock) and on a socket (``FakeEbsServer``, a threading HTTP
server, through ``EBS_ENDPOINT``/``EBS_PROTOCOL=http``), with EBS accepting a repeated failover of a
failed-over pair (the fake's default) or refusing it with ``OperationDenied.InvalidStatus``.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import pytest

from ebs_failover.handler import handler
from tests.reliability_helpers import DB_PAIR, SAMPLES, Live, context

SAME, OTHERS = 50, 10
#: Storms per mounting. On the socket one is enough, and costs 2-4 s: the fake server listens with
#: socketserver's default backlog of 5, so most of 60 simultaneous connects wait for a SYN retransmit.
ROUNDS = {"responses": 5, "server": 1}
#: The CloudMonitor callback sample, pointed at the database disk (``pair-cn-demo0db01``).
CALLBACK = (
    SAMPLES["cms-callback-alert.txt"]
    .decode()
    .replace("instanceId=i-bp1demo0app01", "diskId=d-bp1demo0primary01")
    .replace("transId=4f1b2c3e-6a7d-11ef-9b2c-00163e0a1b2c", "transId={trans}")
)


def _callback(trans: str) -> bytes:
    return CALLBACK.replace("{trans}", trans).encode()


def _storm(live: Live, round_: int) -> tuple[list[str], list[BaseException]]:
    events = [_callback(f"dup-{round_}-same")] * SAME + [
        _callback(f"dup-{round_}-other-{n}") for n in range(OTHERS)
    ]
    barrier = threading.Barrier(len(events))
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def deliver(n: int, event: bytes) -> None:
        barrier.wait()
        try:
            result: dict[str, Any] = handler(event, context(request_id=f"dup-{round_}-{n}"))
        except Exception as error:
            with lock:
                errors.append(error)
            return
        with lock:
            outcomes.append(result["data"]["outcome"])

    threads = [threading.Thread(target=deliver, args=(n, e)) for n, e in enumerate(events)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes, errors


@pytest.mark.parametrize("repeat_failover", ["accept", "deny"])
@pytest.mark.parametrize("mount", ["responses", "server"])
def test_sixty_concurrent_deliveries_fail_over_once(mount: str, repeat_failover: str) -> None:
    with Live(mount=mount, repeat_failover=repeat_failover) as live:
        for round_ in range(ROUNDS[mount]):
            live.reseed()
            live.stream.seek(0)
            live.stream.truncate()
            outcomes, errors = _storm(live, round_)
            assert errors == []
            counts = Counter(outcomes)
            print(f"\nDUPLICATES {mount} repeat={repeat_failover} round {round_}: {dict(counts)}")
            assert len(outcomes) == SAME + OTHERS
            assert set(counts) <= {"failed_over", "already_failed_over"}, counts
            assert counts["failed_over"] >= 1
            changes = live.fake.state_changes()
            assert [op.resource_id for op in changes] == [DB_PAIR]
            assert live.fake.pair(DB_PAIR).status == "failovered"
            lines = [json.loads(line) for line in live.stream.getvalue().splitlines()]
            finals = Counter(line["function_request_id"] for line in lines if line["message"] == "result")
            assert len(finals) == SAME + OTHERS
            assert set(finals.values()) == {1}
