"""Settings from the environment, read and validated on every invocation.

Every setting the function reads is named in :data:`VARIABLES` (and the
credentials FC passes, in :data:`CREDENTIAL_VARIABLES`); a bad value
is a :class:`ConfigError` that names the variable and what was expected, never
a silent default. The handler turns it into a ``failed`` result for every
invocation until the function is reconfigured. The variables are read on
every invocation, so what the result says is what the environment holds now;
the last environment's settings are kept, as validating a ``FAILOVER_TARGETS``
of hundreds of pairs takes about half a millisecond.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .cloud.credentials import Credentials
from .errors import ConfigError
from .notify.channels import KINDS, Channel, parse_channels
from .strictjson import DuplicateKey, unique_pairs
from .triggers import level, resource_id

__all__ = [
    "CREDENTIAL_VARIABLES",
    "FAMILIES",
    "LEVELS",
    "VARIABLES",
    "ConfigError",
    "Settings",
    "current",
    "load",
    "unknown_variables",
]

#: Alarm levels from least to most severe.
LEVELS = ("INFO", "WARN", "CRITICAL")

#: Event types that act by default (CloudMonitor system events and EventBridge disk events
#: that mean the primary disk cannot serve I/O).
DEFAULT_EVENT_TYPES = (
    "Disk:Stalled:Executing",
    "ecs:Disk:Stalled:Executing",
    "ebs:Disk:DiskIOHang",
)

#: Every environment variable read, with its meaning (the README's table lists the same; a test checks).
VARIABLES: dict[str, str] = {
    "FAILOVER_MODE": "dry-run (default) or live; only live calls FailoverDiskReplicaPair",
    "FAILOVER_TARGETS": (
        "JSON object: resource id (d-…, i-…) -> a target or a list of targets, each a pair (pair-…) or a "
        "replica group (pg-…); the only pairs and groups ever touched"
    ),
    "FAILOVER_REGION": "region of the secondary disks (default: the function's own region)",
    "FAILOVER_ZONE": "zone of the secondary disks; needed when both sites of a pair or group share a region",
    "FAILOVER_MIN_LEVEL": "lowest alarm level that acts: INFO, WARN or CRITICAL (default CRITICAL)",
    "FAILOVER_EVENT_TYPES": "comma-separated event types that act (default: "
    + ",".join(DEFAULT_EVENT_TYPES)
    + ")",
    "FAILOVER_TIME_MARGIN": (
        "seconds kept free before the function timeout for the result's publishing (default 8: one MNS "
        "publish may take 5)"
    ),
    "FAILOVER_VERIFY_SECONDS": (
        "seconds to watch an accepted failover until the pair is failovered (default 30; 0: do not watch)"
    ),
    "FAILOVER_MAX_DATA_LOSS": (
        "seconds: refuse an alarm's failover whose recovery point is older than this (default none: no "
        "limit; 0: no loss accepted)"
    ),
    "FAILOVER_MAX_EVENT_AGE": (
        "seconds: refuse an alarm or event older than this as stale (default 3600; none: no limit; 0, "
        "the old spelling of none, is accepted with a warning)"
    ),
    "FAILOVER_MAX_TARGETS": (
        "an alarm or event that maps more targets than this is refused whole (default 20; a manual request "
        "may raise it for itself with maxTargets)"
    ),
    "FAILOVER_CONCURRENCY": "Failover calls in flight at once (default 10)",
    "FAILOVER_CALLS_PER_SECOND": (
        "calls per second per EBS API, after a first burst of FAILOVER_CONCURRENCY (default 10; keep it "
        "below your account's quota, which the console and Terraform share)"
    ),
    "EBS_ENDPOINT": (
        "EBS endpoint override, a host[:port] or a URL, e.g. ebs-vpc.cn-shanghai.aliyuncs.com or "
        "http://127.0.0.1:8080 (a URL's scheme sets EBS_PROTOCOL)"
    ),
    "LEDGER": (
        "the incident ledger, oss://<bucket>[/<prefix>] (prefix default ebs-failover/); unset: no ledger"
    ),
    "LEDGER_REGION": "the ledger bucket's region (default: the function's region)",
    "OSS_ENDPOINT": (
        "OSS endpoint override for the ledger, a URL or a host (a VPC endpoint, or 127.0.0.1:PORT for a fake)"
    ),
    "EBS_PROTOCOL": "https (default, or EBS_ENDPOINT's scheme) or http, for EBS_ENDPOINT",
    "NOTIFY_TARGETS": (
        "comma-separated channels for the result event, each <kind>:<name>, optionally [outcome,…]: "
        "mns:<topic>, eventbridge:<bus>, dingtalk:<name>, lark:<name>, wecom:<name>, webhook:<name>"
    ),
    "NOTIFY_<NAME>_URL": "a robot's or webhook's URL, for the channel named <name> (secret)",
    "NOTIFY_<NAME>_SECRET": "a robot's signing secret, or a webhook's HMAC key (secret)",
    "MNS_ENDPOINT": (
        "MNS endpoint override, a URL or a host (default: https://<account>.mns.<region>.aliyuncs.com)"
    ),
    "EVENTBRIDGE_ENDPOINT": (
        "EventBridge endpoint override, a host or a URL (default: the SDK's own, "
        "eventbridge-console.<region>.aliyuncs.com)"
    ),
    "CALLBACK_TOKEN": "secret the CloudMonitor callback URL must carry as ?token=…",
    "CALLBACK_ALLOWED_IPS": (
        "comma-separated networks allowed to call the HTTP trigger, or cloudmonitor-intl (default: any)"
    ),
    "LOG_EVENT": "true to log the raw event (default false)",
    "SERVICE_NAME": "service key of every log line (default ebs-failover)",
}

#: The credentials FC's python3.12 runtime passes in the environment (python3.10 passes them in the
#: context). Read with the settings, so that an invocation reads the environment once.
CREDENTIAL_VARIABLES = (
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
)

_TARGET_ID = re.compile(r"^(pair|pg)-[A-Za-z0-9-]{1,60}$")
_REGION = re.compile(r"^[a-z]{2,}(-[a-z0-9]+){1,3}$")
_ZONE = re.compile(r"^[a-z]{2,}(-[a-z0-9]+){1,4}$")


@dataclass(frozen=True, slots=True)
class LedgerPlace:
    """Where the incident ledger lives: an OSS bucket, a prefix in it (ending with ``/``), the bucket's
    region (None: the function's) and an endpoint override."""

    bucket: str
    prefix: str
    region: str | None
    endpoint: str | None


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting, parsed and validated (see :data:`VARIABLES` for their meaning)."""

    mode: str
    targets: Mapping[str, tuple[str, ...]]
    region: str | None
    zone: str | None
    min_level: str
    event_types: frozenset[str]
    time_margin: float
    verify_seconds: float
    max_data_loss: float | None
    max_event_age: float | None
    max_targets: int
    concurrency: int
    calls_per_second: float
    ebs_endpoint: str | None
    ebs_protocol: str
    #: ``LEDGER`` / ``LEDGER_REGION`` / ``OSS_ENDPOINT``: where the incident ledger lives (None: nowhere).
    ledger: LedgerPlace | None
    notify_targets: tuple[Channel, ...]
    mns_endpoint: str | None
    eventbridge_endpoint: str | None
    callback_token: str | None = field(repr=False)
    callback_networks: tuple[Any, ...]
    log_event: bool
    service: str
    #: ``ALIBABA_CLOUD_*`` as they are (even incomplete: the redactor masks whatever is there).
    environment_secrets: tuple[str | None, ...] = field(default=(None, None, None), repr=False)
    #: Values accepted in an old spelling, and variables of the function's families (``FAILOVER_*``,
    #: ``NOTIFY_*``…) it does not read, each a sentence the function logs as a warning.
    warnings: tuple[str, ...] = ()

    @property
    def environment_credentials(self) -> Credentials | None:
        """The ``ALIBABA_CLOUD_*`` credentials, when the key and the secret are both set."""
        key, secret, token = self.environment_secrets
        return Credentials(key, secret, token or None) if key and secret else None

    @property
    def live(self) -> bool:
        return self.mode == "live"

    @property
    def configured_targets(self) -> frozenset[str]:
        """Every pair and group id ``FAILOVER_TARGETS`` names."""
        return frozenset(target for targets in self.targets.values() for target in targets)


def load(environ: Mapping[str, str]) -> Settings:
    """Parse and validate every setting; raise :class:`ConfigError` on the first bad one."""
    ebs_endpoint, ebs_protocol = _ebs_endpoint(environ)
    channels = notify_targets(environ)
    return Settings(
        mode=_choice(environ, "FAILOVER_MODE", ("dry-run", "live"), "dry-run"),
        targets=_targets(environ.get("FAILOVER_TARGETS", "{}")),
        region=_region(environ.get("FAILOVER_REGION")),
        zone=_zone(environ.get("FAILOVER_ZONE"), environ.get("FAILOVER_REGION")),
        min_level=_min_level(environ.get("FAILOVER_MIN_LEVEL")),
        event_types=_event_types(environ.get("FAILOVER_EVENT_TYPES")),
        time_margin=_seconds(environ, "FAILOVER_TIME_MARGIN", 8.0, 600.0),
        verify_seconds=_seconds(environ, "FAILOVER_VERIFY_SECONDS", 30.0, 600.0),
        max_data_loss=_limit(environ, "FAILOVER_MAX_DATA_LOSS", None),
        max_event_age=_limit(environ, "FAILOVER_MAX_EVENT_AGE", 3600.0, zero_is_none=True),
        max_targets=_count(environ, "FAILOVER_MAX_TARGETS", 20, 1000),
        concurrency=_count(environ, "FAILOVER_CONCURRENCY", 10, 100),
        calls_per_second=_rate(environ, "FAILOVER_CALLS_PER_SECOND", 10.0, 1000.0),
        ebs_endpoint=ebs_endpoint,
        ledger=_ledger(environ),
        ebs_protocol=ebs_protocol,
        notify_targets=channels,
        mns_endpoint=_endpoint(environ, "MNS_ENDPOINT"),
        eventbridge_endpoint=_endpoint(environ, "EVENTBRIDGE_ENDPOINT"),
        callback_token=environ.get("CALLBACK_TOKEN") or None,
        callback_networks=_networks(environ.get("CALLBACK_ALLOWED_IPS", "")),
        log_event=_choice(environ, "LOG_EVENT", ("true", "false"), "false") == "true",
        service=environ.get("SERVICE_NAME") or "ebs-failover",
        warnings=limit_warnings(environ) + unknown_variables(environ, channels),
        environment_secrets=tuple(environ.get(name) for name in CREDENTIAL_VARIABLES),
    )


_READ = (*VARIABLES, *CREDENTIAL_VARIABLES)
#: The prefixes of the function's own variables: every variable named so is read, the channels' own
#: (``NOTIFY_<NAME>_URL`` …, names of the user's choosing) to use, any other to warn of as unknown.
FAMILIES = ("FAILOVER_", "NOTIFY_", "LEDGER", "OSS_", "EBS_", "MNS_", "EVENTBRIDGE_", "CALLBACK_")


def current(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings the environment holds now (``os.environ`` unless ``environ`` is given)."""
    env = os.environ if environ is None else environ
    read = {name: env[name] for name in _READ if name in env}
    read.update((name, value) for name, value in env.items() if name.upper().startswith(FAMILIES))
    return _settings(tuple(sorted(read.items())))


@functools.lru_cache(maxsize=1)
def _settings(values: tuple[tuple[str, str], ...]) -> Settings:
    """:func:`load` of these variables (a :class:`ConfigError` is not kept: raised anew)."""
    return load(dict(values))


def _choice(environ: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in allowed:
        raise ConfigError(name, "one of " + ", ".join(allowed), raw)
    return value


def _targets(raw: str) -> dict[str, tuple[str, ...]]:
    name = "FAILOVER_TARGETS"
    try:
        data = json.loads(raw or "{}", object_pairs_hook=unique_pairs)
    except DuplicateKey as duplicate:
        raise ConfigError(name, "each resource id once", duplicate.key) from None
    except (ValueError, RecursionError):
        raise ConfigError(name, 'a JSON object such as {"d-…": "pair-…"}', raw) from None
    if not isinstance(data, dict):
        raise ConfigError(name, 'a JSON object such as {"d-…": "pair-…"}', raw)
    targets: dict[str, tuple[str, ...]] = {}
    for resource, pairs in data.items():
        if resource_id(resource) != resource:
            raise ConfigError(
                name, "disk (d-…) or instance (i-…) ids as keys, as alarms and events name them", resource
            )
        listed = [pairs] if isinstance(pairs, str) else pairs
        if not isinstance(listed, list) or not listed or not all(isinstance(p, str) for p in listed):
            raise ConfigError(
                name, f"a pair or group id, or a non-empty list of them, for {resource}", str(pairs)
            )
        for pair in listed:
            if not _TARGET_ID.match(pair):
                raise ConfigError(name, f"pair ids (pair-cn-…) or group ids (pg-…) for {resource}", pair)
        targets[resource] = tuple(dict.fromkeys(listed))
    return targets


def _min_level(raw: str | None) -> str:
    if raw is None or raw.strip() == "":
        return "CRITICAL"
    found = level(raw)
    if found is None:
        raise ConfigError("FAILOVER_MIN_LEVEL", "one of INFO, WARN (or WARNING), CRITICAL, any case", raw)
    return found


def _region(raw: str | None) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    if not _REGION.match(raw.strip()):
        raise ConfigError("FAILOVER_REGION", "a region id such as cn-shanghai", raw)
    return raw.strip()


def _zone(raw: str | None, region: str | None) -> str | None:
    """A zone id such as cn-hangzhou-h (or ap-southeast-1a): its region's id and more, in FAILOVER_REGION
    when that is set."""
    if raw is None or raw.strip() == "":
        return None
    zone = raw.strip()
    if not _ZONE.match(zone):
        raise ConfigError("FAILOVER_ZONE", "a zone id such as cn-hangzhou-h", raw)
    home = (region or "").strip()
    if home and not re.fullmatch(re.escape(home) + r"-?[a-z0-9]{1,3}", zone):
        raise ConfigError("FAILOVER_ZONE", f"a zone of FAILOVER_REGION {home}", raw)
    return zone


#: OSS's bucket names: 3 to 63 lowercase letters, digits and hyphens, starting and ending alphanumeric.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_LEDGER_EXPECTED = "oss://<bucket>[/<prefix>], e.g. oss://my-dr-ledger or oss://my-dr-ledger/ebs-failover/"


def _ledger(environ: Mapping[str, str]) -> LedgerPlace | None:
    raw = (environ.get("LEDGER") or "").strip()
    if not raw:
        return None
    if not raw.startswith("oss://"):
        raise ConfigError("LEDGER", _LEDGER_EXPECTED, raw)
    bucket, _, prefix = raw.removeprefix("oss://").partition("/")
    if not _BUCKET.match(bucket):
        raise ConfigError("LEDGER", f"a bucket name (3-63 of a-z, 0-9, -): {_LEDGER_EXPECTED}", raw)
    prefix = prefix.strip("/")
    region = (environ.get("LEDGER_REGION") or "").strip() or None
    if region is not None and not _REGION.match(region):
        raise ConfigError("LEDGER_REGION", "a region id such as cn-shanghai", region)
    return LedgerPlace(
        bucket=bucket,
        prefix=f"{prefix}/" if prefix else "ebs-failover/",
        region=region,
        endpoint=_endpoint(environ, "OSS_ENDPOINT"),
    )


_SCHEMES = ("https", "http")


def _endpoint_parts(name: str, raw: str) -> tuple[str | None, str]:
    """``(scheme or None, host[:port])`` of an endpoint variable: a host (``ebs.cn-shanghai.aliyuncs.com``,
    ``127.0.0.1:8080``) or a URL with nothing after the host (``https://…``, ``http://127.0.0.1:8080``)."""
    expected = "a host[:port] or a URL such as https://HOST[:PORT], with no path"
    value = raw.strip()
    scheme: str | None = None
    if "://" in value:
        scheme = value.split("://", 1)[0].lower()
        if scheme not in _SCHEMES:
            raise ConfigError(name, f"{expected} (http or https)", raw)
    try:
        parts = urlsplit(value if scheme else f"//{value}")
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a port that is not a number, a bracket left open
        raise ConfigError(name, expected, raw) from None
    host = parts.netloc
    extra = parts.path not in ("", "/") or "?" in value or "#" in value
    if not parts.hostname or not port_ok or "@" in host or extra:
        raise ConfigError(name, expected, raw)
    return scheme, host


def _endpoint(environ: Mapping[str, str], name: str) -> str | None:
    """An endpoint override as its client takes it: a URL stays a URL (``scheme://host[:port]``), a host a
    host (the client adds https); a path, a query or another scheme is a :class:`ConfigError`."""
    raw = environ.get(name) or ""
    if not raw.strip():
        return None
    scheme, host = _endpoint_parts(name, raw)
    return f"{scheme}://{host}" if scheme else host


def _ebs_endpoint(environ: Mapping[str, str]) -> tuple[str | None, str]:
    """``EBS_ENDPOINT`` as the SDK takes it (``host[:port]``) and the protocol: a URL's scheme, unless
    ``EBS_PROTOCOL`` says otherwise (a :class:`ConfigError` naming both), else ``EBS_PROTOCOL`` (https)."""
    protocol = _choice(environ, "EBS_PROTOCOL", _SCHEMES, "https")
    raw = environ.get("EBS_ENDPOINT") or ""
    if not raw.strip():
        return None, protocol
    scheme, host = _endpoint_parts("EBS_ENDPOINT", raw)
    if scheme is None:
        return host, protocol
    explicit = (environ.get("EBS_PROTOCOL") or "").strip()
    if explicit and protocol != scheme:
        raise ConfigError(
            "EBS_PROTOCOL", f"{scheme} as EBS_ENDPOINT's URL {raw.strip()!r} says, or unset", explicit
        )
    return host, scheme


#: How alike a name must be to a known one to be suggested (0.75: FAILOVER_VERIFY for FAILOVER_VERIFY_SECONDS,
#: not EBS_REGION for LEDGER_REGION).
_NEAR = 0.75


def unknown_variables(environ: Mapping[str, str], channels: tuple[Channel, ...] = ()) -> tuple[str, ...]:
    """A warning for each variable of the function's :data:`FAMILIES` that it does not read, naming the
    nearest it does (``FAILOVER_MAX_DATALOSS``: did you mean ``FAILOVER_MAX_DATA_LOSS``?). A channel's own
    variables (``NOTIFY_<NAME>_URL``, ``_SECRET``) are read for the robots and webhooks NOTIFY_TARGETS
    names."""
    channel_variables = {
        f"NOTIFY_{channel.name.upper().replace('-', '_')}_{suffix}"
        for channel in channels
        if KINDS.get(channel.kind, (False, False))[0]
        for suffix in ("URL", "SECRET")
    }
    known = {name for name in VARIABLES if "<" not in name} | channel_variables
    found = []
    for name in sorted(environ):
        upper = name.upper()
        if name in known or not upper.startswith(FAMILIES):
            continue
        if upper in known:
            found.append(f"unknown variable {name}: did you mean {upper}? (names are case-sensitive)")
            continue
        near = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=_NEAR)
        if near:
            found.append(f"unknown variable {name}: did you mean {near[0]}?")
        elif upper.startswith("NOTIFY_") and upper.endswith(("_URL", "_SECRET")):
            found.append(
                f"unknown variable {name}: NOTIFY_TARGETS names no robot or webhook channel that reads it"
            )
        else:
            found.append(f"unknown variable {name}: the function reads no such variable")
    return tuple(found)


def _event_types(raw: str | None) -> frozenset[str]:
    if raw is None or raw.strip() == "":
        return frozenset(DEFAULT_EVENT_TYPES)
    types = frozenset(item.strip() for item in raw.split(",") if item.strip())
    if not types:
        raise ConfigError("FAILOVER_EVENT_TYPES", "a comma-separated list of event types", raw)
    return types


def _seconds(environ: Mapping[str, str], name: str, default: float, highest: float) -> float:
    return _bounded(
        environ, name, default, float, 0.0, highest, "a number of seconds", f"0 to {highest:.0f} seconds"
    )


def _count(environ: Mapping[str, str], name: str, default: int, highest: int) -> int:
    expected = f"a whole number from 1 to {highest}"
    return _bounded(environ, name, default, int, 1, highest, expected, expected)


def _rate(environ: Mapping[str, str], name: str, default: float, highest: float) -> float:
    within = f"0.1 to {highest:.0f} calls per second"
    return _bounded(environ, name, default, float, 0.1, highest, "a number of calls per second", within)


_Number = TypeVar("_Number", int, float)


def _bounded(
    environ: Mapping[str, str],
    name: str,
    default: _Number,
    parse: Callable[[str], _Number],
    lowest: _Number,
    highest: _Number,
    unreadable: str,
    out_of_range: str,
) -> _Number:
    """The number ``name`` holds, from ``lowest`` to ``highest`` (unset or blank: ``default``)."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(name, unreadable, raw) from None
    if not lowest <= value <= highest:  # NaN fails too
        raise ConfigError(name, out_of_range, raw)
    return value


#: The longest limit a setting takes: a hundred years.
_CENTURY = 100 * 365 * 86400.0


#: How every limit that can be switched off is switched off.
NO_LIMIT = "none"


def _limit(
    environ: Mapping[str, str], name: str, default: float | None, *, zero_is_none: bool = False
) -> float | None:
    """A limit in seconds, or ``none`` (no limit); unset is ``default``. 0 is the strictest limit, except
    where ``zero_is_none`` keeps an old spelling of ``none`` (warned about in :func:`limit_warnings`)."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    if raw.strip().lower() == NO_LIMIT:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(name, f"a number of seconds, or {NO_LIMIT} for no limit", raw) from None
    if not 0 <= value <= _CENTURY:  # NaN too
        raise ConfigError(name, f"0 to {_CENTURY:.0f} seconds, or {NO_LIMIT} for no limit", raw)
    if value == 0 and zero_is_none:
        return None
    return value


def limit_warnings(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The limits set in an old spelling that is still accepted."""
    raw = environ.get("FAILOVER_MAX_EVENT_AGE", "").strip()
    try:
        old = raw != "" and float(raw) == 0
    except ValueError:
        old = False
    if not old:
        return ()
    return (f"FAILOVER_MAX_EVENT_AGE=0 is read as {NO_LIMIT} (no limit): spell it {NO_LIMIT}",)


def _networks(raw: str) -> tuple[Any, ...]:
    if not raw.strip():
        return ()
    from .web.gate import parse_networks

    try:
        return parse_networks(raw)
    except ValueError:
        raise ConfigError(
            "CALLBACK_ALLOWED_IPS", "networks such as 47.74.206.0/26, or cloudmonitor-intl", raw
        ) from None


def notify_targets(environ: Mapping[str, str]) -> tuple[Channel, ...]:
    """The channels of ``NOTIFY_TARGETS``, with their ``NOTIFY_<NAME>_*`` variables (also read alone, to
    tell of a configuration error elsewhere)."""
    from .outcomes import OUTCOMES

    return parse_channels(environ.get("NOTIFY_TARGETS", ""), environ, frozenset(OUTCOMES))
