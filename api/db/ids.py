"""Time-ordered row ids: UUID version 7 (RFC 9562), whose first 48 bits are the creation time in milliseconds.

A stored score's id says when it was given, so a read of a score that retention has since deleted can be told
from an id that never existed (``api.retention``), and new rows land at the end of the primary-key index
instead of at a random place in it. Python 3.11 has no ``uuid.uuid7``; this is the RFC's layout.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

UUID7_VERSION = 7


def uuid7(at: datetime) -> uuid.UUID:
    """A version-7 UUID for the moment ``at`` (timezone-aware): 48 bits of Unix milliseconds, the version,
    74 random bits and the RFC variant."""
    millis = int(at.timestamp() * 1000)
    if not 0 <= millis < 2**48:
        raise ValueError(f"{at} is outside the range a version-7 UUID can carry")
    rand_a = int.from_bytes(os.urandom(2), "big") & 0xFFF  # 12 bits
    rand_b = int.from_bytes(os.urandom(8), "big") & (2**62 - 1)  # 62 bits
    return uuid.UUID(int=(millis << 80) | (UUID7_VERSION << 76) | (rand_a << 64) | (0b10 << 62) | rand_b)


def uuid7_time(value: uuid.UUID) -> datetime | None:
    """When a version-7 UUID was made (to the millisecond, UTC); None for any other version (older rows have
    random version-4 ids, which carry no time)."""
    if value.version != UUID7_VERSION or value.variant != uuid.RFC_4122:
        return None
    return datetime.fromtimestamp((value.int >> 80) / 1000, UTC)


def uuid7_now() -> uuid.UUID:
    """A version-7 UUID for now (a column default)."""
    return uuid7(datetime.now(UTC))
