"""Print the table of what ebs-failover does with each EBS error code (``ebs_failover.ebs_codes.RULES``),
as ``docs/reference/ebs-error-codes.md`` carries it: ``python tools/codes_table.py``."""

from __future__ import annotations

from ebs_failover.ebs_codes import RULES

RETRY = {"now": "retried (same ClientToken)", "after_look": "looked at, then tried again", "no": "final"}


def table() -> str:
    rows = ["| code | what the function does | outcome when final | source |", "|---|---|---|---|"]
    for rule in RULES.values():
        rows.append(f"| `{rule.code}` | {RETRY[rule.retry]} | {rule.outcome} | {rule.source} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(table(), end="")
