"""Issue 9 acceptance, commands and drift: a command to a district reports
every board exactly once as ok / refused / silent, as the simulator was told
to behave; drift made on purpose is found and synced."""
from __future__ import annotations

import json

import pytest

from hil_tests.fleet_bed import SITE, broker_args, fleet_json, pilotlight, status, wait_for
from host_tools.fleet.sim.injection import Injection

PROGRAM_A = {"id": "night-a", "steps": [{"at": "sunset", "level": 100, "fade": 60}, {"at": "23:00", "level": 40},
                                        {"at": "sunrise", "level": 0}]}
PROGRAM_B = {"id": "night-b", "steps": [{"at": "sunset", "level": 90}, {"at": "22:00", "level": 30},
                                        {"at": "sunrise", "level": 0}]}


def vboard_console(bed) -> str:
    out = ""
    for vb in bed.vboards:
        with vb.control() as c:
            out += f"\n--- {vb.unique_id}:\n" + c.console()[0][-1500:]
    return out


def district_devices(bed, slug):
    return [b["device_id"] for b in status(bed, "--district", slug)["boards"]]


@pytest.mark.on_every_broker
def test_a_district_command_reports_every_board_once_as_the_simulator_behaved(bed, running_collector):
    bed.sim.inject([Injection("refuse", 0.02, "level"), Injection("silent", 0.01, "level")], seed=7)
    try:
        members = district_devices(bed, "district-1")
        report = fleet_json(bed, "command", "--site", SITE, "--district", "district-1", *broker_args(bed, "operator"),
                            "--timeout", "8", "level", '{"level": 30, "duration_s": 600}', ok_codes=(1,))
        lamps = bed.sim.lamps()
        by_dev = {b["device_id"]: b for b in status(bed)["boards"]}
    finally:
        bed.sim.inject([])
    boards = report["boards"]
    assert sorted(boards) == sorted(members) and not report["strangers"]   # each board of the district, once
    told = {d: lamps[d]["injection"] if d in lamps else None for d in members}
    assert set(bed.vboard_devices) <= set(members)
    assert all(boards[d]["outcome"] == "ok" for d in bed.vboard_devices), json.dumps(
        {d: [boards[d], {k: v for k, v in by_dev[d].items() if k in ("online", "status_at", "last_seen", "boots")}]
         for d in bed.vboard_devices}) + vboard_console(bed)
    refused = {d: b["error"] for d, b in boards.items() if b["outcome"] == "refused"}
    assert set(refused) == {d for d, k in told.items() if k == "refuse"}, refused
    assert {d for d, b in boards.items() if b["outcome"] == "silent"} == {d for d, k in told.items() if k == "silent"}
    assert report["counts"]["refused"] > 0 and report["counts"]["silent"] > 0
    assert all("simulated fault" in b["error"] for b in boards.values() if b["outcome"] == "refused")
    received = bed.sim.received(report["id"])
    # one publish on the group topic reached every lamp once; only the silent ones got the retry
    assert {received[d] for d, k in told.items() if k is None and d in lamps} == {1}
    assert {received[d] for d, k in told.items() if k == "silent"} == {2}
    assert all(lamps[d]["state"]["mode"] == "override" for d, b in boards.items() if b["outcome"] == "ok" and d in lamps)
    audit = json.loads(pilotlight(bed, "audit", "--action", "fleet.command", "--json").stdout)
    assert audit[-1]["target"] == "district:district-1" and audit[-1]["detail"]["id"] == report["id"]
    # end the override everywhere: one publish per district
    end = fleet_json(bed, "command", "--site", SITE, "--all", *broker_args(bed, "operator"), "level", '{"level": null}')
    assert end["counts"]["ok"] == len(bed.devices)


def test_a_command_the_firmware_would_refuse_is_refused_before_sending(bed):
    run = pilotlight(bed, "fleet", "command", "--site", SITE, "--district", "district-1", *broker_args(bed, "operator"),
                     "level", '{"level": 140}')
    assert run.returncode == 3 and "level: 140 is out of range [0, 100]" in run.stderr


def test_drift_made_on_purpose_is_found_and_synced(bed, running_collector, tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(PROGRAM_A))
    assert pilotlight(bed, "fleet", "desired", "set", "--site", SITE, "program", f"@{tmp_path / 'a.json'}").returncode == 0
    first = fleet_json(bed, "sync", "--site", SITE, *broker_args(bed, "operator"))
    assert sum(r["command"]["counts"]["ok"] for r in first if r["sent"]) == len(bed.devices)
    # the real firmware's hashes are the ones the fleet predicts: nothing drifts, vboards included
    wait_for(lambda: status(bed, "--drift")["summary"]["boards"] == 0, 30, 0.5, "no drift after the first sync")

    by_hand, tuned = bed.sim_devices[5], bed.sim_devices[1500]
    for device, name, fields in ((by_hand, "program", {"program": PROGRAM_B}), (tuned, "config", {"set": {"default_level": 55}})):
        out = fleet_json(bed, "command", "--site", SITE, "--board", device, *broker_args(bed, "operator"), name,
                         json.dumps(fields))
        assert out["counts"]["ok"] == 1
    wait_for(lambda: {b["device_id"] for b in status(bed, "--drift")["boards"]} == {by_hand, tuned}, 30, 0.5,
             "exactly the two boards changed by hand drift")
    plan = fleet_json(bed, "sync", "--site", SITE, "--dry-run")
    assert sorted((p["command"], tuple(p["boards"])) for p in plan) == [("config", (tuned,)), ("program", (by_hand,))]
    fleet_json(bed, "sync", "--site", SITE, *broker_args(bed, "operator"))
    wait_for(lambda: status(bed, "--drift")["summary"]["boards"] == 0, 30, 0.5, "no drift after sync")
    lamps = bed.sim.lamps()
    assert lamps[by_hand]["state"]["program"] == "night-a" and lamps[tuned]["config_hash"] == lamps[by_hand]["config_hash"]
    assert [e["action"] for e in json.loads(pilotlight(bed, "audit", "--action", "fleet.sync", "--json").stdout)]


def test_a_replaced_lamp_is_told_to_its_board_and_recorded_with_the_old_lamps_hours(bed):
    # issue 12, defect 9: burn hours start again on the board; the host keeps what the old lamp had
    device = district_devices(bed, "district-1")[0]
    report = fleet_json(bed, "lamp-replaced", "--site", SITE, "--board", device, "--note", "LED module, order 4711",
                        *broker_args(bed, "operator"))
    assert report["outcome"] == "ok" and isinstance(report["burn_h_was"], float), report
    entries = json.loads(pilotlight(bed, "audit", "--action", "fleet.lamp_replaced", "--json").stdout)
    entry = next(e for e in entries if e["target"] == device and e["detail"]["id"] == report["id"])
    assert entry["outcome"] == "ok" and entry["detail"]["note"] == "LED module, order 4711"
    assert entry["detail"]["burn_h_was"] == report["burn_h_was"] and entry["detail"]["cycles_was"] >= 0
    chip = next(b["chip_id"] for b in status(bed)["boards"] if b["device_id"] == device)
    shown = json.loads(pilotlight(bed, "inventory", "show", chip, "--json").stdout)
    assert any(e["kind"] == "lamp_replaced" and e["detail"]["burn_h_was"] == report["burn_h_was"]
               for e in shown["events"]), shown["events"][-3:]
