"""Issue 14: the collector keeps each board's history for the reports, on the
fleet bed's 2,000 simulated lamps over the real broker."""
from __future__ import annotations

import json
import subprocess
import sys

from hil_tests.fleet_bed import LAMPS, SITE, wait_for


def test_the_collector_keeps_every_lamps_history_on_its_pole_and_the_report_reads_it(bed, running_collector):
    def sources():
        with bed.inv() as inv:
            return {r["device_id"]: r["pole_id"] for r in inv.query(
                "SELECT s.device_id, s.pole_id FROM hist_sources s JOIN hist_energy e ON e.src = s.id")}
    seen = wait_for(lambda: len(s := sources()) >= LAMPS and s, 90, 1, "every lamp's energy in the history")
    with bed.inv() as inv:
        poles = {r["device_id"]: r["pole_id"] for r in inv.query("SELECT device_id, pole_id FROM boards")}
        online = {r["device_id"] for r in inv.query(
            "SELECT device_id FROM hist_sources s JOIN hist_link l ON l.src = s.id WHERE l.online = 1")}
        levels = inv.one("SELECT COUNT(DISTINCT src) FROM hist_level")[0]
    before = _stored_kwh(bed)
    assert all(seen[d] == poles[d] for d in bed.sim_devices)             # each lamp's history is on its pole
    assert set(bed.sim_devices) <= online and levels >= LAMPS
    run = subprocess.run([sys.executable, "-m", "host_tools", "report", "energy", "--site", SITE, "--inventory",
                          str(bed.db), "--from", "2026-11-26", "--to", "2026-11-29", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["total"]["unseen_lamps"] <= report["total"]["lamps"] - LAMPS   # every simulated lamp read
    # what the meters counted, as stored before and after the report (the collector writes on meanwhile)
    assert before - 0.01 <= report["total"]["kwh"] <= _stored_kwh(bed) + 0.01


def _stored_kwh(bed) -> float:
    with bed.inv() as inv:
        return inv.one("SELECT SUM(mx - mn) FROM (SELECT MAX(mwh) AS mx, MIN(mwh) AS mn FROM hist_energy "
                       "GROUP BY src)")[0] / 1e6
