"""`pilotlight provision` on vboards (the same serial path as real boards), with a
real Mosquitto running the fleet's generated accounts and ACL: after a roll-out
each board's account is in the broker before its self-test logs in with it,
and every board comes online by itself."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hil_tests.support.broker import provision_args
from host_tools.broker import credentials
from host_tools.broker.local import local_broker
from host_tools.fleet.watch import Watch
from host_tools.inventory import boards, open_inventory, places
from host_tools.inventory.gis_csv import import_csv
from host_tools.provision.flow import load_firmware

pytestmark = pytest.mark.needs_flash   # checks each board's flash, file by file, from the rig side

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
           *provision_args(broker), "--wifi-ssid", "METZ-LIGHTS", *args]
    env = dict(os.environ, PILOTLIGHT_WIFI_KEY=WIFI_KEY, COLUMNS="200")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def report(run) -> dict:
    assert run.stdout.strip(), run.stderr
    return json.loads(run.stdout)


def assert_flash_holds_bundle(vb, firmware: dict[str, bytes]) -> None:
    """Every file of the bundle, byte for byte, in the board's LittleFS flash (as
    littlefs-python reads it), and no other code: the app's own data (its outbox,
    counters) may appear once it runs, but no module we did not put there."""
    for path, data in firmware.items():
        assert vb.read_flash(path) == data, path
    files = vb.flash_files()
    code = {p for p in files if p.endswith((".py", ".mpy")) or p.startswith(("lampctl/", "app/"))}
    assert code == set(firmware)
    assert "config.json" in files and "maintenance" not in files


def board_config(vb) -> dict:
    return json.loads(vb.read_flash("config.json"))


def wait_for_sync_writing(vb, proc) -> None:
    """Until the sync is writing the firmware to flash (the board has erased a few
    blocks for it): the moment to cut power or kill the laptop side."""
    with vb.control() as c:
        start = c.status()["flash_erases"]
        deadline = time.monotonic() + 60
        while c.status()["flash_erases"] < start + 4:
            assert time.monotonic() < deadline and proc.poll() is None, "the sync never started"
            time.sleep(0.02)


def secrets_of(db, vbs=()) -> list[str]:
    """The fleet accounts' passwords (this user's secrets file), the boards' (on their flash only)."""
    with open_inventory(db) as inv:
        fleet = [credentials.password(inv, a.username) for a in credentials.list_accounts(inv) if a.kind != "board"]
    return fleet + [board_config(vb)["mqtt"]["password"] for vb in vbs if "config.json" in vb.flash_files()] + [WIFI_KEY]


def assert_no_secret(run, db, vbs=()):
    for secret in secrets_of(db, vbs):
        assert secret not in run.stdout and secret not in run.stderr


def assert_inventory_holds_no_password(db, vbs):
    """Not even in a free page or a journal: the bytes of every inventory file."""
    stored = b"".join(p.read_bytes() for p in Path(db).parent.glob(Path(db).name + "*"))
    passwords = [board_config(vb)["mqtt"]["password"] for vb in vbs]
    assert passwords and all(len(p) >= 32 for p in passwords)
    assert not [p for p in passwords if p.encode() in stored]


def states(db) -> dict[str, str]:
    with open_inventory(db) as inv:
        return {b.chip_id: b.state for b in boards.list_boards(inv)}


@pytest.mark.needs_reset
def test_eight_boards_in_one_command_all_provisioned(rig, fleet, tmp_path):
    db, broker = fleet
    vbs = rig.start(count=8)
    run = provision(db, broker, rig.home, "--street", STREET, "--json", "--labels", str(tmp_path / "labels"))
    out = report(run)
    assert run.returncode == 0, out
    assert [b["ok"] for b in out["boards"]] == [True] * 8
    assert set(states(db).values()) == {"provisioned"} and len(states(db)) == 8
    firmware, _ = load_firmware()
    # Provisioning loaded each board's account into the broker before its self-test logged in.
    with open_inventory(db) as inv:
        operator = credentials.ensure_fleet_account(inv, "fleet")
        password = credentials.password(inv, operator.username)
    watch = Watch(broker.port, f"pl/{SITE}/+/status", username=operator.username, password=password)
    try:
        poles = set()
        for vb in vbs:
            assert_flash_holds_bundle(vb, firmware)
            cfg = board_config(vb)
            poles.add(cfg["device"]["pole"])
            assert cfg["mqtt"]["username"] == cfg["device"]["id"] == vb.unique_id
            assert [b["selftest"]["broker"] for b in out["boards"] if b["chip_id"] == vb.unique_id] == [
                {"ok": True, "broker": f"127.0.0.1:{broker.port}", "user": vb.unique_id}]
        for vb in vbs:  # the firmware itself, with its own credentials
            watch.wait(lambda t, p, r, d=vb.unique_id: t == f"pl/{SITE}/{d}/status" and p == b"online",
                       timeout=60, what=f"{vb.name} online")
    finally:
        watch.close()
    assert len(poles) == 8                      # every board on a pole of its own
    assert len(out["labels"]) == 8 and all(Path(p).read_text().startswith("<svg") for p in out["labels"])
    assert_no_secret(run, db, vbs)
    assert_inventory_holds_no_password(db, vbs)


@pytest.mark.needs_power_cut
def test_power_cut_mid_sync_stays_unprovisioned_and_next_run_completes(rig, fleet):
    db, broker = fleet
    [vb] = rig.start(count=1, baud=115200)
    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "provision", "--vboards", "--home", str(rig.home),
                             "--db", str(db), *provision_args(broker),
                             "--wifi-ssid", "METZ-LIGHTS", "--street", STREET, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_sync_writing(vb, proc)
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
    assert_flash_holds_bundle(vb, firmware)


def test_laptop_side_killed_mid_sync_next_run_completes(rig, fleet):
    """The technician's laptop dies (or Ctrl-C) half-way: the board is left mid-transfer."""
    db, broker = fleet
    [vb] = rig.start(count=1, baud=115200)
    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "provision", "--vboards", "--home", str(rig.home),
                             "--db", str(db), *provision_args(broker),
                             "--wifi-ssid", "METZ-LIGHTS", "--street", STREET, "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_sync_writing(vb, proc)
    proc.kill()
    proc.wait()
    assert set(states(db).values()) == {"new"}
    run = provision(db, broker, rig.home, "--json")
    assert report(run)["ok"], run.stdout
    assert set(states(db).values()) == {"provisioned"}
    firmware, _ = load_firmware()
    assert_flash_holds_bundle(vb, firmware)


def test_reprovision_unchanged_copies_only_a_new_password_and_prints_wall_time(rig, fleet):
    db, broker = fleet
    [vb] = rig.start(count=1, baud=115200)
    assert provision(db, broker, rig.home, "--street", STREET).returncode == 0
    first = board_config(vb)["mqtt"]["password"]
    run = provision(db, broker, rig.home)   # the board is now running the firmware, watchdog armed
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 of 1 board(s) provisioned, wall time" in run.stdout
    out = report(provision(db, broker, rig.home, "--json"))
    # Each provisioning rotates the board's password: only config.json goes over again.
    assert out["boards"][0]["copied"] == ["config.json"] and out["boards"][0]["state"] == "provisioned"
    assert board_config(vb)["mqtt"]["password"] != first
    assert out["boards"][0]["seconds"] < 10
    with open_inventory(db) as inv:
        stored = credentials.get_account(inv, vb.unique_id).pw_hash
    assert credentials.verify_password(board_config(vb)["mqtt"]["password"], stored)
    assert_inventory_holds_no_password(db, [vb])


# An app logging at ~70% of the line's rate, with its watchdog armed, that shrugs off
# the first Ctrl-C. (A real UART holds back an app that prints faster than the
# line; the vboard queues it instead, so the rate stays under the line's.)
NOISY_LOOP = """\
import machine, time
wdt = machine.WDT(timeout=3000)
n = 0
ignored = 0
while True:
    try:
        print("log %d: lamp 80%% ina219 0.61 W bh1750 12.5 lx, mqtt reconnecting..." % n)
        n += 1
        wdt.feed()
        time.sleep_ms(10)
    except KeyboardInterrupt:
        ignored += 1
        if ignored > 1:
            raise
"""
# The same app behind the maintenance flag check, as the firmware's main.py does it.
NOISY_FIRMWARE = "import os\nif 'maintenance' not in os.listdir():\n" + "".join(
    "    " + line + "\n" for line in NOISY_LOOP.splitlines())


@pytest.mark.needs_reset
def test_busy_logging_board_is_provisioned_every_time(rig, fleet):
    db, broker = fleet
    [vb] = rig.start(count=1, baud=115200)
    # A fresh board whose main.py knows nothing of maintenance mode, then twice our own kind.
    for attempt, main in enumerate([NOISY_LOOP, NOISY_FIRMWARE, NOISY_FIRMWARE]):
        vb.rewrite_flash({"main.py": main, "maintenance": None})
        with vb.control() as c:
            c.wait_for(lambda st: st["wdt_ms"] == 3000, what="the noisy app running")
        run = provision(db, broker, rig.home, "--street", STREET, "--json")
        out = report(run)
        assert run.returncode == 0, (attempt, out)
        assert "main.py" in out["boards"][0]["copied"]
        assert "maintenance" not in vb.flash_files()
    assert set(states(db).values()) == {"provisioned"}


def test_dry_run_masks_secrets_and_changes_nothing(rig, fleet):
    db, broker = fleet
    [vb] = rig.start(count=1)
    assert provision(db, broker, rig.home, "--street", STREET).returncode == 0
    firmware, _ = load_firmware()
    before = {p: vb.read_flash(p) for p in [*firmware, "config.json"]}
    vb.rewrite_flash({"app/a/lampctl/lamp.mpy": b"stale"})   # something a real run would fix
    run = provision(db, broker, rig.home, "--dry-run")
    assert run.returncode == 0, run.stdout + run.stderr
    assert '"password": "********"' in run.stdout and '"wifi_key": "********"' in run.stdout
    assert "would copy 2 file(s)" in run.stdout     # lamp.mpy, and config.json: a real run rotates the password
    assert_no_secret(run, db, [vb])
    assert vb.read_flash("app/a/lampctl/lamp.mpy") == b"stale"
    assert {p: vb.read_flash(p) for p in before if p != "app/a/lampctl/lamp.mpy"} == \
        {p: b for p, b in before.items() if p != "app/a/lampctl/lamp.mpy"}
    assert set(states(db).values()) == {"provisioned"}
    moved = provision(db, broker, rig.home, "--dry-run", "--pole-label", f"pilotlight:{SITE}/P-05")
    assert moved.returncode == 0 and '"pole": "P-05"' in moved.stdout    # a scanned label names the pole
    assert set(states(db).values()) == {"provisioned"}


@pytest.mark.needs_sensor_faults
def test_a_failed_self_test_leaves_the_board_unprovisioned_and_says_what_failed(rig, fleet):
    db, broker = fleet
    [vb] = rig.start(count=1)
    with vb.control() as c:
        c.fault("sensor_gone", True, address=0x23)     # the light sensor's cable is off
    run = provision(db, broker, rig.home, "--street", STREET, "--json")
    out = report(run)
    board = out["boards"][0]
    assert run.returncode == 1 and not board["ok"] and board["step"] == "self-test"
    assert "sensors" in board["error"]
    assert board["selftest"]["sensors"]["missing"] == ["bh1750@0x23"]
    assert board["selftest"]["lamp"]["ok"] and board["selftest"]["broker"]["ok"]
    assert set(states(db).values()) == {"new"}
    with vb.control() as c:
        c.fault("sensor_gone", False, address=0x23)    # cable back on: the next run completes
    assert report(provision(db, broker, rig.home, "--json"))["ok"]
    assert set(states(db).values()) == {"provisioned"}


@pytest.mark.needs_power_cut
def test_a_board_gone_mid_session_is_a_one_line_error_naming_its_port(rig, capsys):
    """The supply drops while provisioning talks to the board: the technician reads which
    port stopped answering, and nothing but the tool's own report reaches stdout."""
    from hil_tests.support.console import released
    from host_tools.provision.session import Session
    [vb] = rig.start(count=1)
    with released(vb.port), Session(vb.port) as session:
        session.enter_maintenance()
        assert session.chip_id() == vb.unique_id
        with vb.control() as c:
            c.power_cut()
        with pytest.raises(TimeoutError) as failure:
            session.exec("print('still there?')", timeout=2)
    message = str(failure.value)
    assert message.startswith(f"{vb.port}: the board stopped answering") and "\n" not in message
    assert capsys.readouterr().out == ""
