"""The champion history: an alias moved by a run killed before it recorded the move is found and named."""

from __future__ import annotations

from models.history import record_champion, unrecorded_change


def test_an_alias_moved_but_not_recorded_is_named_with_its_action(tmp_path):
    path = tmp_path / "history.jsonl"
    assert unrecorded_change(path, "m", None) is None  # no champion, nothing to record
    first = unrecorded_change(path, "m", "1")
    assert first is not None and (first.action, first.version, first.previous) == ("register", "1", None)
    record_champion(path, first)
    assert unrecorded_change(path, "m", "1") is None  # history ends with the served champion
    promoted = unrecorded_change(path, "m", "3")
    assert promoted is not None and (promoted.action, promoted.previous) == ("promote", "1")
    record_champion(path, promoted)
    rolled = unrecorded_change(path, "m", "2")
    assert rolled is not None and (rolled.action, rolled.previous) == ("rollback", "3")
    assert unrecorded_change(path, "other", "3") is not None  # each model has its own line of events
