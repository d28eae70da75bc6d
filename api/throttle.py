"""防暴力破解: repeated failed key presentations lock out that key id, and that client address, for a while.

After ``limit`` failures within ``window`` seconds for one key id (or ``address_limit`` for one client address),
every further presentation, even with the right secret, gets 429 with ``Retry-After`` until the lockout ends.
A success clears the key id's failures. Counts live in this process's memory: each worker counts on its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from api.errors import ApiError
from config.settings import Settings

MAX_TRACKED = 100_000
"""Keys and addresses remembered at once; beyond it the stalest are forgotten, so memory stays bounded."""


class KeyLockedOut(ApiError):  # noqa: N818 - reads as the state the caller is in
    """Too many failed key presentations for this key id or address; ``Retry-After`` says when to try again."""

    status, slug, title = 429, "too-many-failed-keys", "Too many failed key presentations"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            f"Too many failed API key presentations; try again in {retry_after_seconds} s.",
            headers={"Retry-After": str(retry_after_seconds)},
        )
        self.retry_after_seconds = retry_after_seconds


class FailedKeyThrottle:
    """Sliding-window failure counts per key id and per address, and the lockouts they lead to."""

    def __init__(
        self,
        limit: int,
        address_limit: int,
        window_seconds: float,
        lockout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.address_limit = address_limit
        self.window_seconds = window_seconds
        self.lockout_seconds = lockout_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], float] = time.monotonic) -> FailedKeyThrottle:
        """The throttle the settings describe (``XINYI_KEY_FAILURE_*``, ``XINYI_KEY_LOCKOUT_SECONDS``)."""
        return cls(settings.key_failure_limit, settings.key_failure_address_limit,
                   settings.key_failure_window_seconds, settings.key_lockout_seconds, clock)

    @staticmethod
    def _subjects(key_id: str | None, address: str | None) -> list[str]:
        return [s for s in (f"key:{key_id}" if key_id else None, f"addr:{address}" if address else None) if s]

    def check(self, key_id: str | None, address: str | None) -> None:
        """Raise KeyLockedOut while the key id or the address is locked out."""
        now = self._clock()
        with self._lock:
            ends = [self._locked_until.get(s, 0.0) for s in self._subjects(key_id, address)]
        remaining = max(ends, default=0.0) - now
        if remaining > 0:
            raise KeyLockedOut(max(1, math.ceil(remaining)))

    def record_failure(self, key_id: str | None, address: str | None) -> bool:
        """Count one failure; True when it started a lockout."""
        now = self._clock()
        started = False
        with self._lock:
            if len(self._failures) > MAX_TRACKED:
                self._forget_stale(now)
            for subject in self._subjects(key_id, address):
                failures = self._failures.setdefault(subject, deque())
                failures.append(now)
                while failures and failures[0] <= now - self.window_seconds:
                    failures.popleft()
                limit = self.limit if subject.startswith("key:") else self.address_limit
                if len(failures) >= limit:
                    self._locked_until[subject] = now + self.lockout_seconds
                    failures.clear()
                    started = True
        return started

    def record_success(self, key_id: str) -> None:
        """The right secret for ``key_id``: its earlier failures no longer count."""
        with self._lock:
            self._failures.pop(f"key:{key_id}", None)

    def _forget_stale(self, now: float) -> None:
        self._failures = {s: f for s, f in self._failures.items() if f and f[-1] > now - self.window_seconds}
        self._locked_until = {s: t for s, t in self._locked_until.items() if t > now}
        if len(self._failures) > MAX_TRACKED:  # still too many: forget the tenth that failed longest ago
            for subject in sorted(self._failures, key=lambda s: self._failures[s][-1])[: MAX_TRACKED // 10]:
                del self._failures[subject]
