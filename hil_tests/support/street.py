"""Several lamps along one street, each with its own config, one firmware build."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from hil_tests.support.firmware import copy_bundle, firmware_bundle
from hil_tests.support.lamp import lamp_config, topics


def deploy_street(rig, tmp_path, port, name="nb", count=6, street="centre.main", **settings):
    """`count` boards on `street` at positions 1..count; returns (boards, controls),
    the boards just reset into the firmware."""
    boards = rig.start(name, count=count)
    bundles = [firmware_bundle(tmp_path / b.name, lamp_config(b.unique_id, port, street=street, position=pos,
                                                              **settings))
               for pos, b in enumerate(boards, 1)]
    with ThreadPoolExecutor(len(boards)) as pool:   # one USB line per board: they copy side by side
        list(pool.map(copy_bundle, [b.port for b in boards], bundles))
    controls = [b.control() for b in boards]
    for c in controls:
        c.set_lux(2.0)  # night on the street: motion may raise the lamps (board_config presence_dark)
        c.reset()
    return boards, controls


def wait_street_online(watch, boards, site="test"):
    for b in boards:
        watch.wait(lambda t, p, r, dev=b.unique_id: t == topics.root(site, dev) + "/status" and p == b"online", timeout=30,
                   what=f"{b.name} online")
