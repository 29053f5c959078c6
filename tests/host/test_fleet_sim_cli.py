# `pilotlight fleet sim ...` as an operator meets it before any lamp is enrolled.
import subprocess
import sys


def test_sim_run_with_no_lamps_enrolled_says_what_to_do_first(tmp_path):
    run = subprocess.run([sys.executable, "-m", "host_tools", "fleet", "sim", "run", "--home", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 3, run.stderr
    assert "no simulated lamps" in run.stderr and "fleet sim enrol" in run.stderr
