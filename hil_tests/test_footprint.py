"""The firmware's footprint on the ESP32-shaped interpreter (issue 11)."""
import json
import os

import pytest

from hil_tests.support.firmware import bundle_files, deploy_firmware, firmware_bundle, mpremote
from hil_tests.support.fleet import Fleet
from hil_tests.support.footprint import control_loop_allocation
from hil_tests.support.lamp import duty_at, lamp_config, render_config, topics
from host_tools.paths import firmware_module

pytestmark = [pytest.mark.needs_board_spawn, pytest.mark.needs_flash, pytest.mark.needs_clock_jump]


def test_the_control_loop_allocates_nothing_per_tick_in_steady_state(rig, tmp_path):
    # Unix times are big ints here as on the chip (above 2^30): one costs a heap
    # allocation, which the step must not make every tick.
    r = control_loop_allocation(rig, tmp_path)
    assert (r["mode"], r["level"]) == ("schedule", 40), r     # the program's night level, settled
    assert r["utc_call"] > 0, "a UTC second no longer allocates: this test no longer tests the big-int case"
    assert r["per_tick"] == 0, f"the control step allocates {r['per_tick']} bytes per tick"


@pytest.mark.needs_reset
@pytest.mark.needs_lamp_readback
def test_an_app_larger_than_the_heap_is_logged_and_the_lamp_stays_lit(rig, tmp_path):
    # 64,000 bytes: the GC area an ESP32 starts with before it grows the heap
    # (docs/vboard.md). The app's code alone is larger: it must fail loudly, on
    # flash, and leave the lamp at its safe level, never dark.
    bundle = firmware_bundle(tmp_path / "fw", render_config(failsafe_level=70))
    files = bundle_files(bundle)
    (board,) = rig.start("oom", heap="64000", files=files, romfs=None)   # a stock image: the code in the heap
    with board.control() as c:
        c.wait_for(lambda s: s["boots"] >= 4, timeout=60, what="three crashes, then safe mode")
        # safe mode holds: no more resets, and the lamp at the level boot.py gave it
        c.wait_for(lambda s: c.duty() == duty_at(70), timeout=10, what="the lamp at its safe level")
        log = board.read_flash("crash.log").decode()
        assert log.count("MemoryError") >= 3, log
        assert c.status()["boots"] == 4, "still resetting: safe mode did not hold"


@pytest.mark.needs_reset
def test_the_app_as_provisioned_runs_from_its_romfs_copy_in_a_96k_heap(rig, tmp_path, broker):
    # From LittleFS the app's bytecode is copied into the heap and it needs some
    # 144 KB; on a firmware with a ROMFS partition the loader copies the app
    # slot there and the app runs in place: the whole connected app fits the
    # firmware's 96 KB budget. The partition starts erased, as from the factory.
    (board,) = rig.start("romapp")   # 96 KB, its ROMFS partition erased
    root = topics.root("test", board.unique_id)
    deploy_firmware(board.port, tmp_path, lamp_config(board.unique_id, broker.port, tele_interval_s=2))
    fleet = Fleet(broker.port, root)
    try:
        board.control().reset()
        fleet.wait_status("online", timeout=30)
        first = fleet.wait_json("tele", lambda d: d["ts"] is not None, timeout=30)
        later = fleet.wait_json("tele", lambda d: d["seq"] > first["seq"] + 2, timeout=30)
    finally:
        fleet.close()
    same = ("import gc, lampctl\ngc.collect()\nprint(lampctl.__file__)\n"   # the stopped app's heap is still taken
            "a, b = open('/rom/manifest.json', 'rb'), open('app/a/manifest.json', 'rb')\n"
            "while True:\n x = a.read(128)\n if x != b.read(128) or not x:\n  break\nprint(not x)")
    out = mpremote(board.port, "exec", same)
    assert out.stdout.split() == ["/rom/lampctl/__init__.mpy", "True"]   # the app ran from the slot's copy
    assert later["heap_low"] > 96 * 1024 // 10, f"the app at 96 KB keeps only {later['heap_low']} bytes free"


@pytest.mark.needs_reset
def test_a_board_back_from_a_long_outage_drains_a_full_outbox_at_96k(rig, tmp_path, broker):
    # Its outbox on flash full (the firmware's own Outbox filled it: 32 KB of
    # telemetry made while the broker was away), the board starts at the 96 KB
    # budget with its code in ROMFS, reconnects and sends every record, oldest
    # first, without a reboot and with more than a tenth of its heap free.
    outbox = firmware_module("outbox")
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        box, n = outbox.Outbox(), 0
        while box.stats()["dropped_tele"] == 0:
            n += 1
            box.put("tele", json.dumps({"seq": n, "ts": 1795800000 + n, "pad": "x" * 160}, separators=(",", ":")))
    finally:
        os.chdir(here)
    segments = sorted((tmp_path / "outbox").iterdir())
    kept = [json.loads(line.split(b" ", 2)[2]) for seg in segments if seg.name.startswith("t")
            for line in seg.read_bytes().splitlines()]
    assert len(kept) > 100   # full: the oldest went to make room
    (board,) = rig.start("backlog")   # 96 KB, ROMFS: the loader copies the app in at its first boot
    bundle = firmware_bundle(tmp_path / "fw", lamp_config(board.unique_id, broker.port, tele_interval_s=2))
    files = bundle_files(bundle)
    fleet = Fleet(broker.port, topics.root("test", board.unique_id))
    try:
        board.rewrite_flash({**files, **{f"outbox/{p.name}": p.read_bytes() for p in segments}})
        fleet.wait_json("tele", lambda d: d["seq"] == kept[-1]["seq"], timeout=60)
        with board.control() as c:
            boots = c.status()["boots"]
            live = fleet.wait_json("tele", lambda d: "heap_low" in d, timeout=30)
            assert c.status()["boots"] == boots, "the board rebooted while it drained"
    finally:
        fleet.close()
    sent = [d["seq"] for d in fleet.uplinks("tele") if "pad" in d]
    assert sent == [d["seq"] for d in kept], "the outbox did not drain whole and in order"
    assert live["heap_low"] > 96 * 1024 // 10, f"the app at 96 KB keeps only {live['heap_low']} bytes free"
