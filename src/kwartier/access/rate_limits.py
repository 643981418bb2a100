"""Fair use of the API: a token bucket per client and lane (issue 6; reference/data-access.md "limits").

Rules:
- the normal lane allows a burst of ``capacity`` calls and ``rate`` calls per second after it; a call
  beyond it is answered 429 with ``Retry-After`` = seconds until one token is back (rounded up);
- history exports run on their own lane with its own (smaller) bucket and a bounded worker pool, so a
  large pull can never take the normal lane's capacity.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """One token bucket per key (thread-safe); time comes from the caller (seconds, monotonic)."""

    def __init__(self, rate: float, capacity: int) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a rate limit needs a positive rate and a capacity of at least 1")
        self.rate = rate
        self.capacity = capacity
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float) -> int:
        """Take one token for ``key``: 0 when allowed, else the seconds to wait (``Retry-After``)."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(self.capacity), now)
            bucket.tokens = min(float(self.capacity), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0
            return max(1, math.ceil((1 - bucket.tokens) / self.rate))
