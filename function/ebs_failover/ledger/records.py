"""The ledger's records: one step of one incident, written once as a JSON object.

A record's key says where it belongs and what it is, so that one List of an incident's prefix tells which
steps were taken without reading a body::

    <prefix>incidents/<incident>/<target or "-">/<kind>[/<name>]

``incident`` is the trigger identity, ``target`` a pair or group id (``-`` for the incident as a whole),
``name`` what tells records of one kind apart (a telling's state and channel). Each part is percent-quoted,
so no identity can add a level. The body carries the rest: when, and what was seen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args
from urllib.parse import quote, unquote

__all__ = ["INCIDENTS", "KINDS", "SCHEMA_VERSION", "Kind", "Record", "incident_prefix"]

#: The records' JSON shape; a reader refuses a newer one rather than misread it.
SCHEMA_VERSION = 1
#: The folder (under the ledger's prefix) of every incident's records.
INCIDENTS = "incidents/"

#: What a record records.
#:
#: - ``decision``: what this incident decided for a target (the ClientToken, the checks' verdict);
#: - ``failover``: a Failover call EBS accepted (request time, RequestId, data loss at that moment);
#: - ``verified``: the target seen ``failovered`` (when);
#: - ``drill_failure``: a drill's first failure (the news every later delivery repeats);
#: - ``telling`` / ``told`` / ``tell_failed``: a delivery claimed, made or failed to make the telling of
#:   one piece of news (a target's state) to one channel.
Kind = Literal["decision", "failover", "verified", "drill_failure", "telling", "told", "tell_failed"]
KINDS: tuple[str, ...] = get_args(Kind)

_NO_TARGET = "-"


def _part(text: str) -> str:
    return quote(text, safe="") or _NO_TARGET


def incident_prefix(prefix: str, incident: str) -> str:
    """The key prefix under which ``incident``'s records live."""
    return f"{prefix}{INCIDENTS}{_part(incident)}/"


@dataclass(frozen=True, slots=True)
class Record:
    """One step of one incident (see the module's docstring); ``data`` is read-only."""

    incident: str
    target: str
    kind: Kind
    at: float
    data: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""
    #: The delivery that wrote it (FC's request id): two deliveries' claims never have one body, so the
    #: echo of a retried write is told from another delivery's.
    by: str = ""
    schema: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    def key(self, prefix: str) -> str:
        """Where the record lives under the ledger's ``prefix``."""
        name = f"/{_part(self.name)}" if self.name else ""
        return f"{incident_prefix(prefix, self.incident)}{_part(self.target)}/{self.kind}{name}"

    def to_json(self) -> bytes:
        body = {
            "schema": self.schema,
            "incident": self.incident,
            "target": self.target,
            "kind": self.kind,
            "name": self.name,
            "by": self.by,
            "at": self.at,
            "data": dict(self.data),
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Record:
        """The record ``raw`` holds; ValueError when it is not one this version can read."""
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("a ledger record is a JSON object")
        schema = body.get("schema")
        if not isinstance(schema, int) or schema > SCHEMA_VERSION:
            raise ValueError(f"a ledger record of schema {schema!r}; this version reads {SCHEMA_VERSION}")
        data = body.get("data")
        return cls(
            incident=str(body["incident"]),
            target=str(body["target"]),
            kind=body["kind"],
            at=float(body["at"]),
            data=data if isinstance(data, dict) else {},
            name=str(body.get("name") or ""),
            by=str(body.get("by") or ""),
            schema=schema,
        )

    @staticmethod
    def parts(key: str, prefix: str) -> tuple[str, str, str, str] | None:
        """A record key's (incident, target, kind, name), read from the key alone (None: not a record's)."""
        if not key.startswith(prefix + INCIDENTS):
            return None
        pieces = key[len(prefix + INCIDENTS) :].split("/")
        if len(pieces) not in (3, 4) or pieces[2] not in KINDS:
            return None
        incident, target, kind = (unquote(piece) for piece in pieces[:3])
        name = unquote(pieces[3]) if len(pieces) == 4 else ""
        return incident, "" if target == _NO_TARGET else target, kind, name
