"""The firmware's footprint on the ESP32-shaped interpreter (issue 11)."""
import pytest

from hil_tests.support.footprint import control_loop_allocation

pytestmark = [pytest.mark.needs_board_spawn, pytest.mark.needs_flash, pytest.mark.needs_clock_jump]


def test_the_control_loop_allocates_nothing_per_tick_in_steady_state(rig, tmp_path):
    # Unix times are big ints here as on the chip (above 2^30): one costs a heap
    # allocation, which the step must not make every tick.
    r = control_loop_allocation(rig, tmp_path)
    assert (r["mode"], r["level"]) == ("schedule", 40), r     # the program's night level, settled
    assert r["utc_call"] > 0, "a UTC second no longer allocates: this test no longer tests the big-int case"
    assert r["per_tick"] == 0, f"the control step allocates {r['per_tick']} bytes per tick"
