"""限流: a token bucket per bank account, so one bank's burst cannot starve the others.

Each bank account has a bucket of ``burst`` tokens refilled at ``rate`` tokens a second; a request takes one
token, a batch of scores one per enterprise. An empty bucket answers 429 with ``Retry-After``. The buckets live
in this process's memory: with several worker processes each holds its own (docs/api.md, rate limits).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from api.errors import RateLimited
from api.metrics import metrics_of

Clock = Callable[[], float]


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True)
class Decision:
    """Whether a request may go ahead and, if not, how many whole seconds until it could."""

    allowed: bool
    retry_after_seconds: int = 0


class TokenBuckets:
    """Token buckets by key (a bank account id); thread-safe, since sync handlers run in a thread pool.

    ``rate`` tokens a second refill each bucket up to ``burst``; ``clock`` (seconds, monotonic) is injectable so
    tests need not sleep. A rate of 0 disables limiting.
    """

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """False when the rate is 0 (no limit)."""
        return self.rate > 0

    def take(self, key: int, cost: int = 1) -> Decision:
        """Take ``cost`` tokens from ``key``'s bucket, or none at all if it holds fewer."""
        if not self.enabled:
            return Decision(True)
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._drop_full(now)
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            else:
                bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
                bucket.updated = now
            if cost <= bucket.tokens:
                bucket.tokens -= cost
                return Decision(True)
            missing = min(cost, self.burst) - bucket.tokens
        return Decision(False, max(1, math.ceil(missing / self.rate)))

    def _drop_full(self, now: float) -> None:
        """Forget buckets that have refilled completely: they behave exactly like new ones."""
        self._buckets = {
            k: b for k, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate < self.burst
        }


def charge(request: Request, account_id: int, cost: int = 1) -> None:
    """Take ``cost`` tokens from the bank account's bucket of the serving app; 429 with Retry-After if empty."""
    buckets: TokenBuckets = request.app.state.rate_limits
    decision = buckets.take(account_id, cost)
    if not decision.allowed:
        metrics_of(request).rate_limited.inc()
        raise RateLimited(
            f"This bank account may make {buckets.rate:g} requests a second (bursts of {buckets.burst}); "
            f"retry in {decision.retry_after_seconds} s.",
            decision.retry_after_seconds,
        )
