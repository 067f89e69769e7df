import gc

import pytest
from veche_shared.service import GC_YOUNG_THRESHOLD, settle_heap


@pytest.fixture
def restore_gc():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settle_heap_freezes_start_up_objects_and_collects_young_objects_less_often(restore_gc):
    loaded_at_start = [[index] for index in range(1000)]  # containers: tracked by the collector
    gc.unfreeze()
    assert gc.get_freeze_count() == 0

    settle_heap()

    # the start-up objects (these lists among them) left the collector's generations
    assert gc.get_freeze_count() >= len(loaded_at_start)
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
    assert loaded_at_start[-1] == [999]  # frozen, not freed
