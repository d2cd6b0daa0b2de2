"""The fan-out process's GC setting (dashboard.hub.relax_gc)."""

import gc

import pytest
from channels.layers import InMemoryChannelLayer

from dashboard import hub


@pytest.fixture
def thresholds():
    """Restore the process's GC thresholds after the test."""
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


async def test_first_hub_of_a_process_raises_the_young_gc_threshold(thresholds):
    gc.set_threshold(700, 10, 10)
    hub.hub_for(InMemoryChannelLayer())
    assert gc.get_threshold() == (hub.GC_YOUNG_THRESHOLD, 10, 10)


def test_relax_gc_never_lowers_a_higher_threshold(thresholds):
    gc.set_threshold(hub.GC_YOUNG_THRESHOLD * 2, 20, 30)
    hub.relax_gc()
    assert gc.get_threshold() == (hub.GC_YOUNG_THRESHOLD * 2, 20, 30)
