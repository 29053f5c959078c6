"""`pilotlight provision` on vboards (the same serial path as real boards), with a
real Mosquitto running the fleet's generated accounts and ACL.

The firmware's MQTT client is not wired into the app yet, so "each board connects
with its own credentials" is proved from the host: the credentials are read from
the config.json on each board's flash and used by paho against the broker."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from host_tools.broker import credentials
from host_tools.broker.local import local_broker
from host_tools.inventory import boards, open_inventory, places
from host_tools.inventory.gis_csv import import_csv
from host_tools.provision.flow import load_firmware

pytestmark = pytest.mark.virtual_only   # reads the boards' flash and cuts their power from the rig side

SITE, STREET, TZ = "metz", "Rue A", "CET-1CEST,M3.5.0,M10.5.0/3"
WIFI_KEY = "wifi-secret-4711"


@pytest.fixture
def fleet(tmp_path):
    """An inventory of 12 poles along one street and the fleet's broker, running."""
    csv = tmp_path / "poles.csv"
    csv.write_text("pole_id,site,district,street,position,lat,lon\n"
                   + "".join(f"P-{i:02d},{SITE},Centre,{STREET},{i},49.11{i:02d},6.17\n" for i in range(1, 13)))
    db = tmp_path / "inv.sqlite"
    with open_inventory(db, create=True) as inv:
        assert import_csv(inv, csv).imported
        places.ensure_site(inv, SITE, tz=TZ)
        broker = local_broker(inv, tmp_path / "broker")
    broker.start()
    yield db, broker
    broker.stop()


def provision(db, broker, home, *args, timeout=240):
    cmd = [sys.executable, "-m", "host_tools", "provision", "--vboards", "--home", str(home), "--db", str(db),
           "--broker-host", "127.0.0.1", "--broker-port", str(broker.port), "--wifi-ssid", "METZ-LIGHTS", *args]
    env = dict(os.environ, PILOTLIGHT_WIFI_KEY=WIFI_KEY, COLUMNS="200")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def report(run) -> dict:
    assert run.stdout.strip(), run.stderr
    return json.loads(run.stdout)


def flash_files(flash: Path) -> set[str]:
    return {p.relative_to(flash).as_posix() for p in flash.rglob("*") if p.is_file()}


def board_config(flash: Path) -> dict:
    return json.loads((flash / "config.json").read_text())


def secrets_of(db) -> list[str]:
    with open_inventory(db) as inv:
        return [a.password for a in credentials.list_accounts(inv)] + [WIFI_KEY]


def assert_no_secret(run, db):
    for secret in secrets_of(db):
        assert secret not in run.stdout and secret not in run.stderr


def states(db) -> dict[str, str]:
    with open_inventory(db) as inv:
        return {b.chip_id: b.state for b in boards.list_boards(inv)}


def connects_and_shows_online(broker, cfg: dict, fleet_account) -> bool:
    """The board's own credentials connect, and its status reaches a fleet subscriber."""
    user, topic = cfg["mqtt"]["username"], f"pl/{SITE}/{cfg['device']['id']}/status"
    got = threading.Event()
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=fleet_account.username)
    watcher.username_pw_set(fleet_account.username, fleet_account.password)
    watcher.on_message = lambda c, u, m: m.payload == b"online" and got.set()
    watcher.connect("127.0.0.1", broker.port)
    watcher.subscribe(topic, qos=1)
    watcher.loop_start()
    board = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user)
    board.username_pw_set(user, cfg["mqtt"]["password"])
    try:
        if board.connect("127.0.0.1", broker.port) != 0:
            return False
        board.loop_start()
        time.sleep(0.3)
        board.publish(topic, b"online", qos=1, retain=True).wait_for_publish(5)
        return got.wait(5)
    finally:
        board.loop_stop()
        board.disconnect()
        watcher.loop_stop()
        watcher.disconnect()


def test_eight_boards_in_one_command_all_provisioned(rig, fleet, tmp_path):
    db, broker = fleet
    vbs = rig.start(count=8)
    run = provision(db, broker, rig.home, "--street", STREET, "--json", "--labels", str(tmp_path / "labels"))
    out = report(run)
    assert run.returncode == 0, out
    assert [b["ok"] for b in out["boards"]] == [True] * 8
    assert set(states(db).values()) == {"provisioned"} and len(states(db)) == 8
    firmware, _ = load_firmware()
    # As after every roll-out: `broker config` and a reload give the broker the new boards' accounts.
    with open_inventory(db) as inv:
        operator = credentials.ensure_fleet_account(inv, "fleet")
        live = local_broker(inv, tmp_path / "broker-reloaded")
    with live:
        poles = set()
        for vb in vbs:
            assert flash_files(vb.flash) == set(firmware) | {"config.json"}, vb.name
            cfg = board_config(vb.flash)
            poles.add(cfg["device"]["pole"])
            assert cfg["mqtt"]["username"] == cfg["device"]["id"]
            assert connects_and_shows_online(live, cfg, operator), vb.name
    assert len(poles) == 8                      # every board on a pole of its own
    assert len(out["labels"]) == 8 and all(Path(p).read_text().startswith("<svg") for p in out["labels"])
    assert_no_secret(run, db)


def test_power_cut_mid_sync_stays_unprovisioned_and_next_run_completes(rig, fleet):
    db, broker = fleet
    [vb] = rig.start(count=1, baud=115200)
    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "provision", "--vboards", "--home", str(rig.home),
                             "--db", str(db), "--broker-host", "127.0.0.1", "--broker-port", str(broker.port),
                             "--wifi-ssid", "METZ-LIGHTS", "--street", STREET, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    staging = vb.flash / ".pl_sync.z"
    deadline = time.monotonic() + 60
    while not (staging.exists() and staging.stat().st_size > 4096):
        assert time.monotonic() < deadline and proc.poll() is None, "the sync never started"
        time.sleep(0.05)
    with vb.control() as c:
        c.power_cut()
    stdout, _ = proc.communicate(timeout=120)
    out = json.loads(stdout)
    assert proc.returncode == 1 and not out["boards"][0]["ok"]
    assert out["boards"][0]["step"] == "sync"
    assert set(states(db).values()) == {"new"}
    with vb.control() as c:
        c.power_on()
    run = provision(db, broker, rig.home, "--json")
    out = report(run)
    assert run.returncode == 0, out
    assert set(states(db).values()) == {"provisioned"}
    firmware, _ = load_firmware()
    assert flash_files(vb.flash) == set(firmware) | {"config.json"}


def test_reprovision_unchanged_copies_nothing_and_prints_wall_time(rig, fleet):
    db, broker = fleet
    rig.start(count=1, baud=115200)
    assert provision(db, broker, rig.home, "--street", STREET).returncode == 0
    run = provision(db, broker, rig.home)   # the board is now running the firmware, watchdog armed
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 of 1 board(s) provisioned, wall time" in run.stdout
    out = report(provision(db, broker, rig.home, "--json"))
    assert out["boards"][0]["copied"] == [] and out["boards"][0]["state"] == "provisioned"
    assert out["boards"][0]["seconds"] < 10


NOISY_MAIN = """\
import machine, time
wdt = machine.WDT(timeout=3000)
n = 0
ignored = 0
while True:
    try:
        print("log %d: lamp 80%% ina219 0.61 W bh1750 12.5 lx, mqtt reconnecting..." % n)
        n += 1
        wdt.feed()
        time.sleep_ms(2)
    except KeyboardInterrupt:
        ignored += 1          # a stubborn app: it shrugs off the first Ctrl-C
        if ignored > 1:
            raise
"""


def test_busy_logging_board_is_provisioned_every_time(rig, fleet):
    db, broker = fleet
    [vb] = rig.start(count=1, baud=115200)
    for attempt in range(3):
        (vb.flash / "main.py").write_text(NOISY_MAIN)
        (vb.flash / "maintenance").unlink(missing_ok=True)
        with vb.control() as c:
            c.reset()
            c.wait_for(lambda st: st["wdt_ms"] == 3000, what="the noisy app running")
        run = provision(db, broker, rig.home, "--street", STREET, "--json")
        out = report(run)
        assert run.returncode == 0, (attempt, out)
        assert "main.py" in out["boards"][0]["copied"]
    assert set(states(db).values()) == {"provisioned"}


def test_dry_run_masks_secrets_and_changes_nothing(rig, fleet):
    db, broker = fleet
    [vb] = rig.start(count=1)
    assert provision(db, broker, rig.home, "--street", STREET).returncode == 0
    before = {p: (vb.flash / p).read_bytes() for p in flash_files(vb.flash)}
    (vb.flash / "lampctl" / "lamp.mpy").write_bytes(b"stale")   # something a real run would fix
    run = provision(db, broker, rig.home, "--dry-run")
    assert run.returncode == 0, run.stdout + run.stderr
    assert '"password": "********"' in run.stdout and '"wifi_key": "********"' in run.stdout
    assert "would copy 1 file(s)" in run.stdout
    assert_no_secret(run, db)
    assert (vb.flash / "lampctl" / "lamp.mpy").read_bytes() == b"stale"
    assert {p for p in flash_files(vb.flash)} == set(before)
    assert set(states(db).values()) == {"provisioned"}
