"""The inventory: file, schema, boards' life cycle, pole binding, attempts, groups, CLI."""
import json
import sqlite3
import stat
import threading

import pytest
from click.testing import CliRunner

from host_tools.cli import cli
from host_tools.inventory import Conflict, InventoryError, boards, groups, open_inventory
from host_tools.inventory.db import SCHEMA_VERSION
from host_tools.inventory.gis_csv import import_csv

CSV = """pole_id,site,district,street,position,lat,lon
A-3,lyon,Centre,Rue Garibaldi,3,45.7603,4.8503
A-1,lyon,Centre,Rue Garibaldi,1,45.7601,4.8501
A-2,lyon,Centre,Rue Garibaldi,2,45.7602,4.8502
B-1,lyon,Centre,Quai Perrache,1,45.7501,4.8201
B-2,lyon,Centre,Quai Perrache,2,45.7502,4.8202
"""
CHIP = "240ac4a1b2c3"


@pytest.fixture
def inv(tmp_path):
    (tmp_path / "poles.csv").write_text(CSV)
    with open_inventory(tmp_path / "inv.sqlite", create=True) as inv:
        assert import_csv(inv, tmp_path / "poles.csv").imported
        yield inv


def test_new_inventory_is_owner_only_and_at_the_current_schema(tmp_path):
    path = tmp_path / "sub" / "inv.sqlite"
    open_inventory(path, create=True).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_missing_inventory_is_not_created_by_accident(tmp_path):
    with pytest.raises(InventoryError, match="inventory init"):
        open_inventory(tmp_path / "none.sqlite")
    assert not (tmp_path / "none.sqlite").exists()


def test_an_inventory_from_a_newer_pilotlight_is_refused_untouched(tmp_path):
    path = tmp_path / "inv.sqlite"
    open_inventory(path, create=True).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(InventoryError, match="newer"):
        open_inventory(path)
    assert path.read_bytes() == before


def test_register_is_keyed_on_the_chip_id_whatever_its_spelling(inv):
    a = boards.register(inv, "24:0A:C4:A1:B2:C3", "esp32-devkitc", actor="tech1")
    b = boards.register(inv, CHIP, "esp32-devkitc", actor="tech2")
    assert a.chip_id == b.chip_id == CHIP
    assert a.state == "new" and a.created_by == "tech1"
    assert len(boards.list_boards(inv)) == 1
    with pytest.raises(InventoryError, match="chip id"):
        boards.register(inv, "/dev/ttyUSB0", "esp32-devkitc")


def test_life_cycle_records_when_and_who_and_refuses_illegal_steps(inv):
    boards.register(inv, CHIP, "esp32-devkitc")
    with pytest.raises(Conflict, match="new: it cannot become commissioned"):
        boards.set_state(inv, CHIP, "commissioned", actor="op")
    boards.bind_pole(inv, CHIP, "A-1", actor="tech")
    boards.set_state(inv, CHIP, "provisioned", actor="tech")
    b = boards.set_state(inv, CHIP, "commissioned", actor="op", reason="lamp seen on")
    assert (b.state, b.state_by) == ("commissioned", "op") and b.state_at.endswith("Z")
    states = [(e.detail["old"], e.detail["new"], e.actor) for e in boards.events(inv, CHIP) if e.kind == "state"]
    assert states == [("new", "provisioned", "tech"), ("provisioned", "commissioned", "op")]


def test_retiring_frees_the_pole_for_the_replacement_board(inv):
    boards.register(inv, CHIP, "esp32-devkitc")
    boards.bind_pole(inv, CHIP, "A-1")
    retired = boards.set_state(inv, CHIP, "retired")
    assert retired.pole_id is None
    boards.register(inv, "240ac4000009", "esp32-devkitc")
    assert boards.bind_pole(inv, "240ac4000009", "A-1").pole_id == "A-1"
    with pytest.raises(Conflict, match="retired"):
        boards.bind_pole(inv, CHIP, "A-2")


def test_a_taken_pole_is_refused_and_nothing_is_written(inv):
    boards.register(inv, CHIP, "esp32-devkitc")
    boards.register(inv, "240ac4000002", "esp32-devkitc")
    boards.bind_pole(inv, CHIP, "A-1")
    events_before = len(boards.events(inv, "240ac4000002"))
    with pytest.raises(Conflict, match="pole A-1 already has board 240ac4a1b2c3"):
        boards.bind_pole(inv, "240ac4000002", "A-1")
    assert boards.get(inv, "240ac4000002").pole_id is None
    assert len(boards.events(inv, "240ac4000002")) == events_before


def test_moving_a_provisioned_board_needs_move_and_sends_it_back_to_new(inv):
    boards.register(inv, CHIP, "esp32-devkitc")
    boards.bind_pole(inv, CHIP, "A-1")
    boards.set_state(inv, CHIP, "provisioned")
    with pytest.raises(Conflict, match="--move"):
        boards.bind_pole(inv, CHIP, "B-1")
    moved = boards.bind_pole(inv, CHIP, "B-1", move=True)
    assert (moved.pole_id, moved.state) == ("B-1", "new")


def test_next_free_pole_follows_the_street_order_and_a_rerun_resumes(inv):
    for n in range(1, 4):
        boards.register(inv, f"240ac400000{n}", "esp32-devkitc")
    got = [boards.bind_next_free_pole(inv, f"240ac400000{n}", "Rue Garibaldi").pole_id for n in range(1, 4)]
    assert got == ["A-1", "A-2", "A-3"]          # by position, not by import order
    assert boards.bind_next_free_pole(inv, "240ac4000002", "Rue Garibaldi").pole_id == "A-2"
    boards.register(inv, "240ac4000004", "esp32-devkitc")
    with pytest.raises(Conflict, match="no free pole left"):
        boards.bind_next_free_pole(inv, "240ac4000004", "Rue Garibaldi")


def test_parallel_technicians_never_get_the_same_pole(tmp_path):
    rows = "".join(f"P{i},lyon,Centre,Long Street,{i},45.{i:04d},4.8\n" for i in range(1, 21))
    (tmp_path / "p.csv").write_text("pole_id,site,district,street,position,lat,lon\n" + rows)
    path = tmp_path / "inv.sqlite"
    with open_inventory(path, create=True) as inv:
        import_csv(inv, tmp_path / "p.csv")
        for n in range(8):
            boards.register(inv, f"240ac40000{n:02d}", "esp32-devkitc")
    got, errors = [], []

    def technician(n):
        try:
            with open_inventory(path) as mine:   # one connection per thread
                got.append(boards.bind_next_free_pole(mine, f"240ac40000{n:02d}", "Long Street").pole_id)
        except Exception as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=technician, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sorted(got, key=lambda p: int(p[1:])) == [f"P{i}" for i in range(1, 9)]


def test_a_failed_attempt_leaves_the_board_new_and_a_passed_one_provisions_it(inv):
    boards.register(inv, CHIP, "esp32-devkitc")
    boards.bind_pole(inv, CHIP, "A-1")
    first = boards.start_attempt(inv, CHIP, port="/dev/serial/by-path/usb-1", actor="tech")
    b = boards.finish_attempt(inv, first, ok=False, step="sync", detail={"error": "board unplugged"})
    assert b.state == "new"
    second = boards.start_attempt(inv, CHIP, port="/dev/serial/by-path/usb-1", actor="tech")
    b = boards.finish_attempt(inv, second, ok=True, step="self-test", firmware_version="0.3.0")
    assert (b.state, b.firmware_version, b.state_by) == ("provisioned", "0.3.0", "tech")
    history = boards.attempts(inv, CHIP)
    assert [(a.ok, a.step) for a in history] == [(False, "sync"), (True, "self-test")]
    assert history[0].detail == {"error": "board unplugged"}
    with pytest.raises(Conflict, match="already finished"):
        boards.finish_attempt(inv, second, ok=True, step="again")


def test_an_unbound_board_cannot_be_marked_provisioned(inv):
    boards.register(inv, CHIP, "esp32-devkitc")
    attempt = boards.start_attempt(inv, CHIP)
    with pytest.raises(Conflict, match="no pole"):
        boards.finish_attempt(inv, attempt, ok=True, step="self-test")
    assert boards.get(inv, CHIP).state == "new"
    assert boards.attempts(inv, CHIP)[0].finished_at is None     # rolled back as a whole


def test_a_board_listens_to_its_district_street_and_custom_groups(inv):
    boards.register(inv, CHIP, "esp32-devkitc")
    assert groups.for_board(inv, CHIP) == []
    boards.bind_pole(inv, CHIP, "B-2")
    groups.create(inv, "lyon", "festival")
    groups.add_board(inv, "lyon", "festival", CHIP)
    assert groups.for_board(inv, CHIP) == ["centre", "centre.quai-perrache", "festival"]
    with pytest.raises(Conflict, match="district"):
        groups.create(inv, "lyon", "centre")


def test_cli_lists_and_shows_with_json_and_clear_exit_codes(inv, tmp_path):
    boards.register(inv, CHIP, "esp32-devkitc", actor="tech")
    boards.bind_pole(inv, CHIP, "A-2", actor="tech")
    run = CliRunner().invoke
    db = ["inventory", "--db", str(inv.path)]
    result = run(cli, db + ["boards", "--json"])
    assert result.exit_code == 0
    assert [(b["chip_id"], b["pole_id"], b["site"]) for b in json.loads(result.stdout)] == [(CHIP, "A-2", "lyon")]
    result = run(cli, db + ["poles", "--street", "Rue Garibaldi", "--free", "--json"])
    assert [p["id"] for p in json.loads(result.stdout)] == ["A-3", "A-1"]
    shown = json.loads(run(cli, db + ["show", CHIP, "--json"]).stdout)
    assert shown["groups"] == "centre, centre.rue-garibaldi"
    assert [e["kind"] for e in shown["events"]] == ["registered", "bind"]
    missing = run(cli, db + ["show", "nope"])
    assert missing.exit_code == 3 and "neither a pole id nor a board" in missing.stderr
    illegal = run(cli, db + ["set-state", CHIP, "commissioned"])
    assert illegal.exit_code == 3 and "cannot become commissioned" in illegal.stderr
    assert run(cli, ["inventory", "--db", str(tmp_path / "x.sqlite"), "boards"]).exit_code == 3
