"""``features.partitions_in_memory.memory_reused``: memory freed during an in-memory build is reused without
fresh page faults, and the C library's defaults (memory handed back) return afterwards.

Measured in a fresh child process: the allocator's state is process-wide, and what earlier tests in this
process freed would decide where a block comes from."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from pathlib import Path

import pytest

BLOCK = 16 * 2**20  # above glibc's default mmap threshold, below the one held while a build runs
PAGES = BLOCK // 4096
REPO = Path(__file__).resolve().parents[2]

CHILD = f"""
import json, resource
from features.partitions_in_memory import memory_reused

def faults_of_second_block():
    # minor page faults of this thread when a block is written again after the same size was freed
    first = b"x" * {BLOCK}
    del first
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    second = b"y" * {BLOCK}
    faults = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before
    del second
    return faults

with memory_reused():
    inside = faults_of_second_block()
after = faults_of_second_block()
print(json.dumps({{"inside": inside, "after": after}}))
"""


def _glibc() -> bool:
    try:
        return bool(ctypes.CDLL("libc.so.6").gnu_get_libc_version)
    except (OSError, AttributeError):
        return False


@pytest.mark.skipif(not _glibc(), reason="memory_reused tunes glibc's allocator only")
def test_freed_memory_is_reused_inside_and_handed_back_after() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, text=True, check=True,
                          timeout=120)
    faults = json.loads(done.stdout.strip().splitlines()[-1])
    assert faults["inside"] < PAGES // 4  # the freed block's pages were reused
    assert faults["after"] > PAGES // 2  # the defaults are back: a freed block went back to the system
