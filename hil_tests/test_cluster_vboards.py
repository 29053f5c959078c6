"""Issue 9: real firmware on the city's broker. Vboards provisioned for node 0 of the
2-node RabbitMQ cluster come online by themselves with their own accounts, and the
fleet on node 1 sees them and gets its command answered."""
from __future__ import annotations

import json

import pytest

from hil_tests.fleet_bed import RabbitClusterBed
from hil_tests.support.broker_hook import BrokerHook
from hil_tests.test_provision import SITE, STREET, provision
from host_tools.broker import credentials, rabbitmq
from host_tools.fleet.watch import Watch
from host_tools.inventory import open_inventory, places
from host_tools.inventory.gis_csv import import_csv

pytestmark = [pytest.mark.needs_flash,
              pytest.mark.skipif(not rabbitmq.available(), reason="rabbitmq-server is not installed (make setup)")]


class Node:
    def __init__(self, port, reload_command):
        self.port = port
        self.reload_command = reload_command   # loads each board's account before its self-test


def test_vboards_on_one_node_are_run_from_the_other(rig, tmp_path):
    csv = tmp_path / "poles.csv"
    csv.write_text("pole_id,site,district,street,position,lat,lon\n"
                   + "".join(f"P-{i:02d},{SITE},Centre,{STREET},{i},49.11{i:02d},6.17\n" for i in range(1, 4)))
    db = tmp_path / "inv.sqlite"
    with open_inventory(db, create=True) as inv:
        import_csv(inv, csv)
        places.ensure_site(inv, SITE, tz="CET-1CEST,M3.5.0,M10.5.0/3")
        operator = credentials.ensure_fleet_account(inv, "cluster-operator")
        password = credentials.password(inv, operator.username)
    cluster = RabbitClusterBed.shared(tmp_path)
    boards_node, fleet_node = cluster.nodes
    vbs = rig.start(count=2)

    def load():
        with open_inventory(db) as inv:
            cluster.load(inv, prune=False)      # the boards' new accounts, before each self-test logs in

    with BrokerHook(tmp_path / "hook", load) as hook:
        run = provision(db, Node(boards_node.mqtt_port, hook.command), rig.home, "--street", STREET, "--json")
    assert run.returncode == 0 and all(b["ok"] for b in json.loads(run.stdout)["boards"]), run.stdout + run.stderr
    watch = Watch(fleet_node.mqtt_port, f"pl/{SITE}/#", username=operator.username, password=password)
    try:
        for vb in vbs:  # retained messages stay on the node that took them: node 1 hears live ones only
            with vb.control() as c:
                c.reset()
        for vb in vbs:
            dev = vb.unique_id
            watch.wait(lambda t, p, r, d=dev: t == f"pl/{SITE}/{d}/status" and p == b"online", timeout=90,
                       what=f"{vb.name} online through node 0, seen on node 1")
            watch.publish(f"pl/{SITE}/{dev}/cmd/ping", {"id": f"ping-{dev}"})
            watch.wait_json(f"{dev}/ack", lambda d, dev=dev: d.get("id") == f"ping-{dev}" and d.get("ok"), timeout=30)
    finally:
        watch.close()
