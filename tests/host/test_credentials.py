"""Per-device MQTT credentials: Mosquitto's own hash format, owner-only files, never shown."""
import re
import shutil
import stat
import subprocess
import threading

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion

from host_tools.broker import credentials
from host_tools.broker.local import local_broker
from host_tools.cli import cli
from host_tools.inventory import boards, open_inventory
from host_tools.inventory.gis_csv import import_csv

CHIPS = ["240ac4000001", "240ac4000002"]


@pytest.fixture
def inv(tmp_path):
    (tmp_path / "p.csv").write_text("pole_id,site,district,street,position,lat,lon\n"
                                    "P1,metz,Centre,Rue A,1,49.1,6.1\nP2,metz,Centre,Rue A,2,49.2,6.2\n")
    with open_inventory(tmp_path / "inv.sqlite", create=True) as inv:
        import_csv(inv, tmp_path / "p.csv")
        for chip in CHIPS:
            boards.register(inv, chip, "esp32-devkitc")
            boards.bind_next_free_pole(inv, chip, "Rue A")
        yield inv


def connect(port, username, password, timeout=5.0):
    """The broker's answer to a CONNECT: 'Success' or the refusal."""
    answer, done = [], threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{username}")
    client.username_pw_set(username, password)
    client.on_connect = lambda c, u, f, reason, p: (answer.append(str(reason)), done.set())
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert done.wait(timeout), "no CONNACK"
        return answer[0]
    finally:
        client.disconnect()
        client.loop_stop()


def test_hash_is_mosquittos_pbkdf2_sha512_format():
    h = credentials.hash_password("correct horse")
    assert re.fullmatch(r"\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==", h)
    assert credentials.verify_password("correct horse", h)
    assert not credentials.verify_password("correct horsE", h)
    assert credentials.hash_password("x") != credentials.hash_password("x")     # salted


@pytest.mark.skipif(not shutil.which("mosquitto_passwd"), reason="mosquitto_passwd not installed")
def test_we_read_the_hashes_mosquitto_passwd_writes(tmp_path):
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(tmp_path / "pw"), "alice", "s3cret"], check=True)
    pw_hash = (tmp_path / "pw").read_text().strip().split(":", 1)[1]
    assert credentials.verify_password("s3cret", pw_hash) and not credentials.verify_password("s3cre", pw_hash)


def test_the_real_broker_accepts_each_board_and_refuses_wrong_or_retired(inv, tmp_path):
    accounts = {c: credentials.ensure_board_account(inv, c) for c in CHIPS}
    passwords = {c: credentials.issue_password(inv, c) for c in CHIPS}     # as provisioning does
    boards.set_state(inv, CHIPS[1], "retired")
    with local_broker(inv, tmp_path / "broker") as broker:
        a = accounts[CHIPS[0]]
        assert connect(broker.port, a.username, passwords[CHIPS[0]]) == "Success"
        assert connect(broker.port, a.username, passwords[CHIPS[0]][:-1] + "?") == "Not authorized"
        assert connect(broker.port, a.username, passwords[CHIPS[1]]) == "Not authorized"
        retired = accounts[CHIPS[1]]
        assert connect(broker.port, retired.username, passwords[CHIPS[1]]) == "Not authorized"


def test_broker_files_keys_and_inventory_are_owner_only(inv, tmp_path):
    broker = local_broker(inv, tmp_path / "broker", tls=True)
    files = broker.files
    private = [files.conf, files.passwd, files.acl, inv.path, *files.tls.glob("*.key"), *files.tls.glob("*.pem")]
    assert len(private) >= 10
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_passwords_never_appear_in_cli_output_or_reprs(inv, tmp_path):
    run = CliRunner().invoke
    db = ["--db", str(inv.path)]
    outputs = [run(cli, ["broker", *db, "config", "--dir", str(tmp_path / "b")]),
               run(cli, ["broker", *db, "fleet-account", "dashboard", "--role", "monitor"]),
               run(cli, ["broker", *db, "rotate", CHIPS[0]]),
               run(cli, ["broker", *db, "config", "--dir", str(tmp_path / "b")]),
               run(cli, ["broker", *db, "accounts"]),
               run(cli, ["broker", *db, "accounts", "--json"]),
               run(cli, ["inventory", *db, "show", CHIPS[0], "--json"]),
               run(cli, ["inventory", *db, "boards", "--json"])]
    assert all(r.exit_code == 0 for r in outputs), [r.output for r in outputs]
    accounts = credentials.list_accounts(inv)
    secrets = [credentials.password(inv, a.username) for a in accounts if a.kind != "board"] + \
        [a.pw_hash for a in accounts]
    assert len(secrets) == 4 + 6   # fleet, dashboard, two probes: passwords; with two boards: hashes
    text = "".join(r.stdout + r.stderr for r in outputs) + "".join(repr(a) for a in credentials.list_accounts(inv))
    assert CHIPS[0] in text and "dashboard" in text
    for secret in secrets:
        assert secret not in text


def test_an_old_inventory_with_clear_passwords_is_migrated_and_loses_nothing(tmp_path):
    """Schemas before 3 kept every password in clear: after the migration the file holds none of
    them, boards keep their hashes (they stay online), the fleet's moved to the secrets file."""
    import sqlite3

    from host_tools.broker import secret_store
    from host_tools.inventory.schema import MIGRATIONS, _password_hashes_only
    old = tmp_path / "old.sqlite"
    board_pw, fleet_pw = credentials.new_password(), credentials.new_password()
    conn = sqlite3.connect(old)
    before = [m for m in MIGRATIONS[:MIGRATIONS.index(_password_hashes_only)]]
    for m in before:
        conn.executescript(m)
    conn.execute("INSERT INTO boards VALUES ('240ac4000009', '240ac4000009', 'esp32-devkitc', NULL, 'provisioned', "
                 "NULL, 't', 'a', 't', 'a')")
    conn.executemany("INSERT INTO mqtt_accounts VALUES (?, ?, ?, ?, ?, ?, 't')",
                     [("240ac4000009", "board", "240ac4000009", None, board_pw, credentials.hash_password(board_pw)),
                      ("fleet", "fleet", None, "operator", fleet_pw, credentials.hash_password(fleet_pw))])
    conn.execute(f"PRAGMA user_version = {len(before)}")
    conn.commit()
    conn.close()
    assert board_pw.encode() in old.read_bytes()

    with open_inventory(old) as inv:
        assert credentials.password(inv, "fleet") == fleet_pw
        assert credentials.verify_password(board_pw, credentials.get_account(inv, "240ac4000009").pw_hash)
        with pytest.raises(credentials.Conflict, match="on the board only"):
            credentials.password(inv, "240ac4000009")
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("old.sqlite*"))
    assert board_pw.encode() not in stored and fleet_pw.encode() not in stored
    assert stat.S_IMODE(secret_store.path().stat().st_mode) == 0o600


def test_fleet_passwords_come_from_the_environment_or_the_users_own_file(inv, tmp_path, monkeypatch):
    acc = credentials.ensure_fleet_account(inv, "dashboard", "monitor")
    mine = credentials.password(inv, acc.username)
    monkeypatch.setenv("PILOTLIGHT_MQTT_PASSWORD", "from-the-secret-manager")
    assert credentials.password(inv, acc.username) == "from-the-secret-manager"
    monkeypatch.delenv("PILOTLIGHT_MQTT_PASSWORD")
    monkeypatch.setenv("PILOTLIGHT_SECRETS", str(tmp_path / "someone-else.json"))    # another operator
    with pytest.raises(credentials.NotFound, match="no password for MQTT account 'dashboard'"):
        credentials.password(inv, acc.username)
    assert mine.encode() not in inv.path.read_bytes()
