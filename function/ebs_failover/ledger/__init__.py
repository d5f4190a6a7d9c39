"""The incident ledger: what earlier deliveries of an incident did, kept where every delivery can read it.

An incident is one trigger identity; FC's retries and duplicates carry it for hours. The ledger holds its
records, each written once and never rewritten (an append-only store whose "create if absent" is the only
atomic step), so that a delivery can claim a step (this delivery calls Failover; this delivery tells this
channel this news) and read what the others did.

- :mod:`.records`: :class:`Record`, a frozen dataclass with a schema version, written as one JSON object.
- :mod:`.store`: the :class:`Store` primitives (create if absent, read, list a prefix) and
  :class:`Ledger`, the public operations, written once over them (AWS Lambda Powertools'
  ``persistence/base.py`` is the model).
- :mod:`.memory`: a store in memory (tests, the demo, a single process).
- :mod:`.oss`: a store on OSS, ``LEDGER=oss://<bucket>[/<prefix>]``; the OSS SDK is imported only there.

The errors are :mod:`ebs_failover.errors`' ``LedgerError`` family.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .records import SCHEMA_VERSION, Kind, Record
from .store import Claim, Ledger, Store

if TYPE_CHECKING:
    from ebs_failover.cloud.credentials import Credentials
    from ebs_failover.config import LedgerPlace

__all__ = ["SCHEMA_VERSION", "Claim", "Kind", "Ledger", "Record", "Store", "open_ledger"]


def open_ledger(place: LedgerPlace, region: str, credentials: Callable[[], Credentials | None]) -> Ledger:
    """The ledger ``LEDGER`` names, on OSS (the SDK imported now, not before): the bucket in
    ``LEDGER_REGION``, else in ``region`` (the function's)."""
    from .oss import OssStore

    store = OssStore(
        place.bucket,
        place.prefix,
        region=place.region or region,
        credentials=credentials,
        endpoint=place.endpoint,
    )
    return Ledger(store)
