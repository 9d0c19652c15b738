"""A small per-process cache with a time to live, for lookups on every request (API keys,
programs) that change rarely.

Staleness is bounded by the TTL: a key revoked through the API is dropped from this
process's cache at once; other processes stop accepting it within `ttl` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Thread-safe mapping whose entries expire `ttl` seconds after they were stored."""

    def __init__(
        self, ttl: float, *, max_size: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._max_size = max_size
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires <= self._clock():
                del self._entries[key]
                return None
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            if len(self._entries) >= self._max_size:
                self._entries.clear()  # crude but bounded; the cache refills on demand
            self._entries[key] = (self._clock() + self._ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
