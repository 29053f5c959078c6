"""The audit log: append-only through SQLite, and an edit by any other means
is caught by `pilotlight audit verify`."""
import json
import sqlite3
import subprocess
import sys

import pytest

from host_tools.audit import entries, record, verify
from host_tools.inventory import open_inventory


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "inv.sqlite"
    with open_inventory(path, create=True) as inv:
        record(inv, "fleet.command", "district:centre", "ok: 2000, refused: 0, silent: 0", {"id": "c1"}, actor="ann")
        record(inv, "rollout.start", "district:centre", "started", {"rollout": 1}, actor="bob")
        record(inv, "broker.rotate", "account:240ac4000001", "done", actor="ann")
    return path


def audit(db, *args):
    return subprocess.run([sys.executable, "-m", "host_tools", "audit", "--db", str(db), *args],
                          capture_output=True, text=True, timeout=60)


def test_an_intact_log_verifies_and_filters(db):
    run = audit(db, "verify")
    assert run.returncode == 0 and "3 entries" in run.stdout
    found = json.loads(audit(db, "--action", "rollout", "--json").stdout)
    assert [e["action"] for e in found] == ["rollout.start"]
    assert [e["target"] for e in json.loads(audit(db, "--actor", "ann", "--json").stdout)] == [
        "district:centre", "account:240ac4000001"]


def test_sqlite_refuses_to_change_or_delete_an_entry(db):
    with open_inventory(db) as inv:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            inv.conn.execute("UPDATE audit_log SET outcome = 'nothing' WHERE id = 2")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            inv.conn.execute("DELETE FROM audit_log WHERE id = 2")


def test_an_edit_made_around_the_triggers_is_found(db):
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 2")
    conn.commit()
    conn.close()
    run = audit(db, "verify")
    assert run.returncode == 1
    assert "entry 2" in run.stderr and "edited" in run.stderr and "audit_log_no_update" in run.stderr


def test_a_removed_entry_breaks_the_chain(db):
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE id = 2")
    conn.commit()
    conn.close()
    with open_inventory(db) as inv:
        problems = verify(inv)
        assert any("entry 2: missing" in p for p in problems)
        assert any(p.startswith("entry 3: does not follow") for p in problems)
        record(inv, "fleet.sync", "site:metz", "ok")   # the log goes on; the break stays visible
        assert len(entries(inv)) == 3 and verify(inv)


def test_a_log_cut_short_is_caught_against_an_anchor_kept_elsewhere(db):
    anchor = audit(db, "head").stdout.strip()
    assert anchor.startswith("3:") and audit(db, "verify", "--anchor", anchor).returncode == 0
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE id = 3")   # the last entry: what is left still chains
    conn.execute("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                 "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
    conn.commit()
    conn.close()
    assert audit(db, "verify").returncode == 0               # without the anchor, nothing shows
    run = audit(db, "verify", "--anchor", anchor)
    assert run.returncode == 1 and "entry 3: gone" in run.stderr and "cut short" in run.stderr
    bad = audit(db, "verify", "--anchor", "3:beef")
    assert bad.returncode == 2 and "expected ID:HASH" in bad.stderr
