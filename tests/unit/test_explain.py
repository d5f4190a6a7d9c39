"""What a failed call means for its target: one table, a few rules per action; no fake, no SDK."""

from __future__ import annotations

from ebs_failover.act import TargetResult
from ebs_failover.act.checks import DRILL, FAILOVER
from ebs_failover.act.explain import explain, note_failure
from ebs_failover.errors import EbsError, OutOfTime, UnusableAnswer

CALL = "FailoverDiskReplicaPair"


def test_a_documented_code_gets_its_hint_with_the_action_named() -> None:
    verdict = explain(EbsError("Forbidden.Action", 403, "denied", "req-1"), CALL, FAILOVER)
    assert verdict.outcome == "failed"
    assert "ebs:FailoverDiskReplicaPair" in verdict.hint


def test_an_unknown_code_is_failed_quoting_ebs() -> None:
    verdict = explain(EbsError("Something.New", 400, "what EBS said", None), CALL, FAILOVER)
    assert (verdict.outcome, verdict.hint) == ("failed", "EBS answered Something.New: what EBS said")


def test_invalid_status_is_a_refusal_and_a_drills_operation_denied_too() -> None:
    invalid = EbsError("OperationDenied.InvalidStatus", 403, "", None)
    assert explain(invalid, CALL, FAILOVER).outcome == "refused"
    primary = EbsError("OperationDenied.OperateNotAllowedForPrimary", 403, "", None)
    assert explain(primary, CALL, FAILOVER).outcome == "failed"  # the failover's table: a wrong region
    assert explain(primary, "StartPairDrill", DRILL).outcome == "failed"  # the wrong region, for a drill too
    other = EbsError("OperationDenied.Something", 403, "", None)
    assert explain(other, "StartPairDrill", DRILL).outcome == "refused"


def test_our_own_conditions_carry_no_ebs_code() -> None:
    result = TargetResult("pair-a", "t", "failed", request_id="req-0")
    out_of_time = OutOfTime("no turn within the time budget", action=CALL)
    note_failure(result, out_of_time, explain(out_of_time, CALL, FAILOVER))
    assert (result.outcome, result.error_code, result.request_id) == ("failed", None, "req-0")
    assert result.hint == f"no time was left in the invocation for {CALL} (no turn within the time budget)"
    unusable = explain(UnusableAnswer("the answer named no DrillId"), "StartPairDrill", DRILL)
    assert unusable.hint == "EBS's answer to StartPairDrill could not be used (the answer named no DrillId)"


def test_a_transient_code_says_ebs_could_not_be_reached() -> None:
    verdict = explain(EbsError("ServiceUnavailable", 503, "", None), CALL, FAILOVER)
    assert (verdict.outcome, verdict.hint) == (
        "failed",
        f"EBS could not be reached (ServiceUnavailable) for {CALL}",
    )


def test_the_drill_apis_own_codes_get_hints_that_say_what_to_do() -> None:
    """EBS's metadata documents these for the drill APIs; a generic "refused" said nothing (issue 26)."""
    slr = explain(EbsError("NoPermission.SLR", 403, "", None), "StartPairDrill", DRILL)
    assert (slr.outcome, "AliyunServiceLinkedRoleForEBS" in slr.hint) == ("failed", True)
    balance = explain(
        EbsError("InvalidAccountStatus.NotEnoughBalance", 403, "", None), "StartPairDrill", DRILL
    )
    assert "balance" in balance.hint
    region = explain(
        EbsError("OperationDenied.StartDrillShouldOnDestRegion", 403, "", None), "StartPairDrill", DRILL
    )
    assert (region.outcome, "FAILOVER_REGION" in region.hint) == ("failed", True)
    no_point = explain(
        EbsError("OperationDenied.RecoverPointNotFound", 403, "", None), "StartPairDrill", DRILL
    )
    assert (no_point.outcome, "recovery point" in no_point.hint) == ("refused", True)


def test_the_group_only_codes_and_an_unknown_api_get_hints() -> None:
    for code in ("OperationDenied.PairGroupAZoneConflict", "OperationDenied.PairInAnotherGroup"):
        verdict = explain(EbsError(code, 403, "", None), "FailoverDiskReplicaGroup", FAILOVER)
        assert verdict.outcome == "refused"
        assert "EBS answered" not in verdict.hint
    unknown = explain(EbsError("InvalidApi.NotFound", 404, "", None), CALL, FAILOVER)
    assert "EBS_ENDPOINT" in unknown.hint


def test_throttling_anywhere_in_the_code_and_any_429_are_transient() -> None:
    assert EbsError("Rejected.Throttling", 400, "", None).transient
    assert EbsError("TooManyRequests", 429, "", None).transient
    assert not EbsError("OperationDenied", 403, "", None).transient
