"""What every ``ebs-failover`` verb shares: exit codes, the one-line error, reading an event, the environment.

Imported by ``ebs_failover.cli`` at start-up, so it imports nothing beyond the standard library and the
package's pure modules; the verbs import the rest when they run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

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
