"""The store's primitives, and the ledger's public operations written once over them.

A :class:`Store` knows three things, each one request (or a page of one): create an object if no object
has its key, read one, list the keys under a prefix. Everything the function asks of its ledger is built
from them in :class:`Ledger`, whatever the store (Powertools' ``BasePersistenceLayer`` is the model).
A store raises :class:`~ebs_failover.errors.LedgerUnavailable` when it could not answer, and
:class:`~ebs_failover.errors.LedgerUnusable` when it answered in a way that breaks the ledger's promise
(an overwrite it did not refuse).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from ebs_failover.errors import LedgerUnavailable

from .records import Record, incident_prefix

__all__ = ["Claim", "Ledger", "Store"]


class Store(Protocol):
    """Where the records live: create-if-absent, read, list a prefix."""

    #: The ledger's prefix inside the store (``ebs-failover/`` by default), ending with ``/``.
    prefix: str

    def create(self, key: str, body: bytes) -> bool:
        """Write ``body`` at ``key`` unless an object is there: True when this call wrote it (or the object
        there is this very body, the echo of an earlier attempt of the same write), False when another
        writer's object is there."""
        ...

    def read(self, key: str) -> bytes | None:
        """The object at ``key``, or None when there is none."""
        ...

    def keys(self, prefix: str) -> list[str]:
        """Every key that starts with ``prefix``, in key order (all pages)."""
        ...


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of appending a record: ``won`` when this delivery wrote it; otherwise ``held`` is the
    record another delivery wrote at that key (None when it could not be read)."""

    won: bool
    held: Record | None = None


class Ledger:
    """The incident ledger over one :class:`Store`: append records, read an incident's."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def prefix(self) -> str:
        return self.store.prefix

    def append(self, record: Record) -> Claim:
        """Write ``record`` where it belongs unless a record is there already: the claim of that step."""
        key = record.key(self.prefix)
        if self.store.create(key, record.to_json()):
            return Claim(True)
        return Claim(False, self._read(key))

    def keys(self, incident: str) -> list[str]:
        """The keys of ``incident``'s records: one List, which says which steps were taken."""
        return self.store.keys(incident_prefix(self.prefix, incident))

    def records(self, incident: str, *, kinds: Iterable[str] | None = None) -> list[Record]:
        """``incident``'s records (of ``kinds`` only, when given), each read: one List, then one read each."""
        wanted = frozenset(kinds) if kinds is not None else None
        found: list[Record] = []
        for key in self.keys(incident):
            parts = Record.parts(key, self.prefix)
            if parts is None or (wanted is not None and parts[2] not in wanted):
                continue
            record = self._read(key)
            if record is not None:
                found.append(record)
        return found

    def incidents(self) -> list[str]:
        """Every incident the ledger holds records of (one List of every record key: for history)."""
        seen: dict[str, None] = {}
        for key in self.store.keys(self.prefix):
            parts = Record.parts(key, self.prefix)
            if parts is not None:
                seen.setdefault(parts[0])
        return list(seen)

    def read(self, key: str) -> Record | None:
        """The record at ``key``, or None when there is none."""
        return self._read(key)

    def _read(self, key: str) -> Record | None:
        raw = self.store.read(key)
        if raw is None:
            return None
        try:
            return Record.from_json(raw)
        except (ValueError, KeyError, TypeError) as error:
            raise LedgerUnavailable("read", f"the record at {key} cannot be read ({error})") from error
