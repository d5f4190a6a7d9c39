"""The one table of EBS error codes, held to the documented facts; and the fake held to the same facts.

``docs/reference/ebs-error-codes.md`` is the copy of the documented per-API table (Alibaba's API metadata);
``ebs_failover.testing.ebs.documented`` is that table as data, which the fake's answers are checked
against in every test (``tests/conftest.py``); ``ebs_failover.ebs_codes`` is what the function does with
each code. No fake server, no SDK.
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

from ebs_failover.ebs_codes import RULES, rule_for
from ebs_failover.errors import EbsError
from ebs_failover.testing.ebs.documented import DOCUMENTED_ERRORS, check_answer, documents, take_violations

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "ebs-error-codes.md"


def _reference_tables() -> dict[str, frozenset[tuple[int, str]]]:
    """The page's ``### <API>`` sections, each a table of ``| status | `code` |`` rows."""
    tables: dict[str, set[tuple[int, str]]] = {}
    current: set[tuple[int, str]] | None = None
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        if heading := re.fullmatch(r"### (\w+)", line):
            current = tables.setdefault(heading.group(1), set())
        elif line.startswith("## "):
            current = None
        elif current is not None and (row := re.fullmatch(r"\| (\d{3}) \| `([\w.]+)` \|", line)):
            current.add((int(row.group(1)), row.group(2)))
    return {api: frozenset(codes) for api, codes in tables.items()}


def test_the_fakes_table_is_the_documented_page() -> None:
    assert _reference_tables() == DOCUMENTED_ERRORS


def test_every_code_the_table_says_the_metadata_documents_is_in_it() -> None:
    documented_codes = {code for codes in DOCUMENTED_ERRORS.values() for _, code in codes}
    claimed = {rule.code for rule in RULES.values() if rule.source.startswith("metadata")}
    assert claimed - documented_codes == set()
    assert all(rule.source for rule in RULES.values())


def test_every_documented_failover_and_drill_code_has_a_rule() -> None:
    """A code EBS documents for a call the function makes is never met with the generic 'EBS answered'."""
    ours = [api for api in DOCUMENTED_ERRORS if not api.startswith("Reprotect")]  # no recovery plan yet
    missing = {
        (api, code)
        for api in ours
        for status, code in DOCUMENTED_ERRORS[api]
        if not rule_for(code, status).source.startswith("metadata")
    }
    assert missing == set()


@pytest.mark.parametrize(
    ("code", "status", "retry"),
    [
        ("InternalError", 500, "now"),
        ("RequestTimeout", 504, "now"),
        ("LastTokenProcessing", 403, "now"),
        ("Rejected.Throttling", 400, "now"),  # Terraform: every code containing Throttling
        ("Throttling.User", 400, "now"),
        ("Whatever", 429, "now"),  # any 429
        ("Forbidden", 503, "now"),  # any 5xx, whatever the code
        ("OperationDenied.InvalidStatus", 403, "after_look"),
        ("OperationDenied", 403, "no"),
        ("Forbidden.Action", 403, "no"),
        ("Something.New", 400, "no"),
    ],
)
def test_retry_rules(code: str, status: int, retry: str) -> None:
    assert rule_for(code, status).retry == retry
    assert EbsError(code, status, "", None).transient is (retry == "now")


def test_no_answer_is_retried() -> None:
    assert EbsError("ReadTimeout", None, "", None).transient


def test_the_guard_records_an_answer_the_api_does_not_document() -> None:
    take_violations()
    check_answer(
        "StartPairDrill", 403, "OperationDenied.InvalidStatus"
    )  # documented for Failover, not drills
    check_answer("FailoverDiskReplicaPair", 403, "OperationDenied.InvalidStatus")
    check_answer("CreateDiskReplicaPair", 403, "OperationDenied.QuotaExceed")  # an API outside the table
    assert take_violations() == [("StartPairDrill", 403, "OperationDenied.InvalidStatus")]
    assert not documents("ClearPairDrill", 403, "OperationDenied.OperateNotAllowedForPrimary")
    assert documents("FailoverDiskReplicaPair", 400, "IdempotentParameterMismatch")


def test_the_reference_page_lists_the_table_the_code_reads() -> None:
    printed = runpy.run_path(str(REFERENCE.parents[2] / "tools" / "codes_table.py"))["table"]()
    assert printed in REFERENCE.read_text(encoding="utf-8")
