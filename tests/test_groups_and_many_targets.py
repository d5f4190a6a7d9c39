"""Replica groups, and many targets at once, within EBS's quotas (issue 15).

Every test runs the real handler and SDK against the fake EBS (in process, and on a 127.0.0.1 socket
where the mounting matters).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest

from ebs_failover.handler import handler
from ebs_failover.testing import FakeEbs, FcContext, FcCredentials, FcFunction, MockEbs
from ebs_failover.token import client_token

from .conftest import PRIMARY, STANDBY, live_settings, mounted, seed_pair
from .helpers import disk_event

KEY, SECRET = "STS.fc-role", "Fleet-Secret-Value-9f8e7d"
DESCRIBE, FAILOVER = "DescribeDiskReplicaPairs", "FailoverDiskReplicaPair"
DESCRIBE_GROUPS, FAILOVER_GROUP = "DescribeDiskReplicaGroups", "FailoverDiskReplicaGroup"
GROUP, INSTANCE = "pg-orders0cluster", "i-bp1fleet0db01"
MEMBERS = ("pair-cn-orders0a", "pair-cn-orders0b", "pair-cn-orders0c")
MEMBER_DISKS = ("d-bp1orders0a", "d-bp1orders0b", "d-bp1orders0c")
LONE_PAIR, LONE_DISK = "pair-cn-lone0disk", "d-bp1lone0disk"


def _seed_group(status: str = "normal", recover_point: int | None = 1_700_000_000) -> dict[str, Any]:
    group: dict[str, Any] = {
        "ReplicaGroupId": GROUP,
        "RegionId": PRIMARY,
        "SourceZoneId": f"{PRIMARY}-h",
        "DestinationRegionId": STANDBY,
        "DestinationZoneId": f"{STANDBY}-e",
        "GroupName": "orders-cluster",
        "PairIds": list(MEMBERS),
        "Status": status,
    }
    if recover_point is not None:
        group["LastRecoverPoint"] = recover_point
    return group


def _fake(*, groups: bool = True, pairs: int = 0, **options: Any) -> FakeEbs:
    """The group of three (its pairs seeded ``created``, as a group's pairs must be), a lone pair, and
    ``pairs`` more pairs named ``pair-cn-fleet<n>`` on disks ``d-bp1fleet<n>``."""
    fake = FakeEbs(seed=15, **options)
    fake.register_credential(KEY, SECRET)
    seeded = [seed_pair(LONE_PAIR, LONE_DISK), *(seed_pair(_pair(n), _disk(n)) for n in range(pairs))]
    if groups:
        seeded += [seed_pair(pair, disk, "created") for pair, disk in zip(MEMBERS, MEMBER_DISKS, strict=True)]
    fake.load_seed({"pairs": seeded, "groups": [_seed_group()] if groups else []})
    return fake


def _pair(n: int) -> str:
    return f"pair-cn-fleet{n:03d}"


def _disk(n: int) -> str:
    return f"d-bp1fleet{n:03d}"


Mount = Callable[[FakeEbs], AbstractContextManager[Any]]


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    live_settings(monkeypatch, {INSTANCE: GROUP, LONE_DISK: LONE_PAIR})
    monkeypatch.setenv("FAILOVER_VERIFY_SECONDS", "5")
    return monkeypatch


@pytest.fixture(params=["responses", "server"])
def mount(request: pytest.FixtureRequest, settings: pytest.MonkeyPatch) -> Mount:
    """How the fake is reached: in process (``responses``), or on a 127.0.0.1 socket."""
    return lambda fake: mounted(fake, request.param, settings)


@pytest.fixture
def server(settings: pytest.MonkeyPatch) -> Callable[[FakeEbs], AbstractContextManager[Any]]:
    """The socket mounting only (for tests about timing between threads)."""
    return lambda fake: mounted(fake, "server", settings)


def _context(timeout: int = 30, request_id: str = "req-1") -> FcContext:
    return FcContext(
        request_id=request_id,
        function=FcFunction(timeout=timeout),
        credentials=FcCredentials(KEY, SECRET, ""),
        region=STANDBY,
    )


def _alarm(dimensions: str, trans: str = "t-1") -> bytes:
    millis = int(time.time() * 1000)
    return (
        "alertName=iops&alertState=ALERT&triggerLevel=CRITICAL&metricName=DiskIOPS&ruleId=rule-15"
        f"&timestamp={millis}&dimensions={{userId=1,+{dimensions}}}&transId={trans}"
    ).encode()


def _manual(**fields: Any) -> bytes:
    return json.dumps(
        {"action": "failover", "reason": "drill gone wrong", "idempotencyKey": "INC-15", **fields}
    ).encode()


def _by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t.get("pair_id") or t["group_id"]: t for t in result["data"]["targets"]}


def _identity(result: dict[str, Any]) -> str:
    return str(result["data"]["trigger"]["identity"])


# -- groups -----------------------------------------------------------------------------------------------


def test_a_group_is_failed_over_whole_under_its_own_token_and_listed_with_its_pairs(mount: Mount) -> None:
    fake = _fake()
    with mount(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    group = _by_id(result)[GROUP]
    assert (result["data"]["outcome"], group["outcome"], group["verified"]) == (
        "failed_over",
        "failed_over",
        True,
    )
    assert (group["status_before"], group["status_after"]) == ("normal", "failovered")
    assert [m["pair_id"] for m in group["member_pairs"]] == list(MEMBERS)
    assert {m["source_disk_id"] for m in group["member_pairs"]} == set(MEMBER_DISKS)
    assert group["client_token"] == client_token(_identity(result), GROUP)
    assert result["subject"] == GROUP
    changes = fake.state_changes(FAILOVER_GROUP)
    assert [(op.resource_id, op.client_token) for op in changes] == [(GROUP, group["client_token"])]
    assert fake.calls_for(FAILOVER) == []  # never a member alone
    assert all(fake.pair(pair).status == "failovered" for pair in MEMBERS)
    described = fake.calls_for(DESCRIBE_GROUPS)[0].params
    assert (described["GroupIds"], described["Site"], described["RegionId"]) == (GROUP, "backup", STANDBY)


def test_a_pair_of_a_group_configured_alone_is_refused_and_no_call_changes_anything(
    mount: Mount, settings: pytest.MonkeyPatch
) -> None:
    settings.setenv("FAILOVER_TARGETS", json.dumps({MEMBER_DISKS[0]: MEMBERS[0]}))
    fake = _fake()
    with mount(fake):
        result = handler(_alarm(f"diskId={MEMBER_DISKS[0]}"), _context())
    member = _by_id(result)[MEMBERS[0]]
    assert (result["data"]["outcome"], member["outcome"]) == ("refused", "refused")
    assert GROUP in member["hint"]
    assert "FAILOVER_TARGETS" in member["hint"]
    assert [c.action for c in fake.calls] == [DESCRIBE]
    assert fake.operations == []


@pytest.mark.parametrize(
    ("group", "max_data_loss", "outcome", "words"),
    [
        (_seed_group("created", None), None, "refused", "no recovery point"),
        (_seed_group("normal", 1_000), "3600", "refused", "FAILOVER_MAX_DATA_LOSS"),
        (_seed_group("stopped"), None, "refused", "replication is stopped"),
        (_seed_group("failovered"), None, "already_failed_over", None),
    ],
    ids=["no-recovery-point", "data-loss", "stopped", "already"],
)
def test_a_group_gets_every_guard_a_pair_gets(
    settings: pytest.MonkeyPatch,
    group: dict[str, Any],
    max_data_loss: str | None,
    outcome: str,
    words: str | None,
) -> None:
    if max_data_loss:
        settings.setenv("FAILOVER_MAX_DATA_LOSS", max_data_loss)
    fake = FakeEbs(seed=15)
    fake.register_credential(KEY, SECRET)
    members = [seed_pair(pair, disk, "created") for pair, disk in zip(MEMBERS, MEMBER_DISKS, strict=True)]
    fake.load_seed({"pairs": members, "groups": [group]})
    before = len(fake.operations)
    with MockEbs(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    target = _by_id(result)[GROUP]
    assert target["outcome"] == outcome
    if words:
        assert words in target["hint"]
    assert len(fake.operations) == before


def test_a_group_acts_for_an_alarm_on_one_of_its_disks_and_not_for_another_disk(
    settings: pytest.MonkeyPatch,
) -> None:
    settings.setenv("FAILOVER_MODE", "dry-run")
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: GROUP}))
    fake = _fake()
    with MockEbs(fake):
        mine = handler(_alarm(f"instanceId={INSTANCE},diskId={MEMBER_DISKS[1]}"), _context())
        other = handler(_alarm(f"instanceId={INSTANCE},diskId=d-bp1somewhere0else", trans="t-2"), _context())
    assert _by_id(mine)[GROUP]["outcome"] == "dry_run"
    assert "FailoverDiskReplicaGroup" in _by_id(mine)[GROUP]["hint"]
    assert _by_id(other)[GROUP]["outcome"] == "ignored"
    assert fake.calls_for(FAILOVER_GROUP) == []


def test_pairs_and_groups_in_one_list_fail_over_together(settings: pytest.MonkeyPatch) -> None:
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [LONE_PAIR, GROUP]}))
    fake = _fake()
    with MockEbs(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    targets = _by_id(result)
    assert {k: (t["outcome"], t.get("verified")) for k, t in targets.items()} == {
        LONE_PAIR: ("failed_over", True),
        GROUP: ("failed_over", True),
    }
    # One Describe of the groups, one of the pairs (the lone pair and the group's members together).
    assert len(fake.calls_for(DESCRIBE_GROUPS)) >= 1
    preflight = fake.calls_for(DESCRIBE)[0].params["PairIds"].split(",")
    assert sorted(preflight) == sorted([LONE_PAIR, *MEMBERS])


# -- many pairs at once -----------------------------------------------------------------------------------


def test_the_preflight_is_one_describe_per_hundred_pairs(settings: pytest.MonkeyPatch) -> None:
    settings.setenv("FAILOVER_MODE", "dry-run")
    settings.setenv("FAILOVER_MAX_TARGETS", "200")
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(n) for n in range(150)]}))
    fake = _fake(groups=False, pairs=150)
    with MockEbs(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    assert {t["outcome"] for t in result["data"]["targets"]} == {"dry_run"}
    sizes = [len(c.params["PairIds"].split(",")) for c in fake.calls_for(DESCRIBE)]
    assert sizes == [100, 50]
    assert len(fake.calls) == 2


@pytest.mark.usefixtures("real_look_schedule")  # how many looks the watch's real backoff takes
def test_a_redelivery_of_a_twenty_pair_alarm_costs_one_describe(
    mount: Mount, settings: pytest.MonkeyPatch
) -> None:
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(n) for n in range(20)]}))
    fake = _fake(groups=False, pairs=20)
    with mount(fake):
        first = handler(_alarm(f"instanceId={INSTANCE}"), _context())
        made = len(fake.calls)
        again = handler(_alarm(f"instanceId={INSTANCE}"), _context(request_id="redelivery"))
    assert {t["outcome"] for t in first["data"]["targets"]} == {"failed_over"}
    assert {t["outcome"] for t in again["data"]["targets"]} == {"already_failed_over"}
    assert [c.action for c in fake.calls[made:]] == [DESCRIBE]
    # The first delivery: one preflight, twenty Failovers, and the looks that verified them, batched: each
    # pair is seen failovering, then failovered, and the pacing spreads the Failovers over a second, so a
    # few looks for all twenty (unbatched, it would be forty).
    assert len(fake.calls_for(FAILOVER)) == 20
    assert made - 20 <= 5


def test_an_alarm_mapping_thirty_one_targets_is_refused_whole_with_no_call(
    settings: pytest.MonkeyPatch,
) -> None:
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(n) for n in range(31)]}))
    fake = _fake(groups=False, pairs=31)
    with MockEbs(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    assert result["data"]["outcome"] == "refused"
    assert "31 targets" in result["data"]["reason"]
    assert "FAILOVER_MAX_TARGETS 20" in result["data"]["reason"]
    assert result["data"]["targets"] == []
    assert fake.calls == []


def test_a_manual_request_may_raise_the_cap_for_itself_and_the_result_says_so(
    settings: pytest.MonkeyPatch,
) -> None:
    settings.setenv("FAILOVER_MODE", "dry-run")
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(n) for n in range(25)]}))
    fake = _fake(groups=False, pairs=25)
    with MockEbs(fake):
        capped = handler(_manual(resourceId=INSTANCE), _context())
        raised = handler(_manual(resourceId=INSTANCE, maxTargets=25), _context())
        lowered = handler(_manual(replicaPairId=_pair(0), maxTargets=1), _context())
    assert capped["data"]["outcome"] == "refused"
    assert "FAILOVER_MAX_TARGETS 20" in capped["data"]["reason"]
    assert raised["data"]["outcome"] == "dry_run"
    assert len(raised["data"]["targets"]) == 25
    assert "maxTargets 25 in place of FAILOVER_MAX_TARGETS 20" in raised["data"]["reason"]
    assert raised["data"]["trigger"]["summary"]["maxTargets"] == "25"
    assert lowered["data"]["outcome"] == "dry_run"
    assert len(fake.calls_for(DESCRIBE)) == 2  # the refused request made none


def test_under_the_quota_every_pair_of_a_twenty_pair_alarm_fails_over_exactly_once(
    server: Mount, settings: pytest.MonkeyPatch
) -> None:
    """The fake allows 8 calls a second per API; the function is let loose at 50: EBS throttles, and every
    pair still fails over once, with its own token."""
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(n) for n in range(20)]}))
    settings.setenv("FAILOVER_CONCURRENCY", "20")
    settings.setenv("FAILOVER_CALLS_PER_SECOND", "50")
    fake = _fake(groups=False, pairs=20, quota=8, throttle_retry_after=True)
    with server(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context(timeout=60))
    targets = result["data"]["targets"]
    assert {t["outcome"] for t in targets} == {"failed_over"}
    assert fake.throttled  # the quota was reached
    changes = fake.state_changes()
    assert sorted(op.resource_id for op in changes) == sorted(_pair(n) for n in range(20))
    tokens = {op.client_token for op in changes}
    assert len(tokens) == 20
    assert tokens == {t["client_token"] for t in targets}


def test_at_the_default_pace_a_quota_of_twenty_a_second_is_never_exceeded(
    server: Mount, settings: pytest.MonkeyPatch
) -> None:
    """A burst of FAILOVER_CONCURRENCY (10), then FAILOVER_CALLS_PER_SECOND (10): at most 20 calls of one API
    in any second, so a quota of 20 a second is never reached, with 30 pairs to fail over."""
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(n) for n in range(30)]}))
    settings.setenv("FAILOVER_MAX_TARGETS", "30")
    fake = _fake(groups=False, pairs=30, quota=20)
    with server(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context(timeout=60))
    assert {t["outcome"] for t in result["data"]["targets"]} == {"failed_over"}
    assert fake.throttled == []
    assert len(fake.calls_for(FAILOVER)) == 30


@pytest.mark.parametrize("concurrency", [1, 5])
def test_failovers_run_side_by_side_up_to_the_concurrency(
    server: Mount, settings: pytest.MonkeyPatch, concurrency: int
) -> None:
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(n) for n in range(10)]}))
    settings.setenv("FAILOVER_CONCURRENCY", str(concurrency))
    settings.setenv("FAILOVER_CALLS_PER_SECOND", "1000")
    fake = _fake(groups=False, pairs=10, latency=0.1)
    with server(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    assert {t["outcome"] for t in result["data"]["targets"]} == {"failed_over"}
    # The Failovers in flight, and at most one verification look beside them.
    assert concurrency <= fake.max_in_flight <= concurrency + 1


def test_a_throttled_pair_holds_up_no_other(server: Mount, settings: pytest.MonkeyPatch) -> None:
    """The first pair's Failover is throttled with a 2 s Retry-After: the others are failed over and verified
    while it waits."""
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(n) for n in range(4)]}))
    fake = _fake(groups=False, pairs=4)
    fake.faults.error(FAILOVER, 400, "Throttling.User", retry_after=2000, match={"ReplicaPairId": _pair(0)})
    with server(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    targets = _by_id(result)
    assert {t["outcome"] for t in targets.values()} == {"failed_over"}
    assert targets[_pair(0)]["attempts"] >= 3  # preflight, two Failovers, a look
    accepted = {c.params["ReplicaPairId"]: c.at for c in fake.calls_for(FAILOVER) if c.status == 200}
    assert max(accepted[_pair(n)] for n in (1, 2, 3)) < accepted[_pair(0)]
    looks_before_retry = [
        c
        for c in fake.calls_for(DESCRIBE)[1:]
        if c.at < accepted[_pair(0)] and _pair(1) in c.params["PairIds"]
    ]
    assert looks_before_retry  # the others were verified while the first one waited


def test_verification_looks_are_batched_and_start_right_after_acceptance(
    settings: pytest.MonkeyPatch,
) -> None:
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(n) for n in range(10)]}))
    settings.setenv("FAILOVER_CONCURRENCY", "10")
    fake = _fake(groups=False, pairs=10)
    fake.transitions.set("failovering", "describes", times=1)  # each pair settles on its second look
    with MockEbs(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    assert {(t["outcome"], t["verified"]) for t in result["data"]["targets"]} == {("failed_over", True)}
    looks = fake.calls_for(DESCRIBE)[1:]
    assert len(looks) == 2
    assert all(len(c.params["PairIds"].split(",")) == 10 for c in looks)


def test_a_batch_naming_one_pair_twice_fails_it_over_once_and_reports_the_second_as_done() -> None:
    """Two waves: the second event's pair is looked at after the first event's failover settled."""
    fake = _fake(groups=False)
    events = [json.loads(disk_event(LONE_DISK, INSTANCE)) for _ in range(2)]
    events[1]["id"] = "iohang-second"
    with MockEbs(fake), pytest.MonkeyPatch.context() as patch:
        live_settings(patch, {LONE_DISK: LONE_PAIR})
        result = handler(json.dumps(events).encode(), _context())
    outcomes = [t["outcome"] for t in result["data"]["targets"]]
    assert outcomes == ["failed_over", "already_failed_over"]
    assert len(fake.state_changes()) == 1


def test_a_bug_in_one_targets_failover_is_that_targets_failure_logged_with_the_invocations_keys(
    settings: pytest.MonkeyPatch, logs: Any
) -> None:
    """A bug injected into one pair's Failover (not a cloud answer): that pair is failed, the other is
    failed over, and the worker thread's log line carries the request and correlation ids."""
    from ebs_failover.cloud import ebs as sdk

    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(0), _pair(1)]}))
    real = sdk.EbsClient.failover

    def buggy(self: sdk.EbsClient, target_id: str, *args: Any, **kwargs: Any) -> str:
        if target_id == _pair(0):
            raise RuntimeError("injected bug")
        return real(self, target_id, *args, **kwargs)

    settings.setattr(sdk.EbsClient, "failover", buggy)
    fake = _fake(groups=False, pairs=2)
    with MockEbs(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context(request_id="req-bug"))
    targets = _by_id(result)
    assert (targets[_pair(0)]["outcome"], targets[_pair(0)]["error_code"]) == ("failed", "RuntimeError")
    assert targets[_pair(1)]["outcome"] == "failed_over"
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    [bug] = [line for line in lines if line["message"] == "unexpected_error"]
    assert (bug["function_request_id"], bug["correlation_id"], bug["target_id"]) == (
        "req-bug",
        "cms:t-1",
        _pair(0),
    )


# -- what an independent review of the act stage found (each failed on the code before its fix) ----------


def test_a_throttled_targets_watch_starts_when_its_failover_is_accepted(server: Any, settings: Any) -> None:
    """The watch (FAILOVER_VERIFY_SECONDS, the replay grace, failover_seconds) counts from the attempt EBS
    accepted, not from the first one: a pair accepted after a 2.5 s Retry-After is watched for its 2 s too,
    and verified like the other."""
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(0), _pair(1)]}))
    settings.setenv("FAILOVER_VERIFY_SECONDS", "2")
    fake = _fake(groups=False, pairs=2)
    fake.faults.error(FAILOVER, 400, "Throttling.User", retry_after=2500, match={"ReplicaPairId": _pair(0)})
    fake.transitions.set("failovering", "describes", times=1)  # each pair needs a second look
    with server(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    targets = _by_id(result)
    assert targets[_pair(1)]["verified"] is True
    assert targets[_pair(0)]["verified"] is True, targets[_pair(0)]


def test_a_bug_after_one_targets_refusal_is_that_targets_alone(settings: Any) -> None:
    """A bug injected into the look after one pair's InvalidStatus (not a cloud answer): the other pair,
    which EBS failed over, is still reported failed_over (the bug once made every target failed)."""
    from ebs_failover.cloud import ebs as sdk

    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(0), _pair(1)]}))
    real = sdk.EbsClient.describe

    def buggy(self: sdk.EbsClient, ids: Any, *args: Any, **kwargs: Any) -> Any:
        if list(ids) == [_pair(0)]:  # only the look after pair 0's InvalidStatus
            raise RuntimeError("injected bug")
        return real(self, ids, *args, **kwargs)

    settings.setattr(sdk.EbsClient, "describe", buggy)
    fake = _fake(groups=False, pairs=2)
    fake.faults.error(FAILOVER, 400, "OperationDenied.InvalidStatus", match={"ReplicaPairId": _pair(0)})
    with MockEbs(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    assert fake.pair(_pair(1)).status in ("failovering", "failovered")  # EBS did fail it over
    assert _by_id(result)[_pair(1)]["outcome"] == "failed_over", _by_id(result)[_pair(1)]


def test_one_missing_group_in_a_batched_describe_costs_only_itself(settings: Any) -> None:
    """Real EBS may answer NoSuchResource to a batched DescribeDiskReplicaGroups naming one group that is
    not there (ebs-api.md: Terraform maps it to not-found; the fake filters, so the answer is injected):
    each id is then described alone, the two real groups fail over and the deleted one alone is failed."""
    other, gone = "pg-billing0cluster", "pg-deleted0group"
    other_members = ("pair-cn-billing0a", "pair-cn-billing0b")
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [GROUP, other, gone]}))
    fake = FakeEbs(seed=15)
    fake.register_credential(KEY, SECRET)
    pairs = [seed_pair(p, d, "created") for p, d in zip(MEMBERS, MEMBER_DISKS, strict=True)]
    pairs += [seed_pair(p, "d-bp1" + p[-8:], "created") for p in other_members]
    second = {
        **_seed_group(),
        "ReplicaGroupId": other,
        "GroupName": "billing",
        "PairIds": list(other_members),
    }
    fake.load_seed({"pairs": pairs, "groups": [_seed_group(), second]})
    fake.faults.error(
        DESCRIBE_GROUPS,
        404,
        "NoSuchResource",
        "The specified resource is not found.",
        match={"GroupIds": ",".join([GROUP, other, gone]), "Site": "backup"},
    )
    with MockEbs(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    targets = _by_id(result)
    assert (targets[GROUP]["outcome"], targets[other]["outcome"]) == ("failed_over", "failed_over"), targets
    assert (targets[gone]["outcome"], targets[gone]["error_code"]) == ("failed", "NoSuchResource")


def test_targets_waiting_out_a_throttle_hold_no_concurrency_slot(server: Any, settings: Any) -> None:
    """FAILOVER_CONCURRENCY bounds the calls in flight, not the targets waiting: with 2 slots and two pairs
    told to wait 3 s, the third pair is failed over before either of them."""
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(n) for n in range(3)]}))
    settings.setenv("FAILOVER_CONCURRENCY", "2")
    fake = _fake(groups=False, pairs=3)
    for n in (0, 1):
        fake.faults.error(
            FAILOVER, 400, "Throttling.User", retry_after=3000, match={"ReplicaPairId": _pair(n)}
        )
    with server(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    assert {t["outcome"] for t in result["data"]["targets"]} == {"failed_over"}
    accepted = {c.params["ReplicaPairId"]: c.at for c in fake.calls_for(FAILOVER) if c.status == 200}
    assert accepted[_pair(2)] < min(accepted[_pair(0)], accepted[_pair(1)]), accepted


def test_the_cap_bounds_a_batch_of_events_as_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three disk events in one EventBridge batch, FAILOVER_MAX_TARGETS=2: every event is refused, nothing
    is called (a batch of hundreds of events would otherwise fail hundreds of pairs over)."""
    disks = [f"d-bp1capped{n}" for n in range(3)]
    pairs = [f"pair-cn-capped{n}" for n in range(3)]
    live_settings(monkeypatch, dict(zip(disks, pairs, strict=True)))
    monkeypatch.setenv("FAILOVER_MAX_TARGETS", "2")
    fake = FakeEbs(seed=15)
    fake.register_credential(KEY, SECRET)
    fake.load_seed({"pairs": [seed_pair(p, d) for p, d in zip(pairs, disks, strict=True)]})
    batch = [json.loads(disk_event(d, "i-bp1capped0")) for d in disks]
    with MockEbs(fake):
        result = handler(json.dumps(batch).encode(), _context())
    assert result["data"]["outcome"] == "refused"
    assert {e["outcome"] for e in result["data"]["batch"]} == {"refused"}
    assert "the batch's events map 3 targets" in result["data"]["batch"][0]["reason"]
    assert fake.calls == []


def test_a_group_with_an_invalid_pair_is_refused_alike_in_dry_run_and_live(settings: Any) -> None:
    """The group's pairs, as the preflight saw them, are checked too: with one pair invalid, live and
    dry-run both refuse the group, naming the pair, and no Failover is sent."""
    live_fake = _fake()
    live_fake.backend().invalidate(MEMBERS[1])  # a member's disk was removed
    with MockEbs(live_fake):
        live = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    settings.setenv("FAILOVER_MODE", "dry-run")
    fake = _fake()
    fake.backend().invalidate(MEMBERS[1])
    with MockEbs(fake):
        rehearsal = handler(_alarm(f"instanceId={INSTANCE}", trans="t-2"), _context())
    group_live, group_dry = _by_id(live)[GROUP], _by_id(rehearsal)[GROUP]
    assert group_dry["member_pairs"][1]["status"] == "invalid"
    assert (group_live["outcome"], group_dry["outcome"]) == ("refused", "refused")
    assert MEMBERS[1] in group_live["hint"]
    assert live_fake.calls_for(FAILOVER_GROUP) == fake.calls_for(FAILOVER_GROUP) == []


def test_a_target_whose_turn_comes_after_the_budget_is_retried_by_fc_and_sends_nothing(
    settings: pytest.MonkeyPatch, logs: Any
) -> None:
    """One call every 10 s, a 2 s budget: the first pair fails over; the others' turns would come after the
    budget, so no request is sent for them (their attempts are the preflight's alone) and FC is asked to
    deliver the event again."""
    from ebs_failover.errors import TransientFailure

    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(n) for n in range(3)]}))
    settings.setenv("FAILOVER_CONCURRENCY", "1")
    settings.setenv("FAILOVER_CALLS_PER_SECOND", "0.1")
    fake = _fake(groups=False, pairs=3)
    with MockEbs(fake), pytest.raises(TransientFailure) as raised:
        handler(_alarm(f"instanceId={INSTANCE}"), _context(timeout=3))
    assert raised.value.code is None  # no EBS answer stood in the way: the budget did
    [line] = [json.loads(x) for x in logs.getvalue().splitlines() if json.loads(x)["message"] == "result"]
    targets = _by_id(line["result"])
    assert targets[_pair(0)]["outcome"] == "failed_over"
    for n in (1, 2):
        assert targets[_pair(n)]["outcome"] == "failed"
        assert "error_code" not in targets[_pair(n)]  # the function's own condition is no EBS code
        assert "no time was left in the invocation for FailoverDiskReplicaPair" in targets[_pair(n)]["hint"]
        assert targets[_pair(n)]["attempts"] == 1  # the preflight's Describe
    assert [c.params["ReplicaPairId"] for c in fake.calls_for(FAILOVER)] == [_pair(0)]


# -- as the real API answers (issue 26; each failed on the code before) -------------------------------


def test_a_group_whose_pairs_come_comma_joined_as_the_metadata_shows_is_failed_over(mount: Mount) -> None:
    """DescribeDiskReplicaGroups' own example lists ``"PairIds": ["pair-a,pair-b"]``: the group's pairs are
    still seen, and the group fails over (it was refused: its members looked invisible)."""
    fake = _fake(joined_pair_ids=True)
    with mount(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    group = _by_id(result)[GROUP]
    assert (group["outcome"], group["verified"]) == ("failed_over", True), group
    assert [m["pair_id"] for m in group["member_pairs"]] == list(MEMBERS)


def test_invalid_status_on_failover_is_tried_again_and_concluded_from_a_look(
    settings: pytest.MonkeyPatch,
) -> None:
    """``OperationDenied.InvalidStatus`` may be passing (Terraform retries it on both Failover APIs): one
    such answer, then EBS accepts; the pair is failed over under its one ClientToken (it was refused)."""
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(0)]}))
    fake = _fake(groups=False, pairs=1)
    fake.faults.error(FAILOVER, 403, "OperationDenied.InvalidStatus", times=1)
    with MockEbs(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    target = _by_id(result)[_pair(0)]
    assert (target["outcome"], target["verified"]) == ("failed_over", True), target
    tokens = {call.params["ClientToken"] for call in fake.calls_for(FAILOVER)}
    assert (len(fake.calls_for(FAILOVER)), tokens) == (2, {target["client_token"]})


def test_invalid_status_that_stays_is_a_refusal_naming_the_status_after_three_tries(
    settings: pytest.MonkeyPatch,
) -> None:
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(0)]}))
    fake = _fake(groups=False, pairs=1)
    fake.faults.error(FAILOVER, 403, "OperationDenied.InvalidStatus", times=10)
    with MockEbs(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    target = _by_id(result)[_pair(0)]
    assert (target["outcome"], target["status_after"]) == ("refused", "normal")
    assert target["hint"] == "EBS refused the failover in status normal (3 tries)"
    assert len(fake.calls_for(FAILOVER)) == 3


@pytest.mark.parametrize(("status", "code"), [(400, "Rejected.Throttling"), (429, "TooManyRequests")])
def test_every_throttling_code_and_any_429_is_retried(
    settings: pytest.MonkeyPatch, status: int, code: str
) -> None:
    """Terraform retries every code containing Throttling; any 429 is a rate limit too (neither was)."""
    settings.setenv("FAILOVER_TARGETS", json.dumps({INSTANCE: [_pair(0)]}))
    fake = _fake(groups=False, pairs=1)
    fake.faults.error(FAILOVER, status, code, times=1)
    with MockEbs(fake):
        result = handler(_alarm(f"instanceId={INSTANCE}"), _context())
    assert _by_id(result)[_pair(0)]["outcome"] == "failed_over"
    assert len(fake.calls_for(FAILOVER)) == 2
