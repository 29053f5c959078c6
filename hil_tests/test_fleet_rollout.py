"""Issue 9 acceptance, staged roll-outs on a district of 1,000 simulated lamps:
with 3 % of lamps refusing, a roll-out halts at a 2 % threshold, resumes after
the fix and completes; killed mid-wave and restarted it sends nothing twice and
misses nobody; a roll-back gives each lamp back the program it had; a lamp
that crash-loops after the change is caught in the soak."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from hil_tests.fleet_bed import SITE, broker_args, fleet_json, pilotlight, program_hashes, status, wait_for
from host_tools.fleet import programs, rollout_store
from host_tools.fleet.sim.injection import Injection

DISTRICT = "district-1"
FAST = ["--canary", "1%", "--growth", "2", "--soak", "1.5", "--threshold", "2%", "--timeout", "15"]   # a loaded CI host: a vboard may take seconds


def program(name: str, late: int) -> dict:
    return {"id": name, "steps": [{"at": "sunset", "level": 100}, {"at": "22:00", "level": late},
                                  {"at": "sunrise", "level": 0}]}


B, C, OLD = program("winter-b", 50), program("winter-c", 35), program("old-a", 60)


def hashes_of(bed, devices) -> dict[str, str]:
    return program_hashes(bed, devices)


def settles(bed, devices, want) -> None:
    """The simulator's lamps at once; the vboards once the collector heard their new state."""
    wait_for(lambda: hashes_of(bed, devices) == want, 30, 0.5, "every board on the program expected")


def members(bed) -> list[str]:
    return [b["device_id"] for b in status(bed, "--district", DISTRICT)["boards"]]


def rollout_args(bed, prog: dict, tmp_path, *extra) -> list[str]:
    path = tmp_path / f"{prog['id']}.json"
    path.write_text(json.dumps(prog))
    return ["rollout", "start", "--site", SITE, "--district", DISTRICT, "--program", f"@{path}",
            *broker_args(bed, "operator"), *FAST, *extra]


def test_dry_run_prints_the_plan_and_sends_nothing(bed, tmp_path):
    plan = fleet_json(bed, *rollout_args(bed, B, tmp_path, "--dry-run"))
    n = len(members(bed))                     # 1,000 simulated lamps and the 5 vboards
    assert [w["boards"] for w in plan["waves"]] == [10, 20, 40, 80, 160, 320, n - 630]
    assert plan["boards"] == n and sum(w["boards"] for w in plan["waves"]) == n
    assert all(h != programs.digest(B) for h in hashes_of(bed, members(bed)).values())


@pytest.mark.on_every_broker
def test_three_percent_refusing_halts_at_two_then_resumes_after_the_fix(bed, running_collector, tmp_path):
    devices = members(bed)
    fleet_json(bed, "command", "--site", SITE, "--district", DISTRICT, *broker_args(bed, "operator"), "program",
               json.dumps({"program": OLD}))                       # where every lamp starts
    settles(bed, devices, {d: programs.digest(OLD) for d in devices})
    bed.sim.inject([Injection("refuse", 0.03, "program")], seed=3)
    refusing = {d for d, lamp in bed.sim.lamps().items() if lamp["injection"] == "refuse" and d in devices}
    halted = fleet_json(bed, *rollout_args(bed, B, tmp_path), ok_codes=(1,))
    assert halted["status"] == "halted" and "above the 2.0% threshold" in halted["reason"]
    failed = {d for d, b in halted["boards"].items() if b["step"] == "failed"}
    assert failed and failed <= refusing, {d: halted["boards"][d]["error"] for d in failed - refusing}
    assert all(halted["boards"][d]["error"].startswith("refused: program: flash_error") for d in failed)
    pending = {d for d, b in halted["boards"].items() if b["step"] == "pending"}
    assert pending and all(h == programs.digest(OLD) for h in hashes_of(bed, pending).values())  # later waves untouched

    bed.sim.inject([])                                             # the fix
    done = fleet_json(bed, "rollout", "resume", str(halted["id"]), *broker_args(bed, "operator"))
    assert done["status"] == "done" and done["counts"] == {"healthy": len(devices)}
    settles(bed, devices, {d: programs.digest(B) for d in devices})
    actions = [e["action"] for e in json.loads(pilotlight(bed, "audit", "--action", "rollout", "--json").stdout)]
    assert actions[-4:] == ["rollout.start", "rollout.halt", "rollout.resume", "rollout.done"]


def test_killed_mid_wave_and_restarted_sends_nothing_twice_and_misses_nobody_then_rolls_back(
        bed, running_collector, tmp_path):
    devices = members(bed)
    fleet_json(bed, "command", "--site", SITE, "--district", DISTRICT, *broker_args(bed, "operator"), "program",
               json.dumps({"program": B}))                         # where the lamps start, run alone or not
    settles(bed, devices, {d: programs.digest(B) for d in devices})
    special = devices[:5]                                          # these had another program before
    fleet_json(bed, "command", "--site", SITE, "--board", ",".join(special), *broker_args(bed, "operator"), "program",
               json.dumps({"program": OLD}))
    wait_for(lambda: set(hashes_of(bed, special).values()) == {programs.digest(OLD)}, 30, 0.5, "the old program")
    before = hashes_of(bed, devices)
    assert {before[d] for d in special} == {programs.digest(OLD)}

    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "fleet", "--db", str(bed.db),
                             *rollout_args(bed, C, tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with bed.inv() as inv:
        def mid_wave():
            rows = inv.query("SELECT wave, step FROM rollout_boards WHERE rollout_id = (SELECT MAX(id) FROM rollouts)")
            return any(r["wave"] == 3 and r["step"] in ("sending", "sent", "acked") for r in rows)
        wait_for(mid_wave, 60, 0.02, "the roll-out in its fourth wave")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        rid = inv.one("SELECT MAX(id) FROM rollouts")[0]
        steps = {r["step"] for r in rollout_store.boards(inv, rid)}
    assert "pending" in steps, "killed too late to prove anything"

    done = fleet_json(bed, "rollout", "resume", str(rid), *broker_args(bed, "operator"))
    assert done["status"] == "done" and done["counts"] == {"healthy": len(devices)}, \
        {d: b for d, b in done["boards"].items() if b["step"] != "healthy"}             # nobody missed
    settles(bed, devices, {d: programs.digest(C) for d in devices})
    received: dict[str, int] = {}
    for cmd_id in {b["command_id"] for b in done["boards"].values()}:
        for d, n in bed.sim.received(cmd_id).items():
            received[d] = received.get(d, 0) + n
    assert {received[d] for d in devices if d in received} == {1}   # nothing sent twice

    back = fleet_json(bed, "rollout", "rollback", str(rid), *broker_args(bed, "operator"))
    assert back["status"] == "rolled_back" and back["counts"] == {"reverted": len(devices)}, \
        {d: b for d, b in back["boards"].items() if b["step"] != "reverted"}
    settles(bed, devices, before)                                   # each lamp's own previous program


def test_a_lamp_that_crash_loops_after_the_change_is_caught_in_the_soak(bed, running_collector, tmp_path):
    bed.sim.inject([Injection("crashloop", 0.05, "program")], seed=11)
    try:
        path = tmp_path / "d.json"
        path.write_text(json.dumps(program("loopy-d", 45)))
        street = status(bed, "--district", DISTRICT)["boards"][0]["street_group"]
        report = fleet_json(bed, "rollout", "start", "--site", SITE, "--street", street, "--program", f"@{path}",
                            *broker_args(bed, "operator"), "--canary", "50", "--soak", "8", "--threshold", "1%",
                            "--timeout", "5", ok_codes=(1,))
        looping = {d for d, lamp in bed.sim.lamps().items() if lamp["injection"] == "crashloop"}
    finally:
        bed.sim.inject([])
    failed = {d: b["error"] for d, b in report["boards"].items() if b["step"] == "failed"}
    assert report["status"] == "halted" and set(failed) == looping & set(report["boards"]) and failed
    assert all("reboot loop" in e or "offline" in e for e in failed.values())
    time.sleep(2)  # the lamps stop looping once fixed; leave the bed as it was
    wait_for(lambda: status(bed, "--offline")["summary"]["boards"] == 0, 30, 0.5, "all lamps back")
