"""The JSON Schemas compiled ahead (what the FC package carries) judge every sample event exactly as the
schemas compiled at first use do; a compiled module whose schema changed since is not used."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from ebs_failover.triggers import SCHEMA_DIR, InvalidEvent, _schema, parse

EVENTS = sorted((Path(__file__).resolve().parents[2] / "events").glob("*.*"))
PACKAGE = "ebs_failover.triggers._compiled"


def _verdicts() -> dict[str, str]:
    """Each sample event's trigger, or the error that rejects it."""
    verdicts = {}
    for path in EVENTS:
        try:
            verdicts[path.name] = repr(parse(path.read_bytes(), request_id="req-1"))
        except InvalidEvent as error:
            verdicts[path.name] = f"rejected: {error}"
    return verdicts


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, types.ModuleType]]:
    """The compiled modules, mounted where the package puts them (as tools/package.py writes them)."""
    package = types.ModuleType(PACKAGE)
    package.__path__ = []
    monkeypatch.setitem(sys.modules, PACKAGE, package)
    modules = {}
    for path in SCHEMA_DIR.glob("*.json"):
        module = types.ModuleType(f"{PACKAGE}.{path.stem}")
        exec(compile(_schema.compiled_source(path.stem), module.__name__, "exec"), module.__dict__)
        monkeypatch.setitem(sys.modules, module.__name__, module)
        modules[path.stem] = module
    _schema.validator.cache_clear()
    yield modules
    _schema.validator.cache_clear()


def test_the_samples_cover_rejections_by_the_schemas() -> None:
    verdicts = _verdicts()
    assert len(verdicts) >= 40
    assert sum("rejected" in v for v in verdicts.values()) >= 10


def test_compiled_ahead_or_at_first_use_the_verdicts_are_the_same(
    compiled: dict[str, types.ModuleType],
) -> None:
    ahead = _verdicts()
    assert all(_schema.validator(name) is module.validate for name, module in compiled.items())
    for module in compiled.values():
        sys.modules.pop(module.__name__)
    sys.modules.pop(PACKAGE)
    _schema.validator.cache_clear()
    at_first_use = _verdicts()
    assert ahead == at_first_use


def test_a_compiled_module_of_an_edited_schema_is_not_used(compiled: dict[str, types.ModuleType]) -> None:
    compiled["manual"].SCHEMA_SHA256 = "0" * 64  # type: ignore[attr-defined]
    assert _schema.validator("manual") is not compiled["manual"].validate
    assert _schema.validator("timer") is compiled["timer"].validate
