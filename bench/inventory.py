"""Issue 5 figures (inventory and broker): importing and exporting a district's
GIS file of 2,000 poles, writing the broker's files for 2,000 boards, the cost
of one password check on the broker, and the wall time of `broker check`."""
import csv
import hashlib
import io
import tempfile
import time
from pathlib import Path

from host_tools.broker.check import identities_from_inventory, run_check
from host_tools.broker.credentials import ITERATIONS
from host_tools.broker.local import local_broker
from host_tools.inventory import boards, open_inventory
from host_tools.inventory.geojson import export_geojson
from host_tools.inventory.gis_csv import export_csv, import_csv

POLES = 2000


def _csv() -> str:
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["pole_id", "site", "district", "street", "position", "lat", "lon"])
    for i in range(POLES):
        w.writerow([f"P{i:05d}", "metz", f"D{i // 500}", f"Street {i // 50}", i % 50 + 1,
                    repr(round(49.1 + i * 1e-5, 7)), repr(round(6.17 + i * 1e-5, 7))])
    return buf.getvalue()


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def measure():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "poles.csv").write_text(_csv())
        with open_inventory(tmp / "inv.sqlite", create=True) as inv:
            seconds, _ = _timed(lambda: import_csv(inv, tmp / "poles.csv"))
            yield "inventory_import_2000_poles", seconds, "s"
            seconds, _ = _timed(lambda: export_csv(inv, io.StringIO()))
            yield "inventory_export_csv_2000_poles", seconds, "s"
            seconds, _ = _timed(lambda: export_geojson(inv, io.StringIO()))
            yield "inventory_export_geojson_2000_poles", seconds, "s"
            for i in range(POLES):
                boards.register(inv, f"240ac4{i:06x}", "esp32-devkitc", actor="bench")
                boards.bind_pole(inv, f"240ac4{i:06x}", f"P{i:05d}", actor="bench")
            seconds, broker = _timed(lambda: local_broker(inv, tmp / "broker"))
            yield "broker_config_2000_boards", seconds, "s"
            n = 200
            seconds, _ = _timed(lambda: [hashlib.pbkdf2_hmac("sha512", b"x" * 32, b"s" * 12, ITERATIONS)
                                         for _ in range(n)])
            yield "broker_password_check", seconds / n * 1000, "ms"
            with broker:
                a, b, fleet = identities_from_inventory(inv)
                seconds, probes = _timed(lambda: run_check("127.0.0.1", broker.port, a, b, fleet))
            yield "broker_check_wall", seconds, "s"
            yield "broker_check_probes_passed", sum(p.passed for p in probes), f"of {len(probes)}"
