"""What every ``ebs-failover`` verb shares: exit codes, the one-line error, reading an event, the environment.

Imported by ``ebs_failover.cli`` at start-up, so it imports nothing beyond the standard library and the
package's pure modules; the verbs import the rest when they run.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ebs_failover import redact
from ebs_failover.errors import CliError

if TYPE_CHECKING:
    from ebs_failover.config import Settings

PROG = "ebs-failover"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

#: Variables that send the handler's calls out of the process; dropped while the embedded fake runs.
OUTSIDE_WORLD = ("EBS_ENDPOINT", "EBS_PROTOCOL", "NOTIFY_TARGETS", "MNS_ENDPOINT")

#: Environment variables whose values never appear in anything the command prints.
SECRET_VARIABLES = ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN", "CALLBACK_TOKEN")


def say(message: str) -> None:
    """One line on stderr: ``ebs-failover: <message>``, secrets masked, newlines folded."""
    print(f"{PROG}: {redact.one_line(masked(message))}", file=sys.stderr, flush=True)


def note(message: str) -> None:
    """An informational line on stderr (stdout stays for the result)."""
    print(masked(message), file=sys.stderr, flush=True)


def masked(text: str) -> str:
    """``text`` with every secret masked: those of the environment, and any the handler has seen."""
    redact.REDACTOR.register(os.environ.get(name) for name in SECRET_VARIABLES)
    return redact.REDACTOR.scrub_text(text)


def read_event(source: str) -> bytes:
    """The raw bytes of EVENT: a file path, or ``-`` for stdin (exit 2 if it cannot be read).

    At most one byte more than the function accepts is read: an event that long is rejected whole for
    its size, so the rest never matters, and ``check /dev/zero`` ends at once instead of filling memory.
    """
    from ebs_failover.triggers import MAX_EVENT_BYTES

    limit = MAX_EVENT_BYTES + 1
    if source == "-":
        stream = getattr(sys.stdin, "buffer", None)
        data = stream.read(limit) if stream is not None else sys.stdin.read(limit).encode("utf-8")[:limit]
        return _bounded(bytes(data), "<stdin>", limit)
    path = Path(source)
    if path.is_dir():
        raise CliError(f"cannot read event {source}: it is a directory", EXIT_USAGE)
    try:
        with path.open("rb") as opened:
            return _bounded(opened.read(limit), source, limit)
    except FileNotFoundError:
        raise CliError(f"cannot read event {source}: no such file", EXIT_USAGE) from None
    except OSError as error:
        raise CliError(f"cannot read event {source}: {error.strerror or error}", EXIT_USAGE) from None


def _bounded(data: bytes, name: str, limit: int) -> bytes:
    if len(data) >= limit:
        note(
            f"{name} is longer than {limit - 1} bytes, the most the function accepts: read its first {limit}"
        )
    return data


def load_json(path: Path, what: str) -> Any:
    """A JSON file the command was pointed at (``what``: seed, config...): exit 2 if it is missing, 1 if it
    is not JSON."""
    if not path.is_file():
        raise CliError(f"cannot read {what} {path}: no such file", EXIT_USAGE)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CliError(f"cannot load {what} {path}: {error}", EXIT_FAILED) from None


def seed_of(data: Any, path: Path) -> Mapping[str, Any]:
    """A fake-EBS seed: the file itself (``{"pairs": …}``), or the ``seed`` of a config file like
    events/config.json (whose ``env`` is the function's settings, see :func:`settings_of`)."""
    if isinstance(data, dict) and "pairs" not in data and isinstance(data.get("seed"), dict):
        data = data["seed"]
    if not isinstance(data, dict):
        raise CliError(f"cannot load seed {path}: expected a JSON object with pairs", EXIT_FAILED)
    return data


def settings_of(data: Any, path: Path) -> dict[str, str]:
    """The ``env`` of a config file like events/config.json (the settings its seed goes with), else none."""
    if not isinstance(data, dict) or "seed" not in data:
        return {}
    env = data.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise CliError(f"cannot load config {path}: 'env' must map variable names to strings", EXIT_FAILED)
    return {str(name): value for name, value in env.items()}


def event_name(source: str) -> str:
    return "<stdin>" if source == "-" else source


def load_settings() -> Settings:
    """The function's settings from this process's environment; a bad value is one line, exit 1."""
    from ebs_failover import config

    try:
        return config.current()
    except config.ConfigError as error:
        raise CliError(f"bad configuration: {error}", EXIT_FAILED) from None


@contextmanager
def patched_environ(values: Mapping[str, str], remove: Iterable[str] = ()) -> Iterator[None]:
    """Set ``values`` and unset ``remove`` in ``os.environ`` for the block; restore them afterwards."""
    names = set(values) | set(remove)
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in remove:
            os.environ.pop(name, None)
        os.environ.update(values)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class Stderr:
    """A file-like object that writes to whatever ``sys.stderr`` is at the time of the write.

    The handler's structlog logger keeps the stream it was configured with; this one follows
    ``sys.stderr`` (pytest's capture, a redirected stream) instead of holding on to a stale one.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()
