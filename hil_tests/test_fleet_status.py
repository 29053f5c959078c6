"""Issue 9 acceptance, status: 2,000 simulated lamps (and vboards, see
test_fleet_vboards.py) on one broker; `fleet status` stays right when lamps
die and come back, when the collector is killed and restarted, and when the
broker restarts; a seq gap made on purpose is reported."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from hil_tests.support.lamp import duty_at
from hil_tests.fleet_bed import LAMPS, SITE, VBOARDS, status, wait_for


def by_device(report: dict) -> dict[str, dict]:
    return {b["device_id"]: b for b in report["boards"]}


@pytest.mark.on_every_broker
def test_every_lamp_is_shown_online_on_its_pole_in_street_order(bed, running_collector):
    report = status(bed)
    assert report["summary"]["boards"] == LAMPS + VBOARDS and report["summary"]["online"] == LAMPS + VBOARDS
    rows = report["boards"]
    seen_streets = []
    for prev, row in zip(rows, rows[1:]):
        if row["street"] == prev["street"]:
            assert row["position"] == prev["position"] + 1   # street order, not chip-id order
    for row in rows:
        if row["street"] not in seen_streets:
            seen_streets.append(row["street"])
        assert row["pole"] and row["mode"] and row["level"] is not None and row["fw"]
    assert len(seen_streets) == LAMPS // 50 + 1
    street = [r for r in rows if r["street"] == "Rue des Cartes"]          # the real boards' street, pole by pole
    assert [r["pole"] for r in street] == [f"VB-{i}" for i in range(1, VBOARDS + 1)]
    assert {r["device_id"] for r in street} == set(bed.vboard_devices)
    one = status(bed, "--street", rows[0]["street_group"])
    assert [b["pole"] for b in one["boards"]] == [r["pole"] for r in rows[:50]]


def test_lamps_that_die_show_offline_and_come_back_with_a_boot(bed, running_collector):
    dead = bed.sim_devices[100:120]
    bed.sim.power(dead, False)
    wait_for(lambda: {b["device_id"] for b in status(bed, "--offline")["boards"]} == set(dead), 30, 0.5,
             "exactly the dead lamps offline")
    boots_before = {d: by_device(status(bed))[d]["boots"] for d in dead}
    bed.sim.power(dead, True)
    wait_for(lambda: status(bed, "--offline")["summary"]["boards"] == 0, 30, 0.5, "every lamp back online")
    after = by_device(status(bed))
    for d in dead:
        assert after[d]["boots"] == boots_before[d] + 1
        assert after[d]["reset_causes"].get("power_on", 0) >= 1


def test_vboards_show_what_their_lamps_do_and_their_power_cuts(bed, running_collector):
    def agrees():
        rows = {b["device_id"]: b for b in status(bed, "--street", "Rue des Cartes")["boards"]}
        for vb in bed.vboards:
            with vb.control() as c:
                output = c.duty()
            row = rows[vb.unique_id]
            if row["online"] is not True or row["level"] is None or abs(duty_at(row["level"]) - output) > 2:
                return False
        return True
    wait_for(agrees, 30, 0.5, "every vboard's level as its lamp's output")
    cut = bed.vboards[1:3]
    boots = {vb.unique_id: by_device(status(bed))[vb.unique_id]["boots"] for vb in cut}
    for vb in cut:
        with vb.control() as c:
            c.power_cut()
    wait_for(lambda: {b["device_id"] for b in status(bed, "--offline")["boards"]} == {vb.unique_id for vb in cut},
             60, 0.5, "exactly the cut vboards offline")
    for vb in cut:
        with vb.control() as c:
            c.power_on()
    wait_for(lambda: status(bed, "--offline")["summary"]["boards"] == 0, 90, 0.5, "the vboards back online")
    try:
        wait_for(lambda: all(by_device(status(bed))[d]["boots"] > n for d, n in boots.items()), 30, 0.5,
                 "a new boot each")
    except TimeoutError:
        now = by_device(status(bed))
        raise AssertionError({d: (n, now[d]["boots"], now[d]["reset_causes"], now[d]["seq_high"]) for d, n in boots.items()})
    assert all(by_device(status(bed))[vb.unique_id]["reset_causes"].get("power_on") for vb in cut)


@pytest.mark.on_every_broker
def test_collector_killed_and_restarted_sees_what_happened_meanwhile(bed, running_collector):
    running_collector.proc.send_signal(signal.SIGKILL)
    running_collector.proc.wait(10)
    dead = bed.sim_devices[300:310]
    bed.sim.power(dead, False)            # while nobody collects: the retained Wills tell, or the queue
    bed.sim.fault(bed.sim_devices[400:403], "lamp_failed")
    running_collector.ensure()
    wait_for(lambda: {b["device_id"] for b in status(bed, "--offline")["boards"]} == set(dead), 30, 0.5,
             "the lamps that died meanwhile offline")
    wait_for(lambda: {b["device_id"] for b in status(bed, "--faulty")["boards"]}
             == set(bed.sim_devices[400:403]), 30, 0.5, "the faulty lamps")
    bed.sim.fault(bed.sim_devices[400:403], "lamp_failed", raised=False)
    bed.sim.power(dead, True)
    wait_for(lambda: status(bed, "--offline")["summary"]["boards"] == 0
             and status(bed, "--faulty")["summary"]["boards"] == 0, 30, 0.5, "all well again")
    assert running_collector.stop() == 0      # SIGTERM: a clean stop
    running_collector.ensure()


@pytest.mark.on_every_broker
def test_broker_restart_a_lamp_that_died_meanwhile_is_not_shown_online(bed, running_collector):
    """Mosquitto: the collector sees the restart in $SYS. The cluster: no $SYS and no Wills
    when the boards' node restarts; the dead lamps miss their telemetry (30 s here)."""
    wait_for(lambda: status(bed, "--offline")["summary"]["boards"] == 0, 30, 0.5, "all online to begin with")
    dead = bed.sim_devices[500:505]
    wait_for(lambda: all(by_device(status(bed))[d]["tele_every"] for d in dead), 75, 1,
             "two teles of each lamp heard (its rhythm, which silence is judged by)")
    bed.broker.stop()
    bed.sim.power(dead, False)          # no Will: the broker was down when they died
    bed.broker.start()
    bed.sim.wait_connected(LAMPS - len(dead), timeout=150)   # and the vboards reconnect by themselves
    try:
        wait_for(lambda: {b["device_id"] for b in status(bed, "--offline")["boards"]} == set(dead), 120, 1,
                 "only the lamps that died during the restart offline")
    except TimeoutError:
        shown = {b["device_id"]: (b["online"], b["state_seq"], b["status_at"]) for b in status(bed, "--offline")["boards"]}
        assert set(shown) == set(dead), (shown, bed.sim.stats())
    bed.sim.power(dead, True)
    wait_for(lambda: status(bed, "--offline")["summary"]["boards"] == 0, 60, 1, "all back")


def test_a_seq_gap_made_on_purpose_is_reported(bed, running_collector):
    lossy = bed.sim_devices[700]
    # connected as the lamp sees it, not only as the fleet last heard (an earlier broker restart)
    wait_for(lambda: bed.sim.lamps()[lossy]["connected"] and by_device(status(bed))[lossy]["online"], 30, 0.5,
             "the lamp online")
    before = by_device(status(bed))[lossy]["gaps"]
    bed.sim.skip_seq([lossy], 3)       # three messages lost between lamp and fleet
    # at least those three: a loaded host can lose more of this lamp's QoS 0 uplinks meanwhile (CI saw 5)
    wait_for(lambda: by_device(status(bed))[lossy]["gaps"] >= before + 3, 20, 0.5, "the gap of 3")


def test_status_filters_and_table(bed, running_collector):
    fw = status(bed)["boards"][0]["fw"]
    assert status(bed, "--fw", fw)["summary"]["boards"] == LAMPS
    vb_fw = by_device(status(bed))[bed.vboard_devices[0]]["fw"]
    assert {b["device_id"] for b in status(bed, "--fw", vb_fw)["boards"]} == set(bed.vboard_devices)
    assert status(bed, "--fw", "9.9.9")["summary"]["boards"] == 0
    run = subprocess.run([sys.executable, "-m", "host_tools", "fleet", "--db", str(bed.db), "status", "--site", SITE,
                          "--street", "Street 1"], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, COLUMNS="200"))
    assert run.returncode == 0 and "S00000" in run.stdout and "50 boards: 50 online" in run.stdout


def test_fleet_watch_shows_the_street_live_and_stops_on_sigterm(bed, running_collector):
    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "fleet", "--db", str(bed.db), "watch", "--site", SITE,
                             "--street", "Rue des Cartes", "--every", "0.5"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, COLUMNS="200"))
    assert proc.stderr.readline().startswith("watching site"), "fleet watch did not start"   # its signals handled
    wait_for(lambda: proc.poll() is None, 5, 0.1, "watch running")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "VB-1" in out and "5 boards: 5 online" in out
