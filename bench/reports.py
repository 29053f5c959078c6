"""Issue 14 figures: the history's size per lamp per day, and the energy
report over 10,000 lamps and 30 days.

A street of 50 lamps lives a simulated month through `History.record` (the
collector's path); its history is then copied onto 10,000 poles, so the
report reads a district's month as the collector would have stored it."""
import statistics
import tempfile
import time
from pathlib import Path

from host_tools.inventory import open_inventory
from host_tools.paths import firmware_module
from host_tools.reports import baseline
from host_tools.reports.energy import energy_report
from host_tools.reports.simulate import simulate

tz = firmware_module("tz")
LAMPS, STREET, DAYS = 10_000, 50, 30
DAY0 = tz.days_from_civil(2026, 10, 1)
PROGRAM = {"id": "district", "steps": [{"at": "sunset", "level": 100, "fade": 60},
                                       {"at": "22:30", "level": 50, "fade": 300},
                                       {"at": "00:30", "level": 30, "fade": 300},
                                       {"at": "05:30", "level": 70, "fade": 300},
                                       {"at": "sunrise", "level": 0, "fade": 60}]}


def _district(inv) -> None:
    """10,000 poles on 200 streets, each with a board (plain SQL: set-up, not measured)."""
    t = "2026-10-01T00:00:00Z"
    c = inv.conn
    c.execute("BEGIN")
    c.execute("INSERT INTO sites (id, name, tz, created_at) VALUES ('metz', 'Metz', 'CET-1CEST,M3.5.0,M10.5.0/3', ?)",
              (t,))
    c.execute("INSERT INTO districts (id, site_id, name, slug) VALUES (1, 'metz', 'Nord', 'nord')")
    c.executemany("INSERT INTO streets (id, district_id, name, slug) VALUES (?, 1, ?, ?)",
                  [(s, f"Street {s:03d}", f"street-{s:03d}") for s in range(LAMPS // STREET)])
    c.executemany("INSERT INTO poles (id, street_id, position, lat, lon) VALUES (?, ?, ?, ?, ?)",
                  [(f"P{i:05d}", i // STREET, i % STREET + 1, 49.1 + i * 1e-5, 6.17 + i * 1e-5) for i in range(LAMPS)])
    c.executemany("INSERT INTO boards (chip_id, device_id, board_type, state, pole_id, created_at, created_by, state_at,"
                  " state_by) VALUES (?, ?, 'esp32-devkitc', 'commissioned', ?, ?, 'bench', ?, 'bench')",
                  [(f"240ac4{i:06x}", f"240ac4{i:06x}", f"P{i:05d}", t, t) for i in range(LAMPS)])
    c.execute("COMMIT")


def _history_bytes(inv) -> int:
    return sum(r[0] for r in inv.query("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'hist_%' "
                                       "OR name LIKE 'sqlite_autoindex_hist_%'"))


def _copy_street_to_district(inv) -> None:
    """Every other street gets the first street's history, pole by pole."""
    c = inv.conn
    c.execute("BEGIN")
    c.execute("INSERT INTO hist_sources (id, device_id, pole_id) SELECT 1000000 + i, 'copy', 'P' || printf('%05d', i)"
              " FROM (WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?) SELECT i FROM n)",
              (STREET, LAMPS - 1))
    for table, cols in (("hist_energy", "t, mwh"), ("hist_level", "t, level, mode")):
        c.execute(f"INSERT INTO {table} (src, {cols}) SELECT 1000000 + p.rowid - 1, {cols} FROM {table} h "
                  f"JOIN hist_sources s ON s.id = h.src JOIN poles p0 ON p0.id = s.pole_id "
                  f"JOIN poles p ON p.position = p0.position AND p.street_id > 0 AND p.seq > ?", (STREET,))
    c.execute("COMMIT")


def measure():
    with tempfile.TemporaryDirectory() as tmp:
        with open_inventory(Path(tmp) / "inv.sqlite", create=True) as inv:
            _district(inv)
            simulate(inv, "metz", PROGRAM, "CET-1CEST,M3.5.0,M10.5.0/3", DAY0, DAYS, street="Street 000")
            yield "history bytes per lamp per day", round(_history_bytes(inv) / (STREET * DAYS)), "B"
            _copy_street_to_district(inv)
            runs = []
            for _ in range(3):
                baseline._night.cache_clear()                 # every run computes its own sun times
                start = time.perf_counter()
                report = energy_report(inv, "metz", DAY0, DAY0 + DAYS)
                runs.append(time.perf_counter() - start)
            assert sum(r.seen for r in report.lamps) == LAMPS, "the copied history did not reach every pole"
            yield "report energy 10000 lamps 30 days", statistics.median(runs), "s"
