"""OTA campaigns through the fleet's staged roll-out (issue 10, item 4): a
signed release goes out in waves (`pilotlight fleet rollout start --release`),
each wave's boards confirmed on it before the next; a release that fails its
probation on the canary halts the roll-out, and the canary goes back to its
old app by itself. Real vboards, the fleet's generated Mosquitto (accounts and
ACL), the release server as an operator starts it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hil_tests.ota_rig import Server, Store, provision, source
from host_tools.boards import load_board_type
from host_tools.broker import credentials
from host_tools.broker.local import local_broker
from host_tools.fleet.sim.layout import district_csv
from host_tools.fleet.watch import Watch
from host_tools.inventory import boards, groups, open_inventory, places
from host_tools.inventory.gis_csv import import_csv
from host_tools.provision.render import Network, render

pytestmark = [pytest.mark.needs_board_spawn, pytest.mark.needs_flash, pytest.mark.needs_clock_jump]
SITE = "metz"
TZ = "CET-1CEST,M3.5.0,M10.5.0/3"
NIGHT = 1795818600  # 2026-11-27 23:30 CET
BOARD_TYPE = "esp32-devkitc"
# canary 1 board, then the other 2; any failed board halts; a short soak once the wave's boards settled
PLAN = ["--canary", "1", "--growth", "2", "--soak", "2", "--threshold", "0%", "--timeout", "20",
        "--max-boots", "2", "--probation", "20"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("campaign"))
    s.base = s.build()
    s.good = s.with_version(s.base, 2, "0.1.0-wave")
    version = 'VERSION = "%s"' % s.base.version
    s.crash = s.variant(s.base, 3, {
        "lampctl/__init__.py": source("lampctl/__init__.py").replace(version, 'VERSION = "0.1.0-crash"'),
        "lampctl/app.py": 'raise RuntimeError("broken at import")\n' + source("lampctl/app.py")},
        version="0.1.0-crash")
    return s


class Street:
    """An inventory of one street with `count` vboards on it, provisioned (their
    flash written with the base release and the config provisioning renders),
    the fleet's Mosquitto running its accounts, and the operator's login."""

    def __init__(self, rig, tmp, store, count=3):
        self.db = tmp / "inventory.sqlite"
        self.boards = rig.start("pole", count=count)
        with open_inventory(self.db, create=True) as inv:
            import_csv(inv, district_csv(tmp / "poles.csv", SITE, count, districts=1))
            places.ensure_site(inv, SITE, tz=TZ)
            # two accounts: the broker takes the username as the client id (one connection each)
            self.login, observer = [(a.username, credentials.password(inv, a.username)) for a in (
                credentials.ensure_fleet_account(inv, "operator", "operator"),
                credentials.ensure_fleet_account(inv, "observer", "monitor"))]
            self.broker = local_broker(inv, tmp / "broker")
            configs = [self._enrol(inv, vb) for vb in self.boards]
            self.broker.reload(inv)
            self.district = places.get_pole(inv, boards.get(inv, self.boards[0].unique_id).pole_id).district_group
        self.broker.start()
        self.watch = Watch(self.broker.port, f"pl/{SITE}/#", username=observer[0], password=observer[1])
        for vb, cfg in zip(self.boards, configs):
            provision(vb, tmp, cfg, store.base, store.public_hex)
            with vb.control() as c:
                c.set_clock(NIGHT)
                c.reset()
        for vb in self.boards:
            self.watch.wait_json(f"{vb.unique_id}/state", lambda d: d["ota"] == {"release": 1, "slot": "a"}, 60)

    def _enrol(self, inv, vb) -> dict:
        """What provisioning records and renders for a board (host_tools/provision/flow.py)."""
        boards.register(inv, vb.unique_id, BOARD_TYPE)
        board = boards.bind_next_free_pole(inv, vb.unique_id, "Street 1")
        boards.set_state(inv, vb.unique_id, "provisioned", reason="HIL: flash written by the rig")
        account = credentials.ensure_board_account(inv, vb.unique_id)
        password = credentials.issue_password(inv, account.username)
        pole = places.get_pole(inv, board.pole_id)
        return render(load_board_type(BOARD_TYPE), board, pole, places.get_site(inv, SITE),
                      groups.for_board(inv, vb.unique_id), account.username, password,
                      Network("127.0.0.1", self.broker.port, wifi_ssid="METZ-LIGHTS", wifi_key="street-wifi-key"))

    def rollout(self, release, server, store, ok_codes=(0,)) -> dict:
        run = subprocess.run([sys.executable, "-m", "host_tools", "fleet", "--db", str(self.db), "rollout", "start",
                              "--site", SITE, "--district", self.district, "--release", str(release.number),
                              "--release-url", server.url, "--releases", str(store.releases), *PLAN,
                              "--host", "127.0.0.1", "--port", str(self.broker.port), "--account", self.login[0],
                              "--json"], capture_output=True, text=True, timeout=300,
                             env=dict(os.environ, COLUMNS="200"))
        assert run.returncode in ok_codes, run.stdout[-1500:] + run.stderr[-1500:]
        return json.loads(run.stdout)

    def heard(self) -> list[tuple[str, dict]]:
        """Every message the observer heard so far: (topic under the board, JSON)."""
        try:
            self.watch.wait(lambda *m: False, timeout=0.3)
        except TimeoutError:
            pass
        return [(t.split("/", 2)[2], json.loads(p)) for t, p, _ in self.watch.seen if p.startswith(b"{")]

    def stop(self):
        self.watch.close()
        self.broker.stop()


@pytest.fixture
def street(rig, tmp_path, store):
    s = Street(rig, tmp_path, store)
    yield s
    s.stop()


def test_a_signed_release_goes_out_in_waves_and_every_board_confirms_it(street, store):
    server = Server(store.releases)
    try:
        report = street.rollout(store.good, server, store)
        assert report["status"] == "done" and report["counts"] == {"healthy": 3}, report
        waves = {d: b["wave"] for d, b in report["boards"].items()}
        assert sorted(waves.values()) == [0, 1, 1]
        for vb in street.boards:
            d = vb.unique_id
            street.watch.wait_json(f"{d}/event", lambda e: e["kind"] == "ota_confirmed" and e["release"] == 2)
            street.watch.wait_json(f"{d}/state", lambda s: s["fw"] == "0.1.0-wave"
                                   and s["ota"] == {"release": 2, "slot": "b"})
        heard = street.heard()
        canary = next(d for d, w in waves.items() if w == 0)
        confirmed = next(i for i, (t, m) in enumerate(heard) if t == f"{canary}/event" and m["kind"] == "ota_confirmed")
        sent = [i for i, (t, m) in enumerate(heard) if t.endswith("/cmd/ota") and waves[t.split("/")[0]] == 1]
        assert len(sent) == 2 and min(sent) > confirmed, "the second wave went out before the canary confirmed"
        # each board fetched the one changed module; the rest was copied on the board
        assert sorted(r for r in server.requests if "/lampctl/" in r) == ["GET /2/lampctl/__init__.mpy 200 from=0 "
                                                                         f"bytes={_size(store.good)}"] * 3
    finally:
        server.stop()


def test_a_release_that_fails_its_probation_on_the_canary_halts_the_rollout(street, store):
    server = Server(store.releases)
    try:
        report = street.rollout(store.crash, server, store, ok_codes=(1,))
        assert report["status"] == "halted" and "above the 0.0% threshold" in report["reason"], report
        steps = {d: b["step"] for d, b in report["boards"].items()}
        canary = next(d for d, b in report["boards"].items() if b["wave"] == 0)
        assert steps.pop(canary) == "failed" and set(steps.values()) == {"pending"}, report
        assert report["boards"][canary]["error"] == \
            "unhealthy: runs 0.1.0, not 0.1.0-crash (0.1.0-crash rolled back: see its ota events)"
        back = street.watch.wait_json(f"{canary}/event", lambda e: e["kind"] == "ota_rolled_back")
        assert back["reason"] == "crashed: RuntimeError: broken at import" and back["release"] == 3
        street.watch.wait_json(f"{canary}/state", lambda s: s["fw"] == "0.1.0" and s["ota"]["release"] == 1
                               and s["ota"]["slot"] == "a")
        # the later wave never had the command: one board fetched the release
        assert not [t for t, m in street.heard() if t.endswith("/cmd/ota") and not t.startswith(canary)]
        assert [r for r in server.requests if "manifest.json" in r] == ["GET /3/manifest.json 200 from=0 "
                                                                        f"bytes={_manifest_size(store.crash)}"]
    finally:
        server.stop()


def _size(release) -> int:
    return (release.path / "lampctl/__init__.mpy").stat().st_size


def _manifest_size(release) -> int:
    return (release.path / "manifest.json").stat().st_size
