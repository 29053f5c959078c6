"""Provisioning and OTA agree (issue 10): a board provisioned with a signed
release and the fleet's key takes an update over the air, and re-provisioning
the updated board puts it back on slot a with nothing of the update left."""
from __future__ import annotations

import time

import pytest

from hil_tests.ota_rig import Server, Store
from hil_tests.test_provision import SITE, STREET, fleet, provision, report  # noqa: F401 (fixture)
from host_tools.broker import credentials
from host_tools.fleet.watch import Watch
from host_tools.inventory import open_inventory

pytestmark = [pytest.mark.needs_flash, pytest.mark.needs_board_spawn]


def test_a_provisioned_board_is_updated_then_reprovisioned(rig, fleet, tmp_path):  # noqa: F811
    db, broker = fleet
    store = Store(tmp_path / "store")
    base = store.build()
    good = store.with_version(base, 2, "0.1.0-ota2")
    server = Server(store.releases)
    (vb,) = rig.start(count=1)
    key = ["--releases", str(store.releases), "--release-key", str(tmp_path / "store/key/release.pub")]
    run = provision(db, broker, rig.home, "--street", STREET, "--release", "1", *key, "--json")
    assert run.returncode == 0, report(run)
    assert vb.read_flash("ota.pub").decode().strip() == store.public_hex
    with open_inventory(db) as inv:
        operator = credentials.ensure_fleet_account(inv, "fleet")
        password = credentials.password(inv, operator.username)
    root = f"pl/{SITE}/{vb.unique_id}"
    watch = Watch(broker.port, root + "/#", username=operator.username, password=password)
    try:
        watch.wait_json(root + "/state", lambda d: d.get("ota", {}).get("release") == 1, timeout=60)
        watch.publish(root + "/cmd/ota", {"id": "u1", **good.command(server.url, probation_s=60)})
        watch.wait_json(root + "/event", lambda d: d["kind"] == "ota_confirmed" and d["release"] == 2, timeout=90)
        assert "app/b/manifest.json" in vb.flash_files()

        run = provision(db, broker, rig.home, "--street", STREET, "--release", "1", *key, "--json")
        assert run.returncode == 0, report(run)
        assert not [p for p in vb.flash_files() if p.startswith(("app/b/", "app/slot", "app/ota"))]
        started = time.monotonic()
        watch.wait_json(root + "/state", lambda d: d.get("ota") == {"release": 1, "slot": "a"} and d["fw"] == "0.1.0",
                        timeout=max(5.0, 60 - (time.monotonic() - started)))
    finally:
        watch.close()
        server.stop()
