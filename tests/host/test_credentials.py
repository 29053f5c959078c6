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
    boards.set_state(inv, CHIPS[1], "retired")
    with local_broker(inv, tmp_path / "broker") as broker:
        a = accounts[CHIPS[0]]
        assert connect(broker.port, a.username, a.password) == "Success"
        assert connect(broker.port, a.username, a.password[:-1] + "?") == "Not authorized"
        assert connect(broker.port, a.username, accounts[CHIPS[1]].password) == "Not authorized"
        retired = accounts[CHIPS[1]]
        assert connect(broker.port, retired.username, retired.password) == "Not authorized"


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
    secrets = [a.password for a in credentials.list_accounts(inv)] + [a.pw_hash for a in credentials.list_accounts(inv)]
    assert len(secrets) == 8   # two boards, fleet, dashboard: passwords and hashes
    text = "".join(r.stdout + r.stderr for r in outputs) + "".join(repr(a) for a in credentials.list_accounts(inv))
    assert CHIPS[0] in text and "dashboard" in text
    for secret in secrets:
        assert secret not in text
