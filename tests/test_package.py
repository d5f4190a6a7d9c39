"""``tools/package.py``: the FC code zip builds, is deterministic, and runs on a bare Python 3.10.

The build needs the package index (the runtime dependencies are downloaded as cp310 manylinux wheels):
without network these tests fail, loudly, and never skip. One build takes ~20-30 s; the module builds twice.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ebs_failover.testing import FakeEbs, FakeEbsServer, FakeMnsServer

from .conftest import STANDBY, seed_pair

pytestmark = pytest.mark.package

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "package.py"
FUNCTION_DIR = ROOT / "function"

#: No FC code-size limit is in the reference (fc-runtime.md, deploy-ros.md); 100 MB is the brief's bound.
SIZE_LIMIT = 100 * 1000 * 1000

EVENT = (
    b'{"action":"failover","replicaPairId":"pair-cn-demo0db01",'
    b'"reason":"package test","idempotencyKey":"pkg-1"}'
)
TARGETS = '{"d-bp1demo0primary01":"pair-cn-demo0db01"}'

#: Runs in the unzipped folder under ``python3.10 -I -S -B``: nothing on sys.path but the stdlib and ``.``,
#: and no bytecode written (FC's code folder is read-only). argv[1]: a JSON list of events.
SMOKE = r"""
import json, os, sys, sysconfig
sys.path.insert(0, ".")
from types import SimpleNamespace as NS

import index

results = []
for n, event in enumerate(json.loads(sys.argv[1])):
    context = NS(
        request_id=f"pkg-test-{n:04d}",
        function=NS(name="ebs-failover", handler="index.handler", memory=256, timeout=60),
        region="cn-hangzhou",
        account_id="1234567890123456",
        credentials=None,
    )
    results.append(index.handler(event.encode(), context))

# Import what the rest of the function may import (a retry, the other channels).
import alibabacloud_credentials.client, alibabacloud_ebs20210730.client, alibabacloud_ebs20210730.models
import alibabacloud_tea_openapi.utils_models, darabonba.runtime, fastjsonschema, tenacity
import alibabacloud_eventbridge20200401.client, mns.account, mns.mns_exception, mns.topic

here = os.path.realpath(".") + os.sep
stdlib = os.path.realpath(sysconfig.get_path("stdlib")) + os.sep
strays = sorted(
    f"{name}: {module.__file__}"
    for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None)
    and not os.path.realpath(module.__file__).startswith((here, stdlib))
)
ours = [m for name, m in sys.modules.items() if name == "ebs_failover" or name.startswith("ebs_failover.")]
print("SMOKE " + json.dumps({
    "results": results,
    "strays": strays,
    "version": sys.version,
    "modules": sorted(sys.modules),
}))
"""


@dataclass(frozen=True)
class Build:
    zip: Path
    output: str
    seconds: float
    sources: str


def _sources_digest() -> str:
    """What function/ holds now, to tell a concurrent edit from a non-deterministic build."""
    digest = hashlib.sha256()
    for path in sorted(FUNCTION_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and ".egg-info" not in str(path):
            digest.update(str(path.relative_to(FUNCTION_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _build(out: Path) -> Build:
    sources = _sources_digest()
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, str(SCRIPT), "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("tools/package.py took more than 15 minutes (is the package index reachable?)")
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        pytest.fail(
            "tools/package.py failed: building the zip downloads the runtime dependencies, so it needs "
            "network access to the package index (pip's configured index).\n"
            f"exit {done.returncode}\nstderr:\n{done.stderr[-4000:]}\nstdout:\n{done.stdout[-2000:]}"
        )
    found = re.search(r"^zip: (.+)$", done.stdout, re.MULTILINE)
    assert found, done.stdout
    return Build(Path(found.group(1)), done.stdout, seconds, sources)


def _python310() -> str:
    found = subprocess.run(
        [str(ROOT / ".ci" / "find-python"), "3.10"], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        pytest.fail(f"the FC runtime is python3.10 and none was found: {found.stderr.strip()}")
    return found.stdout.strip()


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("package_tool", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _unzip(archive: Path, into: Path) -> None:
    """Extract with the modes the zip records (zipfile itself drops them)."""
    with zipfile.ZipFile(archive) as opened:
        for info in opened.infolist():
            path = Path(opened.extract(info, into))
            path.chmod((info.external_attr >> 16) & 0o777)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Build:
    build = _build(tmp_path_factory.mktemp("dist"))
    print(f"\n{build.output}\n(test: built in {build.seconds:.1f} s)")
    return build


@pytest.fixture(scope="module")
def names(built: Build) -> list[str]:
    with zipfile.ZipFile(built.zip) as opened:
        return opened.namelist()


def test_zip_is_named_after_the_version(built: Build) -> None:
    tool = _tool()
    project = tool.read_project()
    assert built.zip.name == f"ebs-failover-{project.version}.zip"
    assert project.dependencies, "the runtime dependencies come from pyproject's [project] dependencies"


def test_function_code_is_at_the_root(names: list[str]) -> None:
    assert "index.py" in names
    assert "ebs_failover/__init__.py" in names
    assert "ebs_failover/py.typed" in names
    schemas = {
        p.relative_to(FUNCTION_DIR).as_posix() for p in (FUNCTION_DIR / "ebs_failover").rglob("*.json")
    }
    assert schemas, "the trigger schemas are data files the package reads at run time"
    assert schemas <= set(names)


def test_zip_leaves_out_the_command_line_and_the_fakes(names: list[str]) -> None:
    """The function never imports them on FC: ``ebs_failover/cli/`` and ``ebs_failover/testing/``."""
    assert (FUNCTION_DIR / "ebs_failover" / "cli" / "__init__.py").is_file()
    assert not [n for n in names if n.startswith(("ebs_failover/cli/", "ebs_failover/testing/"))]
    assert "ebs_failover/handler.py" in names


def test_zip_holds_no_test_code_or_scripts(names: list[str]) -> None:
    tops = {name.split("/", 1)[0] for name in names}
    assert "tests" not in tops
    assert not [n for n in names if re.search(r"(^|/)(conftest|pytest_plugin)\.py$", n)]
    assert not [n for n in names if re.match(r"(ebs_failover/(.*/)?)?test_[^/]*\.py$", n)]
    # The dependencies' own test folders (websocket-client ships websocket/tests), stubs, C sources.
    assert not [n for n in names if re.search(r"^[^/]+/(.*/)?tests?/", n)]
    assert not [n for n in names if n.endswith((".pyi", ".pyx", ".pxd", ".c", ".h"))]
    for forbidden in ("pytest", "_pytest", "responses", "bin"):
        assert forbidden not in tops
        assert not [t for t in tops if t.lower().startswith(f"{forbidden}-") and t.endswith(".dist-info")]
    assert not [n for n in names if ".egg-info/" in n]
    assert [n for n in names if n.endswith(".dist-info/METADATA")], "dist-info is kept"


def test_zip_leaves_out_pycryptodome_which_nothing_imports(names: list[str], built: Build) -> None:
    """aliyun-mns-sdk and alibabacloud-oss-v2 require pycryptodome (10.8 MiB); only the OSS SDK's
    client-side encryption imports ``Crypto``, behind a guard that makes its absence harmless."""
    tops = {name.split("/", 1)[0] for name in names}
    assert "Crypto" not in tops
    assert not [t for t in tops if t.lower().startswith("pycryptodome-")]
    assert "left out: pycryptodome" in built.output
    # Only behind the OSS SDK's guard (its crypto package, imported in try/except ImportError).
    with zipfile.ZipFile(built.zip) as opened:
        sources = {n: opened.read(n).decode("utf-8", "replace") for n in names if n.endswith(".py")}
    importing = [n for n, s in sources.items() if re.search(r"^\s*(from|import)\s+Crypto(dome)?\b", s, re.M)]
    assert all(n.startswith("alibabacloud_oss_v2/crypto/") for n in importing), importing


def test_every_module_ships_its_bytecode_for_python310(names: list[str], built: Build) -> None:
    """One ``__pycache__/<m>.cpython-310.pyc`` per ``.py``, hash-based and checked, naming its file
    relative to the code root (so that tracebacks find the source wherever the zip is unpacked)."""
    sources = {n for n in names if n.endswith(".py")}
    compiled = {n for n in names if n.endswith((".pyc", ".pyo"))}
    expected = {re.sub(r"([^/]+)\.py$", r"__pycache__/\1.cpython-310.pyc", n) for n in sources}
    assert compiled == expected
    with zipfile.ZipFile(built.zip) as opened:
        handler = opened.read("ebs_failover/__pycache__/handler.cpython-310.pyc")
    assert int.from_bytes(handler[4:8], "little") == 0b11, "flags: hash-based (1), check_source (2)"
    read = subprocess.run(
        [
            _python310(),
            "-c",
            "import marshal, sys; print(marshal.loads(sys.stdin.buffer.read()[16:]).co_filename)",
        ],
        input=handler,
        capture_output=True,
        check=True,
    )
    assert read.stdout.decode().strip() == "ebs_failover/handler.py"


def test_zip_is_deterministic(names: list[str], built: Build) -> None:
    with zipfile.ZipFile(built.zip) as opened:
        infos = opened.infolist()
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} <= {0o100644, 0o100755}


def test_zip_is_within_the_code_size_limit(built: Build) -> None:
    size = built.zip.stat().st_size
    print(f"\nzip size: {size:,} bytes ({size / 2**20:.2f} MiB), limit {SIZE_LIMIT:,} bytes")
    assert size < SIZE_LIMIT, f"{built.zip.name} is {size:,} bytes, over {SIZE_LIMIT:,}"


def _run_smoke(folder: Path, fake: FakeEbs, events: list[str], **env: str) -> dict[str, Any]:
    """The SMOKE script in ``folder`` under a bare ``python3.10 -I -S -B``, against ``fake`` on a socket."""
    with FakeEbsServer(fake) as server:
        environment = {
            "FAILOVER_TARGETS": TARGETS,
            "FAILOVER_REGION": STANDBY,
            "EBS_ENDPOINT": server.endpoint,
            "EBS_PROTOCOL": "http",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": "testing",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "testing",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            **env,
        }
        done = subprocess.run(
            [_python310(), "-I", "-S", "-B", "-c", SMOKE, json.dumps(events)],
            cwd=folder,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    line = [x for x in done.stdout.splitlines() if x.startswith("SMOKE ")]
    assert line, done.stdout
    smoke: dict[str, Any] = json.loads(line[-1][len("SMOKE ") :])
    assert smoke["version"].startswith("3.10.")
    assert smoke["strays"] == [], "imported from outside the unzipped folder and the stdlib"
    return smoke


def test_unzipped_on_bare_python310_it_fails_a_pair_over_and_publishes(built: Build, tmp_path: Path) -> None:
    """The zip as FC runs it: a live failover against the fake on a socket, told through MNS, then a
    rejected event; nothing imported from outside the folder, no Crypto anywhere."""
    folder = tmp_path / "code"
    folder.mkdir()
    _unzip(built.zip, folder)
    fake = FakeEbs()
    fake.load_seed({"pairs": [seed_pair("pair-cn-demo0db01", "d-bp1demo0primary01")]})
    with FakeMnsServer() as mns:
        mns.create_topic("results")
        smoke = _run_smoke(
            folder,
            fake,
            [EVENT.decode(), '{"action": "explode"}'],
            FAILOVER_MODE="live",
            NOTIFY_TARGETS="mns:results",
            MNS_ENDPOINT=mns.endpoint,
        )
        published = [json.loads(m.body)["data"]["outcome"] for m in mns.published["results"]]
    failover, rejected = (r["data"] for r in smoke["results"])
    assert failover["outcome"] == "failed_over", failover
    assert [(t["pair_id"], t["outcome"], t["verified"]) for t in failover["targets"]] == [
        ("pair-cn-demo0db01", "failed_over", True)
    ]
    assert fake.pair("pair-cn-demo0db01").status == "failovered"
    assert [c.action for c in fake.state_changes()] == ["FailoverDiskReplicaPair"]
    assert rejected["outcome"] == "rejected"
    assert published == ["failed_over", "rejected"]
    assert not [m for m in smoke["modules"] if m.split(".")[0] in ("Crypto", "Cryptodome")]
    # Both events were judged by the manual request's schema as the build compiled it, not compiled here.
    assert "ebs_failover.triggers._compiled.manual" in smoke["modules"]


def test_zip_carries_every_schema_compiled_with_its_hash(names: list[str], built: Build) -> None:
    schemas = sorted(
        p.stem for p in (ROOT / "function" / "ebs_failover" / "triggers" / "schemas").glob("*.json")
    )
    compiled = sorted(
        n.rsplit("/", 1)[1][: -len(".py")]
        for n in names
        if n.startswith("ebs_failover/triggers/_compiled/") and n.endswith(".py") and "__init__" not in n
    )
    assert compiled == schemas
    with zipfile.ZipFile(built.zip) as archive:
        source = archive.read("ebs_failover/triggers/_compiled/manual.py").decode()
    digest = hashlib.sha256(
        (ROOT / "function/ebs_failover/triggers/schemas/manual.json").read_bytes()
    ).hexdigest()
    assert f"SCHEMA_SHA256 = {digest!r}" in source


def _imports_from_bytecode(folder: Path, module: str) -> bool:
    """Whether ``python3.10 -I -S -B`` in ``folder`` loads ``module`` from its shipped ``.pyc``
    (``-v`` names the file each code object came from)."""
    done = subprocess.run(
        [_python310(), "-I", "-S", "-B", "-v", "-c", f"import sys; sys.path.insert(0, '.'); import {module}"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    package, _, name = module.rpartition(".")
    pyc = Path(*package.split("."), "__pycache__", f"{name}.cpython-310.pyc") if package else None
    pyc = pyc or Path("__pycache__", f"{name}.cpython-310.pyc")
    return f"# code object from '{folder}/./{pyc.as_posix()}'" in done.stderr


def test_unzipped_it_runs_on_its_bytecode_whatever_the_times_the_unzip_left(
    built: Build, tmp_path: Path
) -> None:
    """checked-hash: the .pyc is matched to its source by a hash, not a time stamp. With every source
    dated years before and after its .pyc, the handler still loads from the shipped bytecode."""
    folder = tmp_path / "code"
    folder.mkdir()
    _unzip(built.zip, folder)
    for index, source in enumerate(sorted(folder.rglob("*.py"))):
        stamp = 978_307_200 if index % 2 else 4_102_444_800  # 2001 and 2100
        os.utime(source, (stamp, stamp))
    assert _imports_from_bytecode(folder, "ebs_failover.handler")
    assert _imports_from_bytecode(folder, "alibabacloud_ebs20210730.client")


def test_unzipped_a_source_edited_in_place_runs_as_edited(built: Build, tmp_path: Path) -> None:
    """An edit in FC's console (or an unzip-edit-zip in an incident) must not be shadowed by the stale
    bytecode: the hash no longer matches, the interpreter compiles the edited source."""
    folder = tmp_path / "code"
    folder.mkdir()
    _unzip(built.zip, folder)
    index = folder / "index.py"
    index.write_text(index.read_text(encoding="utf-8") + '\nprint("EDITED IN PLACE", flush=True)\n')
    assert not _imports_from_bytecode(folder, "index")
    done = subprocess.run(
        [_python310(), "-I", "-S", "-B", "-c", "import sys; sys.path.insert(0, '.'); import index"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "EDITED IN PLACE" in done.stdout


def test_zip_writer_reproduces_the_bytes_from_the_same_files(built: Build, tmp_path: Path) -> None:
    """The writer alone: unzip, scramble the mtimes, zip again: the same bytes."""
    folder = tmp_path / "staged"
    folder.mkdir()
    _unzip(built.zip, folder)
    for index, path in enumerate(sorted(folder.rglob("*"))):
        os.utime(path, (1_700_000_000 + index, 1_700_000_000 + index))
    tool = _tool()
    again = tool.write_zip(folder, tmp_path / "again" / built.zip.name)
    assert again.read_bytes() == built.zip.read_bytes()


def test_second_build_is_byte_identical(built: Build, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Build again from scratch: the same bytes.

    Others may edit function/ while this module runs (~1 min). If its files changed between the two builds,
    the zips may differ in our own code only; every dependency byte must still be equal.
    """
    second = _build(tmp_path_factory.mktemp("dist-again"))
    if built.zip.read_bytes() == second.zip.read_bytes():
        return
    with zipfile.ZipFile(built.zip) as one, zipfile.ZipFile(second.zip) as two:
        a = {i.filename: (i.CRC, i.compress_size) for i in one.infolist()}
        b = {i.filename: (i.CRC, i.compress_size) for i in two.infolist()}
    differ = sorted(n for n in a.keys() | b.keys() if a.get(n) != b.get(n))
    ours = [n for n in differ if n == "index.py" or n.startswith("ebs_failover/")]
    if built.sources == second.sources or ours != differ:
        pytest.fail(f"two builds differ in {len(differ)} entries: {differ[:20]}")
    # function/ was edited in between: only our own entries differ; the rest match, in the same order.
    assert [n for n in a if n not in ours] == [n for n in b if n not in ours]


def test_prune_drops_what_never_runs_inside_packages_only(tmp_path: Path) -> None:
    """Test folders, pytest plugins, stubs and C sources inside a package go; a distribution's own
    top-level ``tests`` package (something may import it) and everything else stay."""
    tool = _tool()
    files = [
        "tests/__init__.py",
        "pkg/__init__.py",
        "pkg/core.py",
        "pkg/data.json",
        "pkg/tests/test_core.py",
        "pkg/sub/test/__init__.py",
        "pkg/pytest_plugin.py",
        "pkg/conftest.py",
        "pkg/core.pyi",
        "pkg/_speedups.c",
        "pkg/_speedups.h",
        "pkg/_speedups.pyx",
        "pkg/_speedups.cpython-310-x86_64-linux-gnu.so",
        "pkg/__pycache__/core.cpython-311.pyc",
        "bin/tool",
    ]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    tool._prune(tmp_path)
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == [
        "pkg/__init__.py",
        "pkg/_speedups.cpython-310-x86_64-linux-gnu.so",
        "pkg/core.py",
        "pkg/data.json",
        "tests/__init__.py",
    ]
