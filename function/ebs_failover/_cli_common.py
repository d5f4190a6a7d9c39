"""What every ``ebs-failover`` verb shares: exit codes, the one-line error, reading an event, the environment.

Imported by ``ebs_failover.cli`` at start-up, so it imports nothing beyond the standard library's cheapest
modules; the verbs import the rest when they run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

# ``typing`` costs ~2 ms at import: the type checkers honour a local TYPE_CHECKING just as well.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .config import Settings

PROG = "ebs-failover"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

#: Variables that send the handler's calls out of the process; dropped while the embedded fake runs.
OUTSIDE_WORLD = ("EBS_ENDPOINT", "EBS_PROTOCOL", "NOTIFY_TARGETS", "MNS_ENDPOINT")

#: Environment variables whose values never appear in anything the command prints.
SECRET_VARIABLES = ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN", "CALLBACK_TOKEN")


class CliError(Exception):
    """The verb cannot go on: ``message`` becomes the one stderr line, ``code`` the exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def say(message: str) -> None:
    """One line on stderr: ``ebs-failover: <message>``, secrets masked, newlines folded."""
    print(f"{PROG}: {one_line(redact(message))}", file=sys.stderr, flush=True)


def note(message: str) -> None:
    """An informational line on stderr (stdout stays for the result)."""
    print(redact(message), file=sys.stderr, flush=True)


def one_line(message: str) -> str:
    return " ".join(message.split())


def redact(text: str) -> str:
    """``text`` with the value of every secret environment variable replaced by ``***``."""
    for name in SECRET_VARIABLES:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def read_event(source: str) -> bytes:
    """The raw bytes of EVENT: a file path, or ``-`` for stdin (exit 2 if it cannot be read)."""
    if source == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is not None:
            data: bytes = stream.read()
            return data
        return sys.stdin.read().encode("utf-8")
    from pathlib import Path

    path = Path(source)
    if path.is_dir():
        raise CliError(f"cannot read event {source}: it is a directory", EXIT_USAGE)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"cannot read event {source}: no such file", EXIT_USAGE) from None
    except OSError as error:
        raise CliError(f"cannot read event {source}: {error.strerror or error}", EXIT_USAGE) from None


def event_name(source: str) -> str:
    return "<stdin>" if source == "-" else source


def load_settings() -> Settings:
    """The function's settings from this process's environment; a bad value is one line, exit 1."""
    from . import config

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
