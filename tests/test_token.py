"""ClientToken derivation: deterministic, ASCII, at most 64 characters, distinct where it must be."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from ebs_failover.token import TOKEN_PREFIX, client_token


def test_shape() -> None:
    token = client_token("cms:batch-1", "pair-cn-a")
    assert token.startswith(TOKEN_PREFIX)
    assert len(token) == 64
    assert token.isascii()
    assert token.isprintable()


@pytest.mark.parametrize(("identity", "pair"), [("cms:batch-1", "pair-cn-a"), ("manual:工单-7", "pair-cn-b")])
def test_the_token_is_the_documented_sha256(identity: str, pair: str) -> None:
    """As documented: ``ebsfo-`` + 58 hex digits of SHA-256(identity LF pair), UTF-8."""
    digest = hashlib.sha256(f"{identity}\n{pair}".encode()).hexdigest()
    assert client_token(identity, pair) == TOKEN_PREFIX + digest[:58]


def test_same_alarm_same_pair_same_token() -> None:
    assert client_token("cms:batch-1", "pair-cn-a") == client_token("cms:batch-1", "pair-cn-a")


def test_another_alarm_or_another_pair_gets_another_token() -> None:
    tokens = {
        client_token("cms:batch-1", "pair-cn-a"),
        client_token("cms:batch-2", "pair-cn-a"),
        client_token("cms:batch-1", "pair-cn-b"),
        # no ambiguity from concatenation
        client_token("cms:batch-1pair-cn-", "a"),
    }
    assert len(tokens) == 4


def test_deterministic_across_processes() -> None:
    code = "from ebs_failover.token import client_token; print(client_token('eb:acs.ebs:42', 'pair-cn-x'))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == client_token("eb:acs.ebs:42", "pair-cn-x")


def test_a_non_ascii_identity_still_yields_an_ascii_token() -> None:
    assert client_token("manual:工单-7", "pair-cn-a").isascii()


def test_the_readme_documents_every_setting() -> None:
    from pathlib import Path

    from ebs_failover.config import VARIABLES

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    missing = [name for name in VARIABLES if f"`{name}`" not in readme]
    assert missing == []
