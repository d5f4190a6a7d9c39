"""The error tree: every exception the package defines is in errors.py, under EbsFailoverError, and is
drawn in the module's docstring (the fakes in ``testing/`` speak for the cloud, not for the package)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import ebs_failover
from ebs_failover import errors
from ebs_failover.outcomes import OUTCOMES, aggregate, drill_outcome, log_level


def _package_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(ebs_failover.__path__, "ebs_failover."):
        if module_info.name.startswith("ebs_failover.testing") or module_info.name.endswith("__main__"):
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module_info.name  # defined here, not imported
            ):
                found[f"{module_info.name}.{name}"] = value
    return found


def test_every_exception_the_package_defines_is_in_the_documented_tree() -> None:
    found = _package_exceptions()
    assert found, "the walk found no exception at all"
    outside = sorted(name for name, cls in found.items() if cls.__module__ != "ebs_failover.errors")
    assert outside == []
    for name, cls in found.items():
        assert issubclass(cls, errors.EbsFailoverError), name
        assert cls.__name__ in (errors.__doc__ or ""), f"{name} is not drawn in errors.py's docstring"
        assert cls.__name__ in errors.__all__, name


def test_the_outcomes_order_and_groupings() -> None:
    assert aggregate(["ignored", "failed_over", "refused"]) == "refused"
    assert aggregate(reversed(OUTCOMES)) == "failed"
    assert drill_outcome(["drill_passed", "drill_passed"]) == "drill_passed"
    assert drill_outcome(["drill_passed", "refused"]) == "drill_failed"
    assert (log_level("failed"), log_level("refused"), log_level("failed_over")) == (
        "error",
        "warning",
        "info",
    )


def test_an_unknown_outcome_is_a_bug_not_a_silent_order() -> None:
    with pytest.raises(ValueError, match="unknown outcome 'failover'"):
        aggregate(["failed_over", "failover"])
