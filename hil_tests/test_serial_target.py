"""The serial target in `make test`: a representative few of the suite's tests
run with `--target serial` against a vboard behind its port, the rig acting
through its real drivers over simulated chips (the whole suite that way is
`make hil-serial`)."""
import subprocess
import sys

import pytest

# MQTT with a clock jump, EN, the supply relay and the output read back; PIR; the light sensor.
REPRESENTATIVE = ["hil_tests/test_connectivity.py::test_online_state_commands_and_last_will",
                  "hil_tests/test_lamp_brain.py::test_motion_at_night_boosts_then_falls_back",
                  "hil_tests/test_lamp_brain.py::test_no_clock_and_no_light_sensor_fails_on"]


@pytest.mark.needs_board_spawn  # it starts a bench of vboards of its own
def test_the_suite_passes_on_the_serial_target_through_the_rig(tmp_path):
    run = subprocess.run([sys.executable, "-m", "hil_tests.rig.vboard_bench", "--boards", "1", "--",
                          "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "serial"), *REPRESENTATIVE],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"{len(REPRESENTATIVE)} passed" in run.stdout, run.stdout[-2000:]
