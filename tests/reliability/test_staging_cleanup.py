"""Staging folders left by a SIGKILLed process are removed by the next run for the same target, and only those:
a running owner's folder, another machine's, another target's and anything not made by staging_folder stay."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from features import atomic
from features.atomic import remove_stale, replace_folder, staging_folder

REPO = Path(__file__).resolve().parents[2]

OWNER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from features import atomic
    target, kind, exchange = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "exchange"
    folder = atomic.staging_folder(target, kind)
    (folder / "part-0.parquet").write_bytes(b"half written")
    if exchange:  # what replace_folder does first; the old output then waits under the staging name
        assert atomic._exchange(folder, target)
    print(folder, flush=True)
    time.sleep(600)
""")


def _owner(target: Path, kind: str = "staging", *, exchange: bool = False) -> tuple[subprocess.Popen[str], Path]:
    """A child process that makes a staging folder for ``target``, writes into it (and with ``exchange`` swaps it
    with ``target``) and waits; and that folder."""
    child = subprocess.Popen([sys.executable, "-c", OWNER, str(target), kind, "exchange" if exchange else "-"],
                             cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    return child, Path(child.stdout.readline().strip())


def _kill(child: subprocess.Popen[str]) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    if child.stdout:
        child.stdout.close()


@pytest.fixture
def owners() -> Iterator[list[subprocess.Popen[str]]]:
    """Children still running at the end of a test are killed."""
    children: list[subprocess.Popen[str]] = []
    yield children
    for child in children:
        if child.poll() is None:
            _kill(child)


def test_the_next_run_removes_what_a_killed_owner_left_and_keeps_a_running_owners(
        tmp_path: Path, owners: list[subprocess.Popen[str]]) -> None:
    target = tmp_path / "ingest"
    killed, left = _owner(target)
    running, in_use = _owner(target, "partitions")
    owners += [killed, running]
    _kill(killed)
    assert left.is_dir() and left.name.startswith(".ingest.staging-")

    mine = staging_folder(target)  # the next run

    assert not left.exists()
    assert in_use.is_dir() and (in_use / "part-0.parquet").exists()  # its owner still writes there
    assert mine.is_dir() and sorted(p.name for p in tmp_path.iterdir()) == sorted([in_use.name, mine.name])


def test_only_folders_of_the_same_target_on_this_machine_are_touched(
        tmp_path: Path, owners: list[subprocess.Popen[str]]) -> None:
    killed, left = _owner(tmp_path / "as_of=2026-10-31")
    owners.append(killed)
    _kill(killed)
    other_host = left.with_name(left.name.replace(f"-{atomic._host()}-", "-00000000-"))
    left.rename(other_host)
    killed, other_target = _owner(tmp_path / "as_of=2026-09-30")
    owners.append(killed)
    _kill(killed)
    unnamed = tmp_path / ".as_of=2026-10-31.staging-by-hand"  # not made by staging_folder: no owner to check
    unnamed.mkdir()

    assert remove_stale(tmp_path / "as_of=2026-10-31") == []
    assert other_host.is_dir() and other_target.is_dir() and unnamed.is_dir()
    assert remove_stale(tmp_path / "as_of=2026-09-30") == [other_target]


def test_a_reused_process_id_does_not_keep_a_dead_owners_folder(tmp_path: Path) -> None:
    """This process's id with another start time: the process that made it is gone, whatever runs now."""
    pid = os.getpid()
    started = atomic._start_time(pid)
    if not started:
        pytest.skip("process start times need /proc")
    reused = tmp_path / f".out.staging-{atomic._host()}-{pid}-{started - 1}-{'a' * 12}"
    reused.mkdir()
    live = staging_folder(tmp_path / "out")

    assert not reused.exists() and live.is_dir()
    assert remove_stale(tmp_path / "out") == []  # this process still runs: its own folder stays


def test_a_kill_while_the_old_output_is_removed_is_cleaned_by_the_next_replace(
        tmp_path: Path, owners: list[subprocess.Popen[str]]) -> None:
    """After the exchange the old output sits under the staging name until removed; killed there, it stays
    behind, hidden, and the next run's staging_folder removes it. The served folder is whole throughout."""
    target = tmp_path / "snapshot"
    target.mkdir()
    (target / "old").write_text("old", encoding="utf-8")
    if not atomic._exchange(target, target):  # probe: exchanging a name with itself is a no-op where supported
        pytest.skip("no renameat2(RENAME_EXCHANGE) here")
    child, staging = _owner(target, exchange=True)
    owners.append(child)
    _kill(child)
    assert (staging / "old").exists() and (target / "part-0.parquet").exists()

    again = staging_folder(target)
    (again / "newer").write_text("newer", encoding="utf-8")
    replace_folder(again, target)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot"]
    assert [p.name for p in target.iterdir()] == ["newer"]


def test_kind_must_be_a_plain_word(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lower-case letters"):
        staging_folder(tmp_path / "out", "stag-ing")
    assert list(tmp_path.iterdir()) == []
