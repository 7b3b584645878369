"""Per-key token buckets (in memory, per server process)."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self, per_minute: int, burst: int):
        self.per_minute, self.burst = per_minute, burst
        self._buckets: dict[int, tuple[float, float]] = {}  # client id -> (tokens, last time)
        self._lock = threading.Lock()

    def check(self, client_id: int, per_minute: int | None = None) -> float:
        """Take one token. Returns 0 when allowed, else the seconds to wait before retrying."""
        rate = per_minute or self.per_minute
        cap = float(max(1, min(self.burst, rate)))
        refill = rate / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client_id, (cap, now))
            tokens = min(cap, tokens + (now - last) * refill)
            if tokens >= 1.0:
                self._buckets[client_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[client_id] = (tokens, now)
            return (1.0 - tokens) / refill
