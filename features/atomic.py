"""Replace a whole output folder in one step, so that a crash at any moment leaves one of the two complete; and
name each staging folder after the process that owns it, so that the next run removes what a killed one left.

Two renames (old aside, new in place) leave a moment with no folder at all: a process killed there leaves
readers nothing, and a pipeline whose stamps say "built" never rebuilds it. On Linux one
``renameat2(RENAME_EXCHANGE)`` call swaps the two names atomically; elsewhere, or on a file system without it,
the two renames remain, the old folder restored if the second fails.

A folder made by :func:`staging_folder` is hidden beside its target and named
``.<target>.<kind>-<host>-<pid>-<start>-<token>``: the machine, the process id and that process's start time
(which tells a reused process id from the owner). Making one first removes the folders of the same target whose
owner is gone (:func:`remove_stale`); a folder of a live process, or of another machine, is never touched.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import logging
import os
import re
import shutil
import socket
import sys
import uuid
from pathlib import Path

logger = logging.getLogger(__name__)

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_OWNED = re.compile(r"^\.(?P<target>.+)\.(?P<kind>[a-z]+)-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-(?P<start>\d+)"
                    r"-[0-9a-f]{12}$")


def _host() -> str:
    """A short tag of this machine's name (a data folder on shared storage may be written from several)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, /proc); 0 where /proc is absent; None if none runs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None
        try:  # no /proc (macOS): whether the process exists at all is all one can tell
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return 0
        return 0
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22 (starttime), counted after the command name


def staging_folder(target: Path, kind: str = "staging") -> Path:
    """Make a new empty hidden folder beside ``target`` owned by this process, after removing stale ones.

    ``kind`` (lower-case letters: ``staging``, ``partitions`` …) says what the folder is for.
    """
    if not re.fullmatch(r"[a-z]+", kind):
        raise ValueError(f"kind must be lower-case letters, got {kind!r}")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target)
    pid = os.getpid()
    folder = target.parent / f".{target.name}.{kind}-{_host()}-{pid}-{_start_time(pid) or 0}-{uuid.uuid4().hex[:12]}"
    folder.mkdir()
    return folder


def remove_stale(target: Path) -> list[Path]:
    """Remove the hidden folders :func:`staging_folder` made for ``target`` whose owning process is gone.

    Kept: folders of a running process (the same id and start time), of another machine, and anything not
    named by :func:`staging_folder`. Returns what was removed.
    """
    target = Path(target)
    if not target.parent.is_dir():
        return []
    host, removed = _host(), []
    for path in target.parent.iterdir():
        owned = _OWNED.match(path.name)
        if owned is None or owned["target"] != target.name or owned["host"] != host or not path.is_dir():
            continue
        started = _start_time(int(owned["pid"]))
        if started is not None and (started == 0 or started == int(owned["start"])):
            continue  # its owner still runs (or cannot be told from another process: left alone)
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            logger.info("removed %s, left by process %s, which is gone", path, owned["pid"])
            removed.append(path)
    return removed


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
    retired = staging_folder(target, "retired")  # owned by this process: removed by a later run if killed here
    os.replace(target, retired)
    try:
        os.replace(staging, target)
    except OSError:
        os.replace(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)
