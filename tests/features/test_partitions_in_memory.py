"""``features.partitions_in_memory.memory_reused``: memory freed during an in-memory build is reused without
fresh page faults, and the C library's defaults (memory handed back) return afterwards."""

from __future__ import annotations

import ctypes
import resource

import pytest

from features.partitions_in_memory import memory_reused

BLOCK = 16 * 2**20  # above glibc's default mmap threshold, below the one held while a build runs
PAGES = BLOCK // 4096


def _glibc() -> bool:
    try:
        return bool(ctypes.CDLL("libc.so.6").gnu_get_libc_version)
    except (OSError, AttributeError):
        return False


def _faults_of_second_block() -> int:
    """Minor page faults of this thread when a block is written again after the same size was freed."""
    first = b"x" * BLOCK
    del first
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    second = b"y" * BLOCK
    faults = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before
    del second
    return faults


@pytest.mark.skipif(not _glibc(), reason="memory_reused tunes glibc's allocator only")
def test_freed_memory_is_reused_inside_and_handed_back_after() -> None:
    with memory_reused():
        inside = _faults_of_second_block()
    after = _faults_of_second_block()
    assert inside < PAGES // 4  # the freed block's pages were reused
    assert after > PAGES // 2  # the defaults are back: a freed block went back to the system
