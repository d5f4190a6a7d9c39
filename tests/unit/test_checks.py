"""The check chain, unit by unit: a Seen and Guards in, a verdict out; no fake, no SDK, no clock."""

from __future__ import annotations

import dataclasses

import pytest

from ebs_failover.act import Guards
from ebs_failover.act.checks import DRILL, FAILOVER, Subject, Verdict, check
from ebs_failover.act.records import Member, Seen
from ebs_failover.policy import Target

REGION = "cn-shanghai"
PAIR = Target("pair-cn-unit01", "token-1", "i-unit01")
GROUP = Target("pg-unit01", "token-2", "i-unit01")
ALARM = Guards(region=REGION, live=True, verify_seconds=30.0, max_data_loss=600.0, by_operator=False)
OPERATOR = dataclasses.replace(ALARM, by_operator=True)


def _seen(status: str = "normal", **fields: object) -> Seen:
    base: dict[str, object] = {
        "status": status,
        "destination_region": REGION,
        "standby_region": REGION,
        "last_recover_point": 1_700_000_000,
        "rpo": 15,
        "source_disks": ("d-unit01",),
    }
    base.update(fields)
    return Seen(**base)  # type: ignore[arg-type]


def _verdict(
    seen: Seen,
    *,
    target: Target = PAIR,
    guards: Guards = ALARM,
    loss: int | None = 10,
    action: object = FAILOVER,
) -> Verdict | None:
    return check(action, Subject(target, seen, guards, loss))  # type: ignore[arg-type]


def test_a_healthy_pair_passes_every_check_for_both_actions() -> None:
    assert _verdict(_seen()) is None
    assert _verdict(_seen(), action=DRILL) is None


@pytest.mark.parametrize(
    ("seen", "outcome", "words"),
    [
        (_seen("failovered"), "already_failed_over", "was failovered when this delivery looked"),
        (_seen("failovering"), "already_failed_over", "was failovering"),
        (_seen("invalid"), "refused", "cannot be failed over"),
        (_seen("reprotecting"), "refused", "a fail-back is under way"),
        (_seen(destination_region="cn-hangzhou"), "refused", "replicates toward cn-hangzhou"),
        (_seen("created", last_recover_point=None), "refused", "holds no recovery point"),
        (_seen(group_id="pg-unit01"), "refused", "configure pg-unit01 in FAILOVER_TARGETS"),
        (_seen("stopped"), "refused", "replication is stopped"),
    ],
)
def test_each_failover_check_stops_its_own_case(seen: Seen, outcome: str, words: str) -> None:
    verdict = _verdict(seen)
    assert verdict is not None
    assert (verdict.outcome, words in verdict.hint) == (outcome, True), verdict


def test_the_trigger_about_another_disk_is_ignored_before_anything_else() -> None:
    """The signal check comes first: even a pair in a group (refused otherwise) is only ignored."""
    target = dataclasses.replace(PAIR, source_disks=("d-other",))
    verdict = _verdict(_seen(group_id="pg-unit01"), target=target)
    assert verdict is not None
    assert verdict.outcome == "ignored"
    assert "d-other" in verdict.hint


def test_data_loss_over_the_limit_stops_an_alarm_not_an_operator() -> None:
    stopped = _verdict(_seen(), loss=601)
    assert stopped is not None
    assert "601 s old, over FAILOVER_MAX_DATA_LOSS 600 s" in stopped.hint
    assert _verdict(_seen(), loss=600) is None  # at the limit is within it
    assert _verdict(_seen(), loss=601, guards=OPERATOR) is None
    no_limit = dataclasses.replace(ALARM, max_data_loss=None)
    assert _verdict(_seen(), loss=10**9, guards=no_limit) is None


def test_stopped_replication_is_an_operators_call() -> None:
    assert _verdict(_seen("stopped"), guards=OPERATOR) is None


def test_a_group_is_checked_through_its_members() -> None:
    whole = _seen(members=(Member("pair-a", "normal", "d-a"), Member("pair-b", "normal", "d-b")))
    assert _verdict(whole, target=GROUP) is None
    empty = _verdict(_seen(members=()), target=GROUP)
    assert empty is not None
    assert "no pairs" in empty.hint
    hidden = _verdict(_seen(members=(Member("pair-a", "normal"), Member("pair-b", None))), target=GROUP)
    assert hidden is not None
    assert "pair-b is not visible" in hidden.hint
    failing_back = _verdict(_seen(members=(Member("pair-a", "reprotect_failed"),)), target=GROUP)
    assert failing_back is not None
    assert "PairGroupStatusConflict" in failing_back.hint


def test_a_drill_refuses_what_a_failover_reports_done() -> None:
    verdict = _verdict(_seen("failovered"), action=DRILL)
    assert verdict is not None
    assert (verdict.outcome, "nothing to drill" in verdict.hint) == ("refused", True)


def test_a_drill_needs_replication_running_and_ignores_the_alarm_only_checks() -> None:
    stopped = _verdict(_seen("stopped"), action=DRILL)
    assert stopped is not None
    assert "needs replication running" in stopped.hint
    assert _verdict(_seen("syncing"), action=DRILL) is None
    assert _verdict(_seen(), action=DRILL, loss=10**9) is None  # the data-loss guard is the failover's


def test_the_first_failing_check_decides() -> None:
    """A pair both in a group and invalid is refused for the group first (the chain's order)."""
    verdict = _verdict(_seen("invalid", group_id="pg-unit01"))
    assert verdict is not None
    assert "replica group pg-unit01" in verdict.hint


def test_group_pairs_are_read_however_the_answer_lists_them() -> None:
    """One id per element, comma-joined in one element (the metadata's own example), or bytes (the SDK's
    type), white space stripped; and a region with a trailing newline (the same example) still matches."""
    from ebs_failover.act.records import pair_ids

    assert pair_ids(["pair-a,pair-b"]) == ("pair-a", "pair-b")
    assert pair_ids(["pair-a", " pair-b "]) == ("pair-a", "pair-b")
    assert pair_ids([b"pair-a, pair-b", "pair-a"]) == ("pair-a", "pair-b")
    assert pair_ids("pair-a,pair-b") == ("pair-a", "pair-b")
    assert pair_ids(None) == ()
    group = {
        "ReplicaGroupId": "pg-1",
        "PairIds": ["pair-a,pair-b"],
        "Status": "normal",
        "DestinationRegionId": "cn-shanghai\n",
        "StandbyRegion": "cn-shanghai\n",
        "LastRecoverPoint": 1,
    }
    seen = Seen.of(group, {"pair-a": {"Status": "normal", "SourceDiskId": "d-a"}})
    assert seen.member_ids == ("pair-a", "pair-b")
    assert (seen.destination_region, seen.standby_region) == (REGION, REGION)


# -- the standby side as a (region, zone) -----------------------------------------------------------

ZONE_G, ZONE_H = f"{REGION}-g", f"{REGION}-h"
LOCAL = {"source_region": REGION, "source_zone": ZONE_G, "destination_zone": ZONE_H, "standby_zone": ZONE_H}


@pytest.mark.parametrize("action", [FAILOVER, DRILL], ids=["failover", "drill"])
def test_a_same_region_target_is_acted_on_only_toward_failover_zone(action: object) -> None:
    in_zone = dataclasses.replace(ALARM, zone=ZONE_H)
    assert _verdict(_seen(**LOCAL), guards=in_zone, action=action) is None
    unknown = _verdict(_seen(**LOCAL), action=action)  # no FAILOVER_ZONE: the standby side cannot be told
    assert unknown is not None
    assert unknown.outcome == "refused"
    assert "FAILOVER_ZONE" in unknown.hint
    reversed_ = _seen(**{**LOCAL, "source_zone": ZONE_H, "destination_zone": ZONE_G})
    verdict = _verdict(reversed_, guards=in_zone, action=action)
    assert verdict is not None
    assert "fail-back" in verdict.hint


def test_a_same_region_target_without_its_destination_zone_is_refused() -> None:
    verdict = _verdict(
        _seen(**{**LOCAL, "destination_zone": ""}), guards=dataclasses.replace(ALARM, zone=ZONE_H)
    )
    assert verdict is not None
    assert "DestinationZoneId" in verdict.hint


def test_failover_zone_holds_cross_region_targets_too() -> None:
    across = {"source_region": "cn-hangzhou", "source_zone": "cn-hangzhou-g", "destination_zone": ZONE_H}
    assert _verdict(_seen(**across), guards=dataclasses.replace(ALARM, zone=ZONE_H)) is None
    assert _verdict(_seen(**across)) is None  # no zone configured: the region decides, as before
    elsewhere = _verdict(_seen(**across), guards=dataclasses.replace(ALARM, zone=f"{REGION}-e"))
    assert elsewhere is not None
    assert "check FAILOVER_ZONE" in elsewhere.hint
