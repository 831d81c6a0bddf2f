"""The switch that keeps numpy from asking for transparent huge pages inside a block."""

from __future__ import annotations

import numpy as np

from meshlearn.geometry import hugepages


def test_no_hugepages_switches_off_and_restores():
    set_advice = hugepages._SET
    if set_advice is None:  # a numpy without the switch: the block is a no-op
        with hugepages.no_hugepages():
            assert np.ones(3).sum() == 3.0
        return
    before = set_advice(True)
    try:
        with hugepages.no_hugepages():
            assert set_advice(False) is False  # off inside the block
        assert set_advice(True) is True  # restored after it
        with hugepages.no_hugepages():
            with hugepages.no_hugepages():
                pass
            assert set_advice(False) is False  # nested blocks restore what they found
    finally:
        set_advice(before)
