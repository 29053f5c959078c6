"""Issue 5 figures: `pilotlight provision` on vboards throttled to 115200 baud,
against the line's limit and against plain `mpremote fs cp -r` of the same bundle."""
import tempfile
import time
from pathlib import Path
from statistics import median

from hil_tests.rig.virtual import VirtualRig
from hil_tests.support.firmware import bundle_files
from host_tools.broker.local import local_broker
from host_tools.provision.broker_load import BrokerLoad
from host_tools.inventory import open_inventory, places
from host_tools.inventory.gis_csv import import_csv
from host_tools.provision import render, transfer
from host_tools.provision.flow import Job, load_firmware
from host_tools.provision.parallel import provision_all
from host_tools.provision.ports import vboard_ports
from host_tools.provision.session import Session
from host_tools.vboard.flash import IMAGE_BYTES

BAUD = 115200
LINE_BYTES_PER_S = BAUD / 10
BOARDS = 8
COPY_RUNS = 3


def _inventory(tmp: Path) -> Path:
    csv = tmp / "poles.csv"
    csv.write_text("pole_id,site,district,street,position,lat,lon\n"
                   + "".join(f"P-{i},metz,Centre,Rue A,{i},49.1{i:02d},6.17\n" for i in range(1, BOARDS + 1)))
    db = tmp / "inv.sqlite"
    with open_inventory(db, create=True) as inv:
        import_csv(inv, csv)
        places.ensure_site(inv, "metz", tz="CET-1CEST,M3.5.0,M10.5.0/3")
    return db


def _wipe(rig_boards) -> None:
    """Fresh boards: an erased flash (the first boot formats it), powered up again."""
    for b in rig_boards:
        with b.control() as c:
            c.power_cut()
            b.flash.write_bytes(b"\xff" * IMAGE_BYTES)
            c.power_on()
    time.sleep(1.0)


def _mpremote_copy(port: str, files: dict[str, bytes]) -> float:
    """mpremote's own transport doing what `mpremote fs cp -r` does (a mkdir per
    folder, a write per file), timed from its raw REPL on."""
    from mpremote.transport_serial import SerialTransport
    t = SerialTransport(port, baudrate=BAUD)
    try:
        t.enter_raw_repl(soft_reset=False)
        t0 = time.perf_counter()
        for folder in sorted({str(d) for p in files for d in Path(p).parents} - {"."}):
            t.fs_mkdir(folder)
        for path, data in sorted(files.items()):
            t.fs_writefile(path, data)
        return time.perf_counter() - t0
    finally:
        t.exit_raw_repl()
        t.close()


def _timed(ports, job):
    t0 = time.perf_counter()
    results = provision_all(ports, job, bars=False)
    bad = [r for r in results if not r.ok]
    if bad:
        raise RuntimeError(f"provisioning failed: {bad[0].port} at {bad[0].step}: {bad[0].error}")
    return time.perf_counter() - t0, results


def measure():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = _inventory(tmp)
        rig = VirtualRig(tmp / "home")
        with open_inventory(db) as inv:
            broker = local_broker(inv, tmp / "broker")
        broker.start()
        try:
            vbs = rig.start("pb", count=BOARDS, baud=BAUD)
            ports = {p.path: p for p in vboard_ports(rig.home)}
            firmware, version = load_firmware()
            job = Job(db=db, net=render.Network("127.0.0.1", broker.port, "METZ", "key"), firmware=firmware,
                      firmware_version=version, street="Rue A", baud=BAUD,
                      broker=BrokerLoad(broker.files.directory, f"kill -HUP {broker.proc.pid}"))
            first = ports[vbs[0].port]

            one, [r] = _timed([first], job)
            yield "provision seconds per board", one, "s"
            yield "provision vs transfer lower bound", one / (r.bytes_sent / LINE_BYTES_PER_S), "ratio"
            again, _ = _timed([first], job)
            yield "incremental re-provision seconds", again, "s"

            # The same bundle (firmware + this board's config) both ways, onto fresh boards.
            bundle = tmp / "bundle"
            for path, data in {**firmware, "config.json": vbs[0].read_flash("config.json")}.items():
                (bundle / path).parent.mkdir(parents=True, exist_ok=True)
                (bundle / path).write_bytes(data)
            # Timed the same way: both connected and at the board's prompt first (not
            # timed), then the copy alone; fresh boards each run.
            files = bundle_files(bundle)
            cps, ours = [], []
            for _ in range(COPY_RUNS):
                _wipe(vbs[1:3])
                cps.append(_mpremote_copy(vbs[1].port, files))
                with Session(vbs[2].port, BAUD) as session:
                    session.enter_maintenance()
                    t0 = time.perf_counter()
                    transfer.sync(session, files)
                    ours.append(time.perf_counter() - t0)
            speedup = [a / b for a, b in zip(cps, ours)]
            for name, values, unit in (("mpremote fs cp same bundle seconds", cps, "s"),
                                       ("provision sync same bundle seconds", ours, "s"),
                                       ("provision speed-up vs mpremote cp", speedup, "ratio")):
                yield name, median(values), unit
                yield f"{name} range over {len(values)} runs", f"{min(values):.4g}-{max(values):.4g}", unit

            _wipe(vbs)
            many, _ = _timed([ports[b.port] for b in vbs], job)
            yield "parallel 8 boards seconds", many, "s"
            yield "parallel 8 boards speed-up vs 1", BOARDS * one / many, "ratio"
        finally:
            broker.stop()
            rig.stop()
