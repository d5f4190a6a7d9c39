"""The HTTP trigger's envelope as routing reads it, and a result read through its typed views."""

from __future__ import annotations

from ebs_failover.results import ResultView
from ebs_failover.triggers import Payload
from ebs_failover.web.envelope import is_http_request, request_of

ENVELOPE = {
    "version": "v1",
    "rawPath": "/approve%20me",
    "body": "alertState=ALERT",
    "isBase64Encoded": False,
    "headers": {"X-Fc-Trace-Id": "trace-1", "Accept": ["text/html", "application/json"]},
    "queryParameters": {"token": "t", "pick": ["a", "b"]},
    "requestContext": {"http": {"method": "get", "path": "/approve me", "sourceIp": "47.74.206.1"}},
}


def test_an_envelope_is_read_as_the_request_it_describes() -> None:
    request = request_of(Payload(ENVELOPE, form=False))
    assert request is not None
    assert (request.method, request.path, request.source_ip) == ("GET", "/approve me", "47.74.206.1")
    assert request.headers == {"x-fc-trace-id": "trace-1", "accept": "text/html,application/json"}
    assert request.query == {"token": "t", "pick": "a,b"}


def test_a_bare_envelope_falls_back_to_the_raw_path_and_post() -> None:
    request = request_of(Payload({"body": "x", "headers": {}, "rawPath": "/hook"}, form=False))
    assert request is not None
    assert (request.method, request.path, request.source_ip) == ("POST", "/hook", None)


def test_what_is_not_an_envelope_is_no_request() -> None:
    assert not is_http_request(Payload({"alertState": "ALERT"}, form=True))
    assert request_of(Payload({"action": "failover"}, form=False)) is None


def test_a_result_is_read_through_typed_views_and_wrong_types_read_as_absent() -> None:
    view = ResultView(
        {
            "id": "r-1",
            "data": {
                "outcome": "failed_over",
                "dry_run": False,
                "reason": "",
                "trigger": {"identity": "cms:t-1"},
                "targets": [
                    {
                        "pair_id": "pair-a",
                        "outcome": "failed_over",
                        "verified": True,
                        "failover_seconds": 1.5,
                    },
                    {
                        "group_id": "pg-b",
                        "verified": "yes",
                        "data_loss_seconds": None,
                        "member_pairs": [{}, 3],
                    },
                    "not a target",
                ],
            },
        }
    )
    assert (view.id, view.outcome, view.reason, view.trigger_identity) == (
        "r-1",
        "failed_over",
        None,
        "cms:t-1",
    )
    first, second = view.targets
    assert (first.target_id, first.verified, first.failover_seconds) == ("pair-a", True, 1.5)
    assert (second.target_id, second.verified, second.reports_data_loss, len(second.member_pairs)) == (
        "pg-b",
        None,
        True,
        1,
    )
    assert ResultView({"data": "broken"}).targets == ()
