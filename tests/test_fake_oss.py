"""The fake OSS driven by the real ``alibabacloud-oss-v2``: in process (``MockOss``, virtual-hosted https)
and served on 127.0.0.1 (``FakeOssServer``, path style), the incident ledger's primitives first."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import alibabacloud_oss_v2 as oss
import pytest

from ebs_failover import cli
from ebs_failover.testing import PROXY_VARIABLES, FakeOss, FakeOssServer, MockOss
from ebs_failover.testing.oss.models import OssGrant, crc64

BUCKET = "ledger"
REGION = "cn-shanghai"
FUNCTION_DIR = Path(__file__).resolve().parent.parent / "function"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:  # requests would send the loopback calls to a proxy
        monkeypatch.delenv(name, raising=False)


def make_client(
    endpoint: str,
    access_key_id: str = "testing",
    secret: str = "testing",
    token: str | None = None,
    *,
    attempts: int = 1,
    timeout: float = 5,
    path_style: bool = False,
) -> Any:
    cfg = oss.config.load_default()
    cfg.region = REGION
    cfg.endpoint = endpoint
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(access_key_id, secret, token)
    cfg.retry_max_attempts = attempts
    cfg.connect_timeout = timeout
    cfg.readwrite_timeout = timeout
    cfg.use_path_style = path_style
    return oss.Client(cfg)


@dataclass
class Oss:
    """The fake, and where its SDK clients point."""

    fake: FakeOss
    endpoint: str

    def client(self, *args: Any, **kwargs: Any) -> Any:
        return make_client(self.endpoint, *args, **kwargs)


@pytest.fixture(params=["in-process", "served"])
def env(request: pytest.FixtureRequest) -> Iterator[Oss]:
    fake = FakeOss(buckets=[BUCKET])
    if request.param == "in-process":
        with MockOss(fake):
            yield Oss(fake, f"oss-{REGION}.aliyuncs.com")
    else:
        with FakeOssServer(fake) as server:
            yield Oss(fake, server.endpoint)


def put(client: Any, key: str, body: bytes, bucket: str = BUCKET, **fields: Any) -> Any:
    return client.put_object(
        oss.PutObjectRequest(bucket=bucket, key=key, body=body, forbid_overwrite=True, **fields)
    )


def service_error(call: Callable[[], Any]) -> Any:
    """The ServiceError the SDK raises (inside its OperationError) for ``call``."""
    with pytest.raises(oss.exceptions.OperationError) as caught:
        call()
    cause = caught.value.unwrap()
    assert isinstance(cause, oss.exceptions.ServiceError), cause
    return cause


# -- the ledger's primitives ------------------------------------------------------------------------


def test_put_get_head_round_trip(env: Oss) -> None:
    client = env.client()
    body = b'{"incident": "i-1", "state": "claimed"}'
    done = put(client, "ledger/2024/i-1.json", body, metadata={"writer": "fc"})
    assert done.status_code == 200
    assert done.version_id is None  # not a versioned bucket
    assert done.hash_crc64 == str(crc64(body))  # and the SDK compared it with its own

    got = client.get_object(oss.GetObjectRequest(bucket=BUCKET, key="ledger/2024/i-1.json"))
    assert got.body.content == body
    assert got.content_type == "application/json"  # the SDK's guess from .json, stored as sent
    assert got.etag == done.etag
    assert got.metadata == {"writer": "fc"}

    head = client.head_object(oss.HeadObjectRequest(bucket=BUCKET, key="ledger/2024/i-1.json"))
    assert head.content_length == len(body)
    assert head.etag == done.etag
    assert abs(head.last_modified.timestamp() - time.time()) < 5
    assert client.is_object_exist(BUCKET, "ledger/2024/i-1.json")  # HEAD ?objectMeta
    assert not client.is_object_exist(BUCKET, "ledger/2024/i-2.json")

    stored = env.fake.objects(BUCKET)["ledger/2024/i-1.json"]
    assert (stored.body, stored.content_type) == (body, "application/json")
    assert [call.operation for call in env.fake.calls] == [
        "PutObject",
        "GetObject",
        "HeadObject",
        "GetObjectMeta",
        "GetObjectMeta",
    ]


@pytest.mark.parametrize("key", ["a b/c+d~e.json", "日志/ключ%2F?#&=.txt", "x" * 1023])
def test_keys_that_need_encoding_are_signed_and_stored_as_given(env: Oss, key: str) -> None:
    client = env.client()
    put(client, key, b"1")
    assert client.get_object(oss.GetObjectRequest(bucket=BUCKET, key=key)).body.content == b"1"
    assert list(env.fake.objects(BUCKET)) == [key]


def test_a_second_forbid_overwrite_put_is_409_file_already_exists(env: Oss) -> None:
    client = env.client()
    put(client, "ledger/i-1", b"first")
    error = service_error(lambda: put(client, "ledger/i-1", b"second"))
    assert (error.status_code, error.code) == (409, "FileAlreadyExists")
    assert error.ec == "0026-00000002"
    assert error.request_id == env.fake.calls[-1].request_id
    assert env.fake.objects(BUCKET)["ledger/i-1"].body == b"first"
    # Without the flag a PUT overwrites, as OSS does.
    client.put_object(oss.PutObjectRequest(bucket=BUCKET, key="ledger/i-1", body=b"third"))
    assert env.fake.objects(BUCKET)["ledger/i-1"].body == b"third"


def test_twenty_racing_claims_of_one_key_have_one_winner(env: Oss) -> None:
    start = threading.Barrier(20)
    outcomes: dict[int, str] = {}

    def claim(n: int) -> None:
        client = env.client()
        start.wait()
        try:
            put(client, "ledger/claim", f"claimant {n}".encode())
            outcomes[n] = "won"
        except oss.exceptions.OperationError as error:
            outcomes[n] = error.unwrap().code

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    winners = [n for n, outcome in outcomes.items() if outcome == "won"]
    assert len(outcomes) == 20
    assert len(winners) == 1
    assert sorted(outcomes.values()) == ["FileAlreadyExists"] * 19 + ["won"]
    assert env.fake.objects(BUCKET)["ledger/claim"].body == f"claimant {winners[0]}".encode()


def test_a_versioned_bucket_ignores_forbid_overwrite_and_answers_a_version_id(env: Oss) -> None:
    env.fake.create_bucket("versioned", versioning=True)
    client = env.client()
    first = put(client, "ledger/i-1", b"first", bucket="versioned")
    second = put(client, "ledger/i-1", b"second", bucket="versioned")  # no 409: OSS ignores the flag
    assert first.version_id
    assert second.version_id
    assert first.version_id != second.version_id
    got = client.get_object(oss.GetObjectRequest(bucket="versioned", key="ledger/i-1"))
    assert (got.body.content, got.version_id) == (b"second", second.version_id)


def test_list_objects_v2_pages_over_more_than_a_thousand_keys_of_a_prefix(env: Oss) -> None:
    for n in range(1_050):
        env.fake.backend.put(BUCKET, f"ledger/{n:05d}.json", b"{}")
    for n in range(30):  # before and after the prefix: never listed
        env.fake.backend.put(BUCKET, f"a/{n}", b"")
        env.fake.backend.put(BUCKET, f"zzz/{n}", b"")
    paginator = env.client().list_objects_v2_paginator(limit=400)
    pages = list(paginator.iter_page(oss.ListObjectsV2Request(bucket=BUCKET, prefix="ledger/")))
    assert [len(page.contents) for page in pages] == [400, 400, 250]
    assert [page.is_truncated for page in pages] == [True, True, False]
    keys = [item.key for page in pages for item in page.contents]
    assert keys == [f"ledger/{n:05d}.json" for n in range(1_050)]
    assert pages[0].key_count == 400
    assert pages[1].continuation_token == pages[0].next_continuation_token
    # OSS's default page is 100 keys, its largest 1000.
    first = env.client().list_objects_v2(oss.ListObjectsV2Request(bucket=BUCKET, prefix="ledger/"))
    assert (len(first.contents), first.max_keys) == (100, 100)
    error = service_error(
        lambda: env.client().list_objects_v2(oss.ListObjectsV2Request(bucket=BUCKET, max_keys=1001))
    )
    assert (error.status_code, error.code) == (400, "InvalidArgument")


def test_list_with_a_delimiter_rolls_keys_up_into_common_prefixes(env: Oss) -> None:
    for key in ("led/2024/a", "led/2024/b", "led/2025/a", "led/top", "led/zz/x"):
        env.fake.backend.put(BUCKET, key, b"")
    client = env.client()
    seen: list[tuple[list[str], list[str]]] = []
    token = None
    while True:
        page = client.list_objects_v2(
            oss.ListObjectsV2Request(
                bucket=BUCKET, prefix="led/", delimiter="/", max_keys=2, continuation_token=token
            )
        )
        seen.append(([o.key for o in page.contents or []], [p.prefix for p in page.common_prefixes or []]))
        if not page.is_truncated:
            break
        token = page.next_continuation_token
    assert seen == [([], ["led/2024/", "led/2025/"]), (["led/top"], ["led/zz/"])]


def test_delete_object_removes_it_and_a_missing_key_is_no_error(env: Oss) -> None:
    client = env.client()
    put(client, "ledger/i-1", b"x")
    assert client.delete_object(oss.DeleteObjectRequest(bucket=BUCKET, key="ledger/i-1")).status_code == 204
    assert client.delete_object(oss.DeleteObjectRequest(bucket=BUCKET, key="ledger/i-1")).status_code == 204
    assert env.fake.objects(BUCKET) == {}
    put(client, "ledger/i-1", b"again")  # the key can be claimed again


# -- errors -------------------------------------------------------------------------------------------


def test_a_wrong_secret_is_signature_does_not_match(env: Oss) -> None:
    error = service_error(lambda: put(env.client(secret="wrong"), "ledger/i-1", b"x"))
    assert (error.status_code, error.code) == (403, "SignatureDoesNotMatch")
    assert error.error_fileds["StringToSign"].startswith("OSS4-HMAC-SHA256\n")
    assert env.fake.objects(BUCKET) == {}


def test_an_unknown_access_key_is_invalid_access_key_id(env: Oss) -> None:
    error = service_error(lambda: put(env.client("nobody", "x"), "ledger/i-1", b"x"))
    assert (error.status_code, error.code) == (403, "InvalidAccessKeyId")
    assert env.fake.calls[-1].access_key_id == "nobody"


def test_an_unknown_object_key_is_no_such_key(env: Oss) -> None:
    error = service_error(
        lambda: env.client().get_object(oss.GetObjectRequest(bucket=BUCKET, key="ledger/none"))
    )
    assert (error.status_code, error.code) == (404, "NoSuchKey")


def test_head_of_a_missing_key_is_no_such_key_through_x_oss_err(env: Oss) -> None:
    error = service_error(
        lambda: env.client().head_object(oss.HeadObjectRequest(bucket=BUCKET, key="ledger/none"))
    )
    assert (error.status_code, error.code) == (404, "NoSuchKey")
    assert error.snapshot == b""  # HEAD: no body, the XML came in the header
    assert "x-oss-err" in error.headers
    assert error.request_id == env.fake.calls[-1].request_id


def test_an_unknown_bucket_is_no_such_bucket(env: Oss) -> None:
    error = service_error(lambda: put(env.client(), "k", b"x", bucket="no-such-bucket"))
    assert (error.status_code, error.code) == (404, "NoSuchBucket")


def test_sts_credentials_need_their_token(env: Oss) -> None:
    env.fake.register_credential("STS.key", "sts-secret", "the-token")
    put(env.client("STS.key", "sts-secret", "the-token"), "ledger/i-1", b"x")
    wrong = service_error(lambda: put(env.client("STS.key", "sts-secret", "other"), "ledger/i-2", b"x"))
    assert (wrong.status_code, wrong.code) == (403, "InvalidSecurityToken")
    missing = service_error(lambda: put(env.client("STS.key", "sts-secret"), "ledger/i-2", b"x"))
    assert (missing.status_code, missing.code) == (403, "InvalidAccessKeyId")
    env.fake.register_credential("STS.old", "s", "t", expires_at=time.time() - 1)
    expired = service_error(lambda: put(env.client("STS.old", "s", "t"), "ledger/i-2", b"x"))
    assert (expired.status_code, expired.code) == (403, "SecurityTokenExpired")


def test_a_grant_limits_a_key_to_a_prefix(env: Oss) -> None:
    env.fake.register_credential(
        "writer",
        "secret",
        grants=[
            OssGrant(BUCKET, "ledger/", frozenset({"oss:PutObject", "oss:GetObject", "oss:ListObjects"}))
        ],
    )
    client = env.client("writer", "secret")
    put(client, "ledger/i-1", b"x")
    client.list_objects_v2(oss.ListObjectsV2Request(bucket=BUCKET, prefix="ledger/"))
    for call in (
        lambda: put(client, "elsewhere/i-1", b"x"),
        lambda: client.delete_object(oss.DeleteObjectRequest(bucket=BUCKET, key="ledger/i-1")),
        lambda: client.list_objects_v2(oss.ListObjectsV2Request(bucket=BUCKET)),
    ):
        error = service_error(call)
        assert (error.status_code, error.code) == (403, "AccessDenied")


def test_a_signing_region_other_than_the_fakes_is_refused(env: Oss) -> None:
    env.fake.region = "cn-hangzhou"
    error = service_error(lambda: put(env.client(), "ledger/i-1", b"x"))
    assert (error.status_code, error.code) == (400, "InvalidArgument")


# -- faults ---------------------------------------------------------------------------------------------


def test_when_the_fake_is_down_the_sdk_fails_and_nothing_is_written(env: Oss) -> None:
    env.fake.down()
    client = env.client(timeout=1)
    with pytest.raises(oss.exceptions.OperationError) as caught:
        put(client, "ledger/i-1", b"x")
    assert not isinstance(caught.value.unwrap(), oss.exceptions.ServiceError)
    assert env.fake.objects(BUCKET) == {}
    assert env.fake.calls[-1].status is None
    env.fake.up()
    put(client, "ledger/i-1", b"x")


def test_fail_next_answers_errors_that_the_sdk_retries(env: Oss) -> None:
    env.fake.fail_next(2)
    error = service_error(lambda: put(env.client(), "ledger/i-1", b"x"))
    assert (error.status_code, error.code) == (503, "ServiceUnavailable")
    put(env.client(attempts=3), "ledger/i-1", b"x")  # one 503 left, then success
    assert [call.status for call in env.fake.calls] == [503, 503, 200]
    env.fake.fail_next(1, 409, "FileAlreadyExists", "faked")
    assert service_error(lambda: put(env.client(attempts=3), "ledger/i-2", b"x")).code == "FileAlreadyExists"


def test_a_slow_answer_times_the_client_out_after_the_write_took_effect(env: Oss) -> None:
    env.fake.latency = 0.4
    with pytest.raises(oss.exceptions.OperationError) as caught:
        put(env.client(timeout=0.1), "ledger/i-1", b"x")
    assert not isinstance(caught.value.unwrap(), oss.exceptions.ServiceError)
    deadline = time.monotonic() + 2
    while "ledger/i-1" not in env.fake.objects(BUCKET) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert env.fake.objects(BUCKET)["ledger/i-1"].body == b"x"  # the ledger's "answer lost" case


# -- mountings ---------------------------------------------------------------------------------------


def test_in_process_path_style_and_one_state_behind_both_mountings() -> None:
    fake = FakeOss(buckets=[BUCKET])
    with MockOss(fake), FakeOssServer(fake) as server:
        put(make_client(f"oss-{REGION}-internal.aliyuncs.com", path_style=True), "ledger/i-1", b"x")
        assert fake.calls[-1].bucket == BUCKET
        served = make_client(server.endpoint)
        assert served.get_object(oss.GetObjectRequest(bucket=BUCKET, key="ledger/i-1")).body.content == b"x"


def test_crc64_is_crc64_ecma_as_oss_computes_it() -> None:
    assert crc64(b"123456789") == 0x995DC9BBDF1939FA  # the catalogue's check value of CRC-64/XZ


def test_fake_oss_serve_starts_and_answers() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ebs_failover.cli",
            "fake-oss",
            "serve",
            "--bucket",
            BUCKET,
            "--bucket",
            "other",
            "--credential",
            "ak:sk",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(FUNCTION_DIR)},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("fake OSS listening on http://127.0.0.1:"), first
        assert "access keys: testing, ak" in first
        assert "buckets: ledger, other" in first
        endpoint = first.split()[4]
        client = make_client(endpoint, "ak", "sk")
        put(client, "ledger/i-1", b"x")
        assert client.get_object(oss.GetObjectRequest(bucket=BUCKET, key="ledger/i-1")).body.content == b"x"
        assert client.list_objects_v2(oss.ListObjectsV2Request(bucket="other")).key_count == 0
        error = service_error(lambda: put(client, "ledger/i-1", b"y"))
        assert error.code == "FileAlreadyExists"
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["fake-oss", "serve", "--credential", "no-secret"], 2, "expected KEY:SECRET"),
        (["fake-oss", "serve", "--bucket", "Bad_Name"], 1, "invalid OSS bucket name 'Bad_Name'"),
    ],
)
def test_fake_oss_serve_refuses_bad_arguments(
    capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    assert cli.main(argv) == code
    assert message in capsys.readouterr().err
