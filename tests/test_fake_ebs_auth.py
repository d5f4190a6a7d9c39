"""ACS3-HMAC-SHA256 verification: SDK-signed requests pass, anything altered fails."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
import responses
from alibabacloud_ebs20210730 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException

from ebs_failover.testing import FakeEbs, FakeEbsServer
from ebs_failover.testing.ebs.responses import WireRequest

from .conftest import STANDBY, Ebs


def _describe(client: Any) -> Any:
    return client.describe_disk_replica_pairs(
        m.DescribeDiskReplicaPairsRequest(region_id=STANDBY, site="backup")
    )


def _refusal(call: Any) -> ClientException:
    with pytest.raises(ClientException) as caught:
        call()
    return caught.value


def test_testing_credentials_are_accepted(ebs: Ebs) -> None:
    assert _describe(ebs.client()).status_code == 200
    assert ebs.fake.calls[-1].access_key_id == "testing"


def test_a_wrong_secret_is_signature_does_not_match(ebs: Ebs) -> None:
    error = _refusal(lambda: _describe(ebs.client(secret="not-the-secret")))
    assert (error.status_code, error.code) == (400, "SignatureDoesNotMatch")


def test_an_unknown_key_is_404(ebs: Ebs) -> None:
    error = _refusal(lambda: _describe(ebs.client(key="LTAI-unknown")))
    assert (error.status_code, error.code) == (404, "InvalidAccessKeyId.NotFound")


def test_sts_credentials_with_the_right_token(ebs: Ebs) -> None:
    ebs.fake.register_credential("STS.key", "sts-secret", security_token="token-A", account_id="999")
    assert _describe(ebs.client(key="STS.key", secret="sts-secret", token="token-A")).status_code == 200
    assert ebs.fake.calls[-1].account_id == "999"
    assert "x-acs-security-token" not in ebs.fake.calls[-1].headers  # never kept in the log


@pytest.mark.parametrize(("token", "code"), [
    ("token-B", "InvalidSecurityToken.MismatchWithAccessKey"),
    (None, "InvalidSecurityToken.Malformed"),
])  # fmt: skip
def test_sts_credentials_with_a_wrong_or_no_token(ebs: Ebs, token: str | None, code: str) -> None:
    ebs.fake.register_credential("STS.key", "sts-secret", security_token="token-A")
    error = _refusal(lambda: _describe(ebs.client(key="STS.key", secret="sts-secret", token=token)))
    assert (error.status_code, error.code) == (400, code)


def test_expired_sts_token(ebs: Ebs) -> None:
    ebs.fake.register_credential("STS.old", "s", security_token="t", expires_at=time.time() - 1)
    error = _refusal(lambda: _describe(ebs.client(key="STS.old", secret="s", token="t")))
    assert error.code == "InvalidSecurityToken.Expired"


def test_accounts_are_isolated(ebs: Ebs) -> None:
    pair_id = ebs.create_pair()
    ebs.fake.register_credential("other", "other-secret", account_id="2222")
    other = ebs.client(key="other", secret="other-secret")
    body = _describe(other).body
    assert body.replica_pairs == []
    error = _refusal(
        lambda: other.failover_disk_replica_pair(
            m.FailoverDiskReplicaPairRequest(region_id=STANDBY, replica_pair_id=pair_id)
        )
    )
    assert error.code == "NoSuchResource"


# -- tampering with a request the SDK signed ---------------------------------------


@pytest.fixture
def signed_request() -> requests.PreparedRequest:
    """A FailoverDiskReplicaPair request exactly as the SDK signed it (captured, not sent on)."""
    captured: list[requests.PreparedRequest] = []

    def capture(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        captured.append(request)
        return 200, {}, '{"RequestId":"captured"}'

    with responses.RequestsMock() as mock:
        mock.add_callback("POST", "https://ebs.cn-shanghai.aliyuncs.com/", callback=capture)
        Ebs(FakeEbs(), None).failover("pair-cn-abc", token="tok-1")
    return captured[0]


def _send(fake: FakeEbs, request: requests.PreparedRequest, url: str | None = None, **headers: str) -> Any:
    wire = WireRequest.build(
        "POST", url or str(request.url), {**dict(request.headers), **headers}, request.body
    )
    answer = fake.handle(wire)
    assert answer.response is not None
    return answer.response


def test_the_captured_request_verifies(signed_request: requests.PreparedRequest) -> None:
    fake = FakeEbs()
    response = _send(fake, signed_request)
    assert response.json()["Code"] == "NoSuchResource"  # past the gateway: the pair is unknown


def test_a_tampered_query_is_refused(signed_request: requests.PreparedRequest) -> None:
    url = str(signed_request.url).replace("pair-cn-abc", "pair-cn-abd")
    response = _send(FakeEbs(), signed_request, url=url)
    assert (response.status, response.json()["Code"]) == (400, "SignatureDoesNotMatch")


def test_a_tampered_signed_header_is_refused(signed_request: requests.PreparedRequest) -> None:
    response = _send(FakeEbs(), signed_request, **{"x-acs-action": "DeleteDiskReplicaPair"})
    assert response.json()["Code"] == "SignatureDoesNotMatch"


def test_a_replayed_nonce_is_refused(signed_request: requests.PreparedRequest) -> None:
    fake = FakeEbs()
    _send(fake, signed_request)
    response = _send(fake, signed_request)
    assert response.json()["Code"] == "SignatureNonceUsed"


def test_a_stale_date_is_refused(signed_request: requests.PreparedRequest) -> None:
    fake = FakeEbs(clock=lambda: time.time() + 3600)
    assert _send(fake, signed_request).json()["Code"] == "InvalidTimeStamp.Expired"


def test_no_authorization_is_incomplete_signature(signed_request: requests.PreparedRequest) -> None:
    headers = {k: v for k, v in signed_request.headers.items() if k.lower() != "authorization"}
    answer = FakeEbs().handle(WireRequest.build("POST", str(signed_request.url), headers, None))
    assert answer.response is not None
    assert answer.response.json()["Code"] == "IncompleteSignature"


def test_the_server_checks_signatures_on_the_socket(signed_request: requests.PreparedRequest) -> None:
    with FakeEbsServer() as server:
        url = str(signed_request.url).replace("https://ebs.cn-shanghai.aliyuncs.com", server.url)
        tampered = url.replace("tok-1", "tok-2")
        ok = requests.post(url, headers=dict(signed_request.headers), timeout=5)
        bad = requests.post(tampered, headers=dict(signed_request.headers), timeout=5)
    # The Host header stays the signed one, so the first passes the gateway.
    assert ok.json()["Code"] == "NoSuchResource"
    assert bad.json()["Code"] == "SignatureDoesNotMatch"
