"""Replace a whole output folder in one step, so that a crash at any moment leaves one of the two complete.

Two renames (old aside, new in place) leave a moment with no folder at all: a process killed there leaves
readers nothing, and a pipeline whose stamps say "built" never rebuilds it. On Linux one
``renameat2(RENAME_EXCHANGE)`` call swaps the two names atomically; elsewhere, or on a file system without it,
the two renames remain, the old folder restored if the second fails.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import sys
import uuid
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap the names of two existing paths atomically; False where the system cannot (the caller falls back)."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(first), None, str(second))


def replace_folder(staging: Path, target: Path) -> None:
    """Put the complete folder ``staging`` where ``target`` is and remove the previous ``target``.

    Readers of ``target`` see the previous folder or the new one, never neither. The previous folder is
    removed afterwards under its hidden staging name; a crash before that leaves only a hidden leftover.
    """
    staging, target = Path(staging), Path(target)
    if not target.exists():
        os.replace(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now the previous output
        return
    retired = target.parent / f".{target.name}.retired-{uuid.uuid4().hex[:12]}"
    os.replace(target, retired)
    try:
        os.replace(staging, target)
    except OSError:
        os.replace(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)
