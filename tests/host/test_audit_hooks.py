"""Operator actions outside the fleet commands land in the audit log too:
broker accounts and files, and retiring a board."""
import json

from click.testing import CliRunner

from host_tools.cli import cli
from host_tools.inventory import boards, open_inventory


class Ran:
    def __init__(self, result):
        self.returncode, self.stdout = result.exit_code, result.output


def run(db, *args):
    return Ran(CliRunner().invoke(cli, list(args)))


def test_broker_account_changes_and_a_retirement_are_audited(tmp_path, monkeypatch):
    monkeypatch.setenv("PILOTLIGHT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PILOTLIGHT_ACTOR", "ann@depot")
    db = tmp_path / "inv.sqlite"
    with open_inventory(db, create=True) as inv:
        boards.register(inv, "240ac4000001", "esp32-devkitc")
    assert run(db, "broker", "--db", str(db), "fleet-account", "night-shift", "--role", "monitor").returncode == 0
    assert run(db, "broker", "--db", str(db), "rotate", "night-shift").returncode == 0
    assert run(db, "broker", "--db", str(db), "config", "--dir", str(tmp_path / "broker")).returncode == 0
    assert run(db, "inventory", "--db", str(db), "set-state", "240ac4000001", "retired",
               "--reason", "pole knocked down").returncode == 0
    log = json.loads(run(db, "audit", "--db", str(db), "--json").stdout)
    assert [(e["action"], e["target"], e["actor"]) for e in log] == [
        ("broker.account", "account:night-shift", "ann@depot"), ("broker.rotate", "account:night-shift", "ann@depot"),
        ("broker.config", "broker:127.0.0.1:1883", "ann@depot"), ("retire", "board:240ac4000001", "ann@depot")]
    assert log[-1]["detail"] == {"reason": "pole knocked down"}
    assert run(db, "audit", "--db", str(db), "verify").returncode == 0
