"""Build the Function Compute code package: ``dist/ebs-failover-<version>.zip``.

Usage::

    python tools/package.py [--out dist]

The zip is what ``ALIYUN::FC3::Function`` takes as ``Code`` (inline ``ZipFile`` or an OSS object) for
``Runtime: python3.10`` with ``Handler: index.handler``:

* the contents of ``function/`` at the root: ``index.py`` and ``ebs_failover/`` (with its JSON schemas and
  ``py.typed``; no ``__pycache__``, no ``*.egg-info``);
* next to them, the runtime dependencies (``[project] dependencies`` of ``pyproject.toml``, not the
  extras) with their own dependencies, as CPython 3.10 manylinux2014 x86_64 wheels, installed with
  ``pip install --target``; ``*.dist-info`` is kept.

How the dependencies are chosen, in three pip calls, all run by a Python 3.10 (``.ci/find-python 3.10``)
so that environment markers are evaluated for 3.10 (pip evaluates them with the interpreter that runs
it, whatever ``--python-version`` says: run by 3.11, it leaves out ``async-timeout``, which ``aiohttp``
needs below 3.11):

1. resolve the dependencies the ordinary way (``pip install --dry-run --report``): the versions a
   ``pip install`` of the project would pick, sdists included;
2. build a wheel (``pip wheel --no-deps``) for each one that resolved to an sdist only. That is safe only
   for pure-Python projects, so the built wheel must be ``py3-none-any``: anything else stops the build.
   Without this step ``--only-binary=:all:`` silently falls back to the newest *older* release that has a
   wheel (``alibabacloud-tea`` 0.4.3 is sdist-only: it would ship 0.4.0, a version no test has run);
3. install exactly those versions, minus :data:`LEFT_OUT`, for the FC platform (``--no-deps``,
   ``--only-binary=:all:``, with the wheels of step 2 on ``--find-links``).

What is left out, and why:

* the parts of ``function/`` FC never imports (``ebs_failover/cli/``, ``ebs_failover/testing/``);
* distributions that a dependency requires but nothing shipped ever imports (:data:`LEFT_OUT`:
  ``pycryptodome``, 10.8 MiB, required by ``aliyun-mns-sdk``, whose modules never import ``Crypto``).
  The build stops if a shipped module imports one of them after all;
* what pip installs that never runs: ``bin/``, the dependencies' own test folders and pytest plugins, type
  stubs (``.pyi``) and C/Cython sources (``.c``, ``.h``, ``.pyx``, ``.pxd``) next to their compiled modules.

Bytecode. FC unpacks the code read-only, so without ``.pyc`` files every cold instance compiles each
module it imports (about 850) from source, every time. The staged tree is compiled by the Python 3.10
that resolved it (``compileall``), so the zip holds ``__pycache__/<module>.cpython-310.pyc`` next to each
``.py``:

* ``--invalidation-mode checked-hash``: the ``.pyc`` records a hash of its source, not its time stamp,
  so the times an unzip leaves do not matter; and the interpreter checks that hash, so a source edited
  in place (FC's console editor, an unzip-edit-zip during an incident) runs as edited instead of the
  stale bytecode silently running on (``unchecked-hash`` would skip the check: measured, the check costs
  about 20 ms of a 0.4 s cold start; BENCHMARKS.md);
* ``-s <staged>``: each code object names its file relative to the code root (``ebs_failover/handler.py``),
  which ``linecache`` finds on ``sys.path`` wherever the zip is unpacked, and which keeps the build folder
  out of the bytes;
* one process, files in sorted order, ``PYTHONHASHSEED=0``: marshal's output depends on the hash order of
  constant sets and on which objects the compiling process already holds, so a parallel (``-j``) or
  randomly seeded compile gives different bytes from one build to the next.

The zip is deterministic: entries sorted, every timestamp 1980-01-01 00:00:00, mode 0644 (0755 if the
staged file was executable), Unix attributes, deflate level 9. Two builds from the same index give the
same bytes.

Only the standard library is imported; pip runs in subprocesses.
"""

from __future__ import annotations

import argparse
import ast
import csv
import io
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 has no tomllib; pip vendors the same parser (tomli)
    from pip._vendor import tomli as tomllib

__all__ = [
    "PLATFORMS",
    "BuildError",
    "Dependency",
    "Distribution",
    "Project",
    "Result",
    "build",
    "find_python",
    "main",
    "read_project",
    "report",
    "stage",
    "write_zip",
]

ROOT = Path(__file__).resolve().parent.parent
FUNCTION_DIR = ROOT / "function"
PYPROJECT = ROOT / "pyproject.toml"
FIND_PYTHON = ROOT / ".ci" / "find-python"

#: The FC runtime: CPython 3.10 on x86_64 Debian 10 (glibc 2.28), so manylinux2014 (glibc 2.17) wheels.
PYTHON_VERSION = "3.10"
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64")

#: The earliest time a zip entry can carry.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

#: Never copied from a source tree: bytecode (the build compiles its own), the project's build metadata.
_SKIP_DIRS = frozenset({"__pycache__"})
_SKIP_SUFFIXES = (".pyc", ".pyo")
_SKIP_DIR_SUFFIXES = (".egg-info",)

#: Distributions a dependency requires that nothing shipped imports, with the import names that prove it.
#: ``aliyun-mns-sdk`` requires ``pycryptodome`` (10.8 MiB, 284 files), but no module of ``mns`` (nor of any
#: other shipped distribution) imports ``Crypto``: the build checks that on every run.
LEFT_OUT: dict[str, tuple[str, ...]] = {"pycryptodome": ("Crypto", "Cryptodome")}
#: Shipped folders that do import a :data:`LEFT_OUT` distribution, but only behind a guard that makes its
#: absence harmless: ``alibabacloud_oss_v2/__init__.py`` imports its ``crypto`` package inside
#: ``try: … except ImportError: pass`` (client-side encryption, which the ledger does not use; every
#: signed request uses hashlib and hmac only).
GUARDED: tuple[str, ...] = ("alibabacloud_oss_v2/crypto/",)

#: In the dependencies, what never runs: their test folders and pytest plugins, stubs and C/Cython sources.
_UNUSED_DIRS = frozenset({"tests", "test"})
_UNUSED_FILES = frozenset({"conftest.py", "pytest_plugin.py"})
_UNUSED_SUFFIXES = (".pyi", ".pyx", ".pxd", ".c", ".h")

_MIB = 1024 * 1024
_NETWORK_ERROR = re.compile(
    r"NewConnectionError|Max retries exceeded|Temporary failure in name resolution|Name or service not known"
    r"|Network is unreachable|Connection refused|timed out|ProxyError|Could not fetch URL"
    r"|No matching distribution found|Could not find a version that satisfies",
)
_PURE_WHEEL = re.compile(r"-py3(\.py\d+)*-none-any\.whl$|-py2\.py3-none-any\.whl$")


class BuildError(RuntimeError):
    """The package cannot be built; the message says why and what to do."""


@dataclass(frozen=True)
class Project:
    """What ``pyproject.toml`` says about the distribution."""

    name: str
    version: str
    dependencies: tuple[str, ...]


@dataclass(frozen=True)
class Dependency:
    """One distribution of the resolved runtime dependency tree (step 1)."""

    name: str
    version: str
    url: str
    requested: bool
    requires: tuple[str, ...] = ()

    @property
    def is_wheel(self) -> bool:
        return self.url.split("#", 1)[0].endswith(".whl")


@dataclass
class Distribution:
    """Size of one thing in the zip: an installed distribution, or the function's own code."""

    name: str
    version: str
    top_level: set[str] = field(default_factory=set)
    files: int = 0
    size: int = 0
    compressed: int = 0
    direct: bool = False


@dataclass(frozen=True)
class Result:
    """A built zip and what went into it."""

    path: Path
    size: int
    project: Project
    dependencies: tuple[Dependency, ...]
    built_from_sdist: tuple[str, ...]
    seconds: float


def read_project(pyproject: Path = PYPROJECT, init: Path | None = None) -> Project:
    """Name, version and runtime dependencies; the version must equal ``ebs_failover.__version__``."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    project = data["project"]
    init = init or FUNCTION_DIR / "ebs_failover" / "__init__.py"
    code_version = _dunder_version(init)
    if code_version != project["version"]:
        raise BuildError(
            f"version mismatch: {pyproject.name} says {project['version']!r}, "
            f"{init.relative_to(init.parents[2])} says __version__ = {code_version!r}"
        )
    return Project(str(project["name"]), str(project["version"]), tuple(project.get("dependencies", ())))


def _dunder_version(init: Path) -> str | None:
    """``__version__`` of a module, read without importing it (its imports may not be installed)."""
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    return None


def find_python(version: str = PYTHON_VERSION) -> str:
    """Path of a working ``python<version>`` (``.ci/find-python``)."""
    found = subprocess.run([str(FIND_PYTHON), version], capture_output=True, text=True, check=False)
    if found.returncode != 0 or not found.stdout.strip():
        raise BuildError(
            f"no python{version} found ({found.stderr.strip()}); the FC runtime is python{version}"
        )
    return found.stdout.strip()


def _pip(python: str, *args: str, what: str) -> None:
    """Run ``python -m pip ...``; on failure raise a :class:`BuildError` with pip's own last words."""
    command = [python, "-m", "pip", "--disable-pip-version-check", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        offline = _NETWORK_ERROR.search(done.stderr or "")
        hint = " The build needs network access to the package index: is it reachable?" if offline else ""
        raise BuildError(
            f"{what} failed (pip exit {done.returncode}).{hint}\n$ {shlex.join(command)}\n{tail}"
        )


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def resolve(python: str, requirements: Sequence[str], work: Path) -> tuple[Dependency, ...]:
    """Step 1: what an ordinary ``pip install`` on Python 3.10 picks, sdists included."""
    report = work / "resolution.json"
    _pip(
        python,
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--report",
        str(report),
        *requirements,
        what="resolving the runtime dependencies",
    )
    found = json.loads(report.read_text(encoding="utf-8"))
    return tuple(
        Dependency(
            name=_canonical(item["metadata"]["name"]),
            version=item["metadata"]["version"],
            url=item["download_info"]["url"],
            requested=bool(item.get("requested")),
            requires=tuple(_requirement_names(item["metadata"].get("requires_dist", []))),
        )
        for item in found["install"]
    )


def _requirement_names(requires_dist: Sequence[str]) -> Iterator[str]:
    """Names in ``Requires-Dist``, minus the extras' (markers are settled by what was resolved)."""
    for line in requires_dist:
        requirement, _, marker = line.partition(";")
        if "extra" not in marker:
            yield _canonical(re.split(r"[\s<>=!~\[(]", requirement.strip(), maxsplit=1)[0])


def build_sdist_wheels(python: str, dependencies: Sequence[Dependency], wheelhouse: Path) -> tuple[str, ...]:
    """Step 2: a wheel for each dependency that resolved to an sdist; only pure-Python ones are allowed."""
    built: list[str] = []
    for dep in dependencies:
        if dep.is_wheel:
            continue
        before = set(wheelhouse.glob("*.whl"))
        _pip(
            python,
            "wheel",
            "--no-deps",
            "--use-pep517",  # an isolated setuptools+wheel: a legacy setup.py needs `wheel` installed
            "--no-binary",
            dep.name,
            "--wheel-dir",
            str(wheelhouse),
            f"{dep.name}=={dep.version}",
            what=f"building a wheel of {dep.name} {dep.version} from its sdist",
        )
        for wheel in sorted(set(wheelhouse.glob("*.whl")) - before):
            if not _PURE_WHEEL.search(wheel.name):
                raise BuildError(
                    f"{dep.name} {dep.version} has no wheel on the index and its sdist built {wheel.name}, "
                    "which is not pure Python: a wheel compiled here is not manylinux. Pin a version that "
                    "ships a cp310 manylinux2014_x86_64 wheel."
                )
        built.append(f"{dep.name}=={dep.version}")
    return tuple(built)


def install(python: str, pins: Sequence[Dependency], wheelhouse: Path, target: Path) -> None:
    """Step 3: install exactly ``pins`` (``--no-deps``) as FC-platform wheels into ``target``."""
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    _pip(
        python,
        "install",
        "--quiet",
        "--target",
        str(target),
        *platforms,
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--no-deps",
        "--no-compile",
        "--no-warn-script-location",
        "--find-links",
        str(wheelhouse),
        *(f"{d.name}=={d.version}" for d in pins),
        what=f"installing the runtime dependencies as cp310 {PLATFORMS[0]} wheels",
    )


#: Parts of function/ the function never imports on FC: the fakes (tests, demo and benchmarks use
#: them from the installed package), whose pytest plugin would need pytest, and the command line.
_NOT_SHIPPED = ("ebs_failover/testing/", "ebs_failover/cli/")


def _walk(root: Path, *, bytecode: bool = False) -> Iterator[Path]:
    """Every file under ``root`` that ships, in a stable order; ``__pycache__`` too when ``bytecode``."""
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if (bytecode or d not in _SKIP_DIRS) and not d.endswith(_SKIP_DIR_SUFFIXES)
        )
        for name in sorted(filenames):
            if bytecode or not name.endswith(_SKIP_SUFFIXES):
                yield Path(directory, name)


def _prune(target: Path) -> None:
    """Drop what pip leaves that the function never runs (see the module's docstring)."""
    shutil.rmtree(target / "bin", ignore_errors=True)
    for cache in sorted(target.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)
    for compiled in target.rglob("*.py[co]"):
        compiled.unlink()
    # Test folders inside a package only (depth 2 and more): a top-level ``tests`` would be a
    # distribution's own package, which something may import.
    for folder in sorted(target.glob("*/**/"), reverse=True):
        inside = len(folder.relative_to(target).parts) >= 2
        if inside and folder.name in _UNUSED_DIRS and folder.is_dir():
            shutil.rmtree(folder)
    for path in list(target.rglob("*")):
        if path.is_file() and (path.name in _UNUSED_FILES or path.name.endswith(_UNUSED_SUFFIXES)):
            path.unlink()


_IMPORT = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


def _check_left_out(folder: Path) -> None:
    """Stop the build if a shipped module imports a distribution of :data:`LEFT_OUT` after all."""
    banned = {name: dist for dist, names in LEFT_OUT.items() for name in names}
    found = sorted(
        f"{path.relative_to(folder).as_posix()} imports {match} ({banned[match]})"
        for path in folder.rglob("*.py")
        if not path.relative_to(folder).as_posix().startswith(GUARDED)
        for match in set(_IMPORT.findall(path.read_text(encoding="utf-8", errors="replace")))
        if match in banned
    )
    if found:
        raise BuildError(
            "a distribution left out of the zip is imported after all; remove it from LEFT_OUT in "
            "tools/package.py: " + "; ".join(found[:5])
        )


#: Run by the target interpreter in the staged folder: each JSON Schema of the parse stage compiled to a
#: module of ``ebs_failover/triggers/_compiled/`` by the zip's own fastjsonschema
#: (``_schema.compiled_source``).
_COMPILE_SCHEMAS = """
import pathlib, sys
sys.path.insert(0, sys.argv[1])
from ebs_failover.triggers import _schema
out = pathlib.Path(sys.argv[1], "ebs_failover", "triggers", "_compiled")
out.mkdir()
(out / "__init__.py").write_text('\"\"\"The JSON Schemas compiled by tools/package.py.\"\"\"\\n')
names = sorted(path.stem for path in _schema.SCHEMA_DIR.glob("*.json"))
for name in names:
    (out / f"{name}.py").write_text(_schema.compiled_source(name), encoding="utf-8")
print(len(names))
"""


def compile_schemas(python: str, folder: Path) -> int:
    """Compile the parse stage's JSON Schemas to Python in the staged ``folder`` (a cold start then neither
    compiles one nor reads fastjsonschema's compiler); return how many."""
    done = subprocess.run(
        [python, "-I", "-S", "-B", "-c", _COMPILE_SCHEMAS, str(folder)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise BuildError(f"compiling the JSON Schemas for Python {PYTHON_VERSION} failed:\n{tail}")
    return int(done.stdout.strip() or 0)


def compile_bytecode(python: str, folder: Path) -> int:
    """Compile every ``.py`` of ``folder`` for ``python`` (see the module's docstring); return the count."""
    done = subprocess.run(
        [
            python,
            "-m",
            "compileall",
            "-q",
            "--invalidation-mode",
            "checked-hash",
            "-s",
            str(folder),
            str(folder),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise BuildError(f"compiling the staged tree for Python {PYTHON_VERSION} failed:\n{tail}")
    return sum(1 for _ in folder.rglob("__pycache__/*.pyc"))


def stage(
    folder: Path, *, project: Project | None = None, python: str | None = None
) -> tuple[tuple[Dependency, ...], tuple[str, ...]]:
    """Put exactly what the zip holds into the empty ``folder``.

    Returns the resolved dependencies and the ``name==version`` of those built from an sdist.
    """
    project = project or read_project()
    python = python or find_python()
    work = Path(tempfile.mkdtemp(prefix="ebs-failover-package-"))
    try:
        dependencies = resolve(python, project.dependencies, work)
        wheelhouse = work / "wheelhouse"
        wheelhouse.mkdir()
        built = build_sdist_wheels(python, dependencies, wheelhouse)
        site = work / "site"
        install(python, [d for d in dependencies if d.name not in LEFT_OUT], wheelhouse, site)
        _prune(site)
        _check_left_out(site)
        own = {
            f.relative_to(FUNCTION_DIR)
            for f in _walk(FUNCTION_DIR)
            if not f.relative_to(FUNCTION_DIR).as_posix().startswith(_NOT_SHIPPED)
        }
        deps = {f.relative_to(site) for f in _walk(site)}
        clash = sorted({p.parts[0] for p in own} & {p.parts[0] for p in deps})
        if clash:
            raise BuildError(f"a dependency installs {clash} at the zip root, where function/ puts its own")
        for source, relative in [(FUNCTION_DIR, p) for p in own] + [(site, p) for p in deps]:
            dest = folder / relative
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / relative, dest)
        _check_left_out(folder)
        compile_schemas(python, folder)
        compile_bytecode(python, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dependencies, built


def write_zip(folder: Path, out: Path) -> Path:
    """Zip ``folder`` deterministically into ``out`` (written aside, then renamed into place)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    entries = sorted(
        (PurePosixPath(*f.relative_to(folder).parts).as_posix(), f) for f in _walk(folder, bytecode=True)
    )
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            executable = path.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
            info.create_system = 3  # Unix, so that the mode above is honoured when unzipped
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    partial.replace(out)
    return out


def build(out_dir: Path, *, python: str | None = None) -> Result:
    """Stage and zip; the zip is ``<out_dir>/<name>-<version>.zip``."""
    started = time.perf_counter()
    project = read_project()
    with tempfile.TemporaryDirectory(prefix="ebs-failover-stage-") as staged:
        dependencies, built = stage(Path(staged), project=project, python=python)
        path = write_zip(Path(staged), out_dir / f"{project.name}-{project.version}.zip")
    return Result(path, path.stat().st_size, project, dependencies, built, time.perf_counter() - started)


def sizes(archive: Path, project: Project) -> list[Distribution]:
    """Bytes per distribution in the zip (unpacked and compressed), largest first; ours is one row."""
    with zipfile.ZipFile(archive) as opened:
        infos = opened.infolist()
        owners: dict[str, Distribution] = {}
        for info in infos:
            if info.filename.endswith(".dist-info/RECORD"):
                meta = info.filename.split("/", 1)[0][: -len(".dist-info")]
                name, _, version = meta.partition("-")
                dist = Distribution(_canonical(name), version)
                for row in csv.reader(io.StringIO(opened.read(info).decode("utf-8"))):
                    if row and not row[0].startswith(".."):
                        owners[row[0]] = dist
    requested = {_canonical(re.split(r"[\s<>=!~;\[(]", d, maxsplit=1)[0]) for d in project.dependencies}
    ours = Distribution(f"{project.name} (function/)", project.version)
    rows: dict[str, Distribution] = {}
    for info in infos:
        dist = owners.get(_source_of(info.filename), ours)
        rows.setdefault(dist.name, dist)
        dist.files += 1
        dist.size += info.file_size
        dist.compressed += info.compress_size
        top = info.filename.split("/", 1)[0]
        if not top.endswith(".dist-info"):  # a package folder, or a module: x.py, x.cpython-310-….so
            dist.top_level.add(top if "/" in info.filename else top.split(".", 1)[0])
        dist.direct = dist.direct or dist.name in requested
    return sorted(rows.values(), key=lambda d: (-d.size, d.name))


def _source_of(name: str) -> str:
    """The ``.py`` a ``__pycache__/<module>.cpython-310.pyc`` was compiled from (its owner's RECORD names
    the source only); any other name unchanged."""
    folder, _, file = name.rpartition("__pycache__/")
    if not file.endswith(".pyc") or (folder and not folder.endswith("/")):
        return name
    return folder + file.split(".", 1)[0] + ".py"


def _human(size: int) -> str:
    return f"{size / _MIB:.2f} MiB" if size >= _MIB else f"{size / 1024:.1f} KiB"


def report(result: Result) -> str:
    """The zip, its size, and the dependency tree by distribution (largest first) as a text table."""
    rows = sizes(result.path, result.project)
    total = sum(r.size for r in rows)
    ours = [r for r in rows if r.name.endswith("(function/)")]
    deps = [r for r in rows if r not in ours]
    lines = [
        f"zip: {result.path}",
        f"size: {result.size:,} bytes ({result.size / _MIB:.2f} MiB) compressed; "
        f"{total:,} bytes ({total / _MIB:.2f} MiB) unpacked, {sum(r.files for r in rows):,} files",
        f"built in {result.seconds:.1f} s for CPython {PYTHON_VERSION} {PLATFORMS[0]}",
    ]
    if result.built_from_sdist:
        lines.append(f"built from sdist (no wheel on the index): {', '.join(result.built_from_sdist)}")
    with zipfile.ZipFile(result.path) as opened:
        compiled = sum(1 for name in opened.namelist() if name.endswith(".pyc"))
    lines.append(f"bytecode: {compiled:,} modules compiled for CPython {PYTHON_VERSION} (checked-hash)")
    for dist in (d for d in result.dependencies if d.name in LEFT_OUT):
        by = sorted(d.name for d in result.dependencies if dist.name in d.requires)
        lines.append(
            f"left out: {dist.name} {dist.version}, required by {', '.join(by) or 'nothing'}, "
            f"never imported ({', '.join(LEFT_OUT[dist.name])})"
        )
    header = ("distribution", "version", "import names", "files", "unpacked", "in zip", "share")
    table = [
        (
            ("* " if r.direct else "  ") + r.name,
            r.version,
            ", ".join(sorted(r.top_level)) or "-",
            f"{r.files:,}",
            _human(r.size),
            _human(r.compressed),
            f"{100 * r.size / total:.1f}%" if total else "-",
        )
        for r in rows
    ]
    dep_size = sum(r.size for r in deps)
    dep_compressed = sum(r.compressed for r in deps)
    footer = [
        (
            "  dependencies (all)",
            "",
            "",
            f"{sum(r.files for r in deps):,}",
            _human(dep_size),
            _human(dep_compressed),
            f"{100 * dep_size / total:.1f}%" if total else "-",
        ),
        *[
            (
                "  " + r.name,
                r.version,
                "",
                f"{r.files:,}",
                _human(r.size),
                _human(r.compressed),
                f"{100 * r.size / total:.1f}%" if total else "-",
            )
            for r in ours
        ],
    ]
    widths = [max(len(row[i]) for row in (header, *table, *footer)) for i in range(len(header))]
    right = {3, 4, 5, 6}

    def fmt(row: Sequence[str]) -> str:
        cells = (
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines += ["", fmt(header), rule, *map(fmt, table), rule, *map(fmt, footer)]
    lines.append("* = listed in [project] dependencies; the rest are pulled in by them")
    lines += ["", *_trees(result.dependencies, {r.name: r for r in deps}, total)]
    return "\n".join(lines)


def _trees(dependencies: Sequence[Dependency], sized: dict[str, Distribution], total: int) -> list[str]:
    """Each direct dependency with everything it pulls in (a shared dependency counts in every tree)."""
    requires = {d.name: [r for r in d.requires if r in sized] for d in dependencies}
    rows: list[tuple[int, int, str, int]] = []
    for direct in (d.name for d in dependencies if d.requested):
        seen: set[str] = set()
        todo = [direct]
        while todo:
            name = todo.pop()
            if name not in seen and name in sized:
                seen.add(name)
                todo.extend(requires.get(name, ()))
        size = sum(sized[n].size for n in seen)
        rows.append((size, sum(sized[n].compressed for n in seen), direct, len(seen)))
    rows.sort(key=lambda r: (-r[0], r[2]))
    width = max([len(r[2]) for r in rows] + [len("direct dependency")])
    lines = [
        f"{'direct dependency':<{width}}  {'dists':>5}  {'unpacked':>9}  {'in zip':>9}  {'share':>5}",
        f"{'-' * width}  {'-' * 5}  {'-' * 9}  {'-' * 9}  {'-' * 5}",
    ]
    lines += [
        f"{name:<{width}}  {count:>5}  {_human(size):>9}  {_human(packed):>9}  "
        f"{100 * size / total if total else 0:>4.1f}%"
        for size, packed, name, count in rows
    ]
    lines.append("(each with its whole dependency tree; a dependency shared by several counts in each)")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    args = parser.parse_args(argv)
    try:
        result = build(args.out.resolve())
    except BuildError as error:
        print(f"package: {error}", file=sys.stderr)
        return 1
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
