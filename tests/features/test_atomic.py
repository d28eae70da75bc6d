"""replace_folder: the new folder takes the old one's place in one step, and the old one is gone afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from features import atomic
from features.atomic import replace_folder


def _folder(path: Path, name: str) -> Path:
    path.mkdir()
    (path / name).write_text(name, encoding="utf-8")
    return path


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_new_folder_replaces_old_and_nothing_is_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      exchange: bool) -> None:
    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda first, second: False)
    target = _folder(tmp_path / "out", "old")
    staging = _folder(tmp_path / ".out.staging", "new")

    replace_folder(staging, target)

    assert [p.name for p in target.iterdir()] == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_first_output_is_moved_into_place(tmp_path: Path) -> None:
    staging = _folder(tmp_path / ".out.staging", "new")
    replace_folder(staging, tmp_path / "out")
    assert (tmp_path / "out" / "new").read_text(encoding="utf-8") == "new"
    assert not staging.exists()


def test_failed_second_rename_restores_the_old_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atomic, "_exchange", lambda first, second: False)
    target = _folder(tmp_path / "out", "old")
    with pytest.raises(OSError):
        replace_folder(tmp_path / "missing-staging", target)
    assert [p.name for p in target.iterdir()] == ["old"]
