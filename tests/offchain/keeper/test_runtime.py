"""offchain.keeper.runtime: the keeper process's garbage-collector tuning."""

import gc

import pytest

from offchain.keeper.runtime import GC_THRESHOLDS, tune_gc


@pytest.fixture
def gc_state():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_tune_gc__default__freezes_live_objects_and_raises_thresholds(gc_state):
    alive = [object(), {"x": [1]}]  # noqa: F841 - alive across the call
    assert tune_gc({}) is True
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 0  # the objects alive then are out of every collection


def test_tune_gc__disabled__keeps_the_interpreter_defaults(gc_state):
    before = gc.get_threshold()
    gc.unfreeze()
    assert tune_gc({"MMX_GC_TUNING": "0"}) is False
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
