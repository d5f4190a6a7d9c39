"""What every ``ebs-failover`` verb shares: exit codes, the one-line error, reading an event, the environment.

Imported by ``ebs_failover.cli`` at start-up, so it imports nothing beyond the standard library and the
package's pure modules; the verbs import the rest when they run.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ebs_failover import redact
from ebs_failover.errors import CliError

if TYPE_CHECKING:
    from ebs_failover.cloud.credentials import Credentials
    from ebs_failover.config import Settings

PROG = "ebs-failover"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

#: Variables that send the handler's calls out of the process; dropped while the embedded fake runs.
OUTSIDE_WORLD = ("EBS_ENDPOINT", "EBS_PROTOCOL", "NOTIFY_TARGETS", "MNS_ENDPOINT")

#: Environment variables whose values never appear in anything the command prints.
SECRET_VARIABLES = ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN", "CALLBACK_TOKEN")

#: The config file ``check``, ``token``, ``invoke`` and ``drill`` read when none is named (``--config``) and
#: it exists in the current directory: the demo's settings and the embedded fake's seed.
DEFAULT_CONFIG = Path("events") / "config.json"


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
    return _env(data, path)


def _env(data: Mapping[str, Any], path: Path) -> dict[str, str]:
    env = data.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise CliError(f"cannot load config {path}: 'env' must map variable names to strings", EXIT_FAILED)
    return {str(name): value for name, value in env.items()}


def event_name(source: str) -> str:
    return "<stdin>" if source == "-" else source


@dataclass(frozen=True)
class ConfigFile:
    """A config file like events/config.json: ``env``, the function's settings (under the environment's own:
    a variable the environment sets wins), and ``seed``, the embedded fake's pairs. No file: nothing."""

    path: Path | None = None
    data: Any = None
    env: dict[str, str] = field(default_factory=dict)

    def defaults(self) -> dict[str, str]:
        """The file's settings that the environment does not set (those it does win)."""
        return {name: value for name, value in self.env.items() if name not in os.environ}

    def tell(self, used: Mapping[str, str]) -> None:
        """Say on stderr which settings came from the file (when some did)."""
        if used:
            note(f"settings from {self.path} (the environment's own win): {', '.join(sorted(used))}")


def read_config(option: str | None, *, default: bool) -> ConfigFile:
    """``--config FILE``; without it (and ``default``), ./events/config.json when it exists; else none.
    A missing FILE is a usage error (2), one that is not a JSON object with an ``env`` of strings, 1."""
    path = Path(option) if option else DEFAULT_CONFIG if default and DEFAULT_CONFIG.is_file() else None
    if path is None:
        return ConfigFile()
    data = load_json(path, "config")
    if not isinstance(data, dict):
        raise CliError(f"cannot load config {path}: expected a JSON object with 'env' (and 'seed')")
    return ConfigFile(path, data, _env(data, path))


def load_settings(config: ConfigFile | None = None) -> Settings:
    """The function's settings from this process's environment, over those of ``config`` (the file's
    settings the environment does not set); a bad value is one line, exit 1."""
    from ebs_failover import config as settings_module

    used = config.defaults() if config is not None else {}
    try:
        return settings_module.current({**used, **os.environ})
    except settings_module.ConfigError as error:
        source = f" (from {config.path})" if config is not None and error.variable in used else ""
        raise CliError(f"bad configuration: {error}{source}", EXIT_FAILED) from None


def warn(settings: Settings) -> None:
    """The settings' warnings (an old spelling, an unknown variable), each ``ebs-failover: warning: …``."""
    for warning in settings.warnings:
        say(f"warning: {warning}")


# -- the cloud's credentials ------------------------------------------------------------------------

#: How a service says the credentials themselves are wrong (EBS, FC 2.0 and 3.0, OSS, MNS, EventBridge):
#: what no retry and no other input fixes, only other credentials.
_REFUSED = {
    "InvalidAccessKeyId": "the AccessKey ID is unknown or disabled",
    "InvalidAccessKeyID": "the AccessKey ID is unknown or disabled",
    "SignatureDoesNotMatch": "the AccessKey secret does not match the AccessKey ID",
    "SignatureNotMatch": "the AccessKey secret does not match the AccessKey ID",
    "IncompleteSignature": "the request could not be signed with these credentials",
    "InvalidSecurityToken": "the STS token is wrong, expired or missing",
    "SecurityTokenExpired": "the STS token has expired",
}

_CREDENTIALS_HELP = (
    "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN "
    "for an STS token)"
)


def refused_credentials(code: str | None) -> str | None:
    """What ``code`` says is wrong with the credentials (``InvalidAccessKeyId.NotFound``, ``Signature…``,
    ``InvalidSecurityToken.Expired``…), or None when it is not about them."""
    if not code:
        return None
    return next((why for prefix, why in _REFUSED.items() if code.split(".")[0] == prefix), None)


def refused(what: str, code: str, why: str) -> CliError:
    """One line, exit 2: ``what`` failed because the credentials were refused (``code``, ``why``)."""
    return CliError(
        f"{what}: the credentials were refused: {code} ({why}); check ALIBABA_CLOUD_ACCESS_KEY_ID, "
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN",
        EXIT_USAGE,
    )


def cloud_credentials(verb: str) -> Credentials:
    """The credentials a verb that calls the cloud signs with: ``ALIBABA_CLOUD_*``, else those the SDK's
    default chain finds (a CLI profile, ~/.alibabacloud/credentials.ini, an ECS RAM role…). None
    anywhere, or a key without its secret: one line, exit 2, before any call (never an SDK traceback)."""
    from ebs_failover.cloud.credentials import Credentials

    key_id = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID", "").strip()
    secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "").strip()
    token = os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN", "").strip()
    if key_id and secret:
        return Credentials(key_id, secret, token or None)
    if key_id or secret:
        have, missing = (
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET")
            if key_id
            else ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_ACCESS_KEY_ID")
        )
        raise CliError(f"{verb} needs credentials: {have} is set but {missing} is not", EXIT_USAGE)
    found = _default_chain()
    if found is None:
        raise CliError(
            f"{verb} needs credentials: {_CREDENTIALS_HELP}; the SDK's default chain (a CLI profile, "
            "~/.alibabacloud/credentials.ini, an ECS RAM role) found none either",
            EXIT_USAGE,
        )
    return found


def _default_chain() -> Credentials | None:
    """What the SDK's default credential chain finds, or None (its errors and log lines kept quiet)."""
    from ebs_failover.cloud.credentials import Credentials

    try:
        from alibabacloud_credentials.client import Client
    except ImportError:  # pragma: no cover - a dependency of every EBS client
        return None
    with sdk_logging_silenced():
        try:
            found = Client().get_credential()
        except Exception:  # CredentialException, and whatever a provider raises on its way
            return None
    key_id, secret, token = Credentials.fields(found)
    if not key_id or not secret:
        return None
    redact.REDACTOR.register((secret, token))
    return Credentials(key_id, secret, token)


@contextmanager
def sdk_logging_silenced() -> Iterator[None]:
    """No log record during a cloud call: fc2 logs failed requests' headers (Authorization, the security
    token) on the root logger, darabonba every request's under ``DEBUG=sdk``, and the credentials chain a
    traceback for each provider that found nothing, each on a handler of its own (stderr).

    Unconfigured, Python's last-resort handler would print fc2's to stderr; darabonba has its own handler.
    """
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


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
