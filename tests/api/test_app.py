"""The app factory's module: freezing what start-up built, so full garbage collections skip it."""

from __future__ import annotations

import gc

from api.app import freeze_startup_heap


def test_freezing_takes_the_objects_alive_at_start_out_of_full_collections() -> None:
    built_at_start = [[n] for n in range(1000)]  # stands for the model, metadata and routes
    try:
        frozen = freeze_startup_heap()

        assert frozen >= len(built_at_start) and gc.get_freeze_count() == frozen
        walked = gc.get_objects()  # what a full collection walks: the three generations, not the frozen ones
        assert not any(obj is built_at_start or obj is built_at_start[0] for obj in walked)
        made_later = [0]
        assert any(obj is made_later for obj in gc.get_objects())
    finally:
        gc.unfreeze()
    assert any(obj is built_at_start for obj in gc.get_objects())
