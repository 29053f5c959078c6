"""`make demo` is the main job: it must keep working end to end."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.needs_board_spawn  # the demo starts vboards of its own


def test_demo_provisions_a_street_and_runs_it_over_mqtt_then_reports(tmp_path):
    run = subprocess.run([sys.executable, "-m", "host_tools", "demo", "--lamps", "3", "--report-dir", str(tmp_path)],
                         capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, COLUMNS="160"))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    out = run.stdout
    assert "3 of 3 board(s) provisioned" in out
    online = out.split("the street, online")[1].split("program 'main-street'")[0]
    assert online.count("online") == 3
    after_program = out.split("sent to the street group")[1].split("motion at the first pole")[0]
    assert after_program.count("main-street") == 3 and after_program.count("│ 40 ") == 3
    after_motion = out.split("motion at the first pole")[1]
    assert after_motion.count("presence") >= 2  # the pole and its neighbours
    # the pilot's month in the reports: its street's energy, and the case for 400 poles
    assert "3 lamps, 30 days" in out and "Energy, demo: 3 lamps, 30 nights" in out
    assert len((tmp_path / "energy.csv").read_text().splitlines()) == 1 + 3
    assert any((tmp_path / "plots").glob("*.png"))
    html = (tmp_path / "scale-up.html").read_text()
    assert "400" in html and "<img" in html
