"""A ledger store in memory: one process's, for tests, the demo and the command line's embedded fakes."""

from __future__ import annotations

import threading

__all__ = ["MemoryStore"]


class MemoryStore:
    """The :class:`~.store.Store` primitives over a dict, under one lock (create-if-absent is atomic)."""

    def __init__(self, prefix: str = "ebs-failover/") -> None:
        self.prefix = prefix
        self.objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def create(self, key: str, body: bytes) -> bool:
        with self._lock:
            if key in self.objects:
                return self.objects[key] == body
            self.objects[key] = body
            return True

    def read(self, key: str) -> bytes | None:
        with self._lock:
            return self.objects.get(key)

    def keys(self, prefix: str) -> list[str]:
        with self._lock:
            return sorted(key for key in self.objects if key.startswith(prefix))
