"""Issue 9: a board provisioned for a TLS broker gets mqtt.tls, the fleet's CA, its own
client certificate and key on flash from `pilotlight provision` itself, and comes
online over TLS by itself: no file copied by hand."""
from __future__ import annotations

import json

import pytest

from hil_tests.test_provision import SITE, STREET, board_config, provision
from host_tools.broker import credentials
from host_tools.broker.local import local_broker
from host_tools.fleet.watch import Watch
from host_tools.inventory import open_inventory, places
from host_tools.inventory.gis_csv import import_csv

pytestmark = pytest.mark.needs_flash


class TlsOnly:
    """What `provision` needs of a broker: the boards are given only its TLS port."""

    def __init__(self, broker):
        self.port = broker.tls_port
        self.files, self.proc = broker.files, broker.proc  # where provisioning loads the board's account


def test_a_board_provisioned_for_tls_comes_online_over_tls_by_itself(rig, tmp_path):
    csv = tmp_path / "poles.csv"
    csv.write_text("pole_id,site,district,street,position,lat,lon\n"
                   f"P-01,{SITE},Centre,{STREET},1,49.11,6.17\n")
    db = tmp_path / "inv.sqlite"
    with open_inventory(db, create=True) as inv:
        import_csv(inv, csv)
        places.ensure_site(inv, SITE, tz="CET-1CEST,M3.5.0,M10.5.0/3")
        broker = local_broker(inv, tmp_path / "broker", tls=True)
        operator = next(a for a in credentials.list_accounts(inv) if a.kind == "fleet")
        password = credentials.password(inv, operator.username)
    [vb] = rig.start(count=1)
    with broker:
        run = provision(db, TlsOnly(broker), rig.home, "--street", STREET, "--json",
                        "--tls-dir", str(broker.files.tls))
        assert run.returncode == 0, run.stdout + run.stderr
        assert json.loads(run.stdout)["boards"][0]["ok"]
        cfg = board_config(vb)["mqtt"]
        assert cfg["tls"] is True and cfg["port"] == broker.tls_port
        for name in (cfg["ca_file"], cfg["cert_file"], cfg["key_file"]):
            assert vb.flash_files()[name] > 0, name
        key = vb.read_flash(cfg["key_file"])
        assert key not in run.stdout.encode() + run.stderr.encode()
        with open_inventory(db) as inv:
            broker.reload(inv)          # the board's account and certificate are in the broker's files now
        watch = Watch(broker.port, f"pl/{SITE}/+/status", username=operator.username, password=password)
        try:
            with vb.control() as c:
                c.reset()
            watch.wait(lambda t, p, r: t == f"pl/{SITE}/{vb.unique_id}/status" and p == b"online", timeout=60,
                       what="the board online over TLS")
        finally:
            watch.close()
