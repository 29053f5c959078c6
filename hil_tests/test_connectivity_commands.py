"""Commands at the board's edge (issue 4 acceptance): every malformed command
is answered `ok: false` with an error that says what is wrong, and changes
nothing (retained state, lamp duty); a repeated id is not applied twice; a
burst of 1,000 commands is answered without exhausting the heap."""
import json
import time

import pytest

from hil_tests.support.firmware import deploy_firmware
from hil_tests.support.fleet import Fleet
from hil_tests.support.lamp import duty_at, lamp_config, topics
from hil_tests.support.footprint import STOCK_IMAGE_HEAP

pytestmark = [pytest.mark.needs_reset, pytest.mark.needs_lamp_readback]
BURST = 1000


def _j(**fields):
    return json.dumps(fields).encode()


NESTED = b'{"id": "deep", "level": ' + b"[" * 300 + b"]" * 300 + b"}"
# (command name, payload, the ack's id, what the error must say); or, where the
# board may answer one of two ways, ((id, error), ...) and None
BAD = [
    ("level", b"{not json", None, "payload: not valid JSON"),
    ("level", b"", None, "payload: not valid JSON"),
    ("level", b'{"id": "nan", "level": NaN}', None, "payload: not valid JSON"),
    ("level", b"\xff\xfe{}", None, "payload: not UTF-8"),
    ("level", b"[1, 2]", None, "payload: expected a JSON object, got a list"),
    ("level", b'"level"', None, "payload: expected a JSON object, got a string"),
    ("level", b"null", None, "payload: expected a JSON object, got null"),
    ("level", _j(level=50), None, "id: missing"),
    ("level", _j(id=True, level=50), None, "id: expected a string or an integer, got true"),
    ("level", _j(id=[1], level=50), None, "id: expected a string or an integer, got a list"),
    ("level", _j(id="", level=50), None, "id: length 0 is out of range [1, 40]"),
    ("level", _j(id="x" * 41, level=50), None, "id: length 41 is out of range [1, 40]"),
    ("frobnicate", _j(id="b13"), "b13", "unknown command 'frobnicate' (known: config, identify, "
                                        "lamp_replaced, level, ota, ping, program, reboot, time)"),
    ("level", _j(id="b14"), "b14", "level: missing"),
    ("level", _j(id="b15", level="50"), "b15", "level: expected a number, got a string"),
    ("level", _j(id="b16", level=True), "b16", "level: expected a number, got true"),
    ("level", _j(id="b17", level=140), "b17", "level: 140 is out of range [0, 100]"),
    ("level", _j(id="b18", level=-1), "b18", "level: -1 is out of range [0, 100]"),
    ("level", _j(id="b19", level=50, duration_s=0), "b19", "duration_s: 0 is out of range [1, 86400]"),
    ("level", _j(id="b20", level=50, duration_s=1.5), "b20", "duration_s: expected an integer, got a number"),
    ("level", _j(id="b21", level=50, colour="red"), "b21", "colour: unexpected field"),
    # the parser runs out of room (a MemoryError, where the heap is short) or reads it whole
    ("level", NESTED, ((None, "payload: nested too deeply to parse"),
                       ("deep", "level: expected a number, got a list")), None),
    ("program", _j(id="b23"), "b23", "program: missing"),
    ("program", _j(id="b24", program="evening"), "b24", "program: expected an object, got a string"),
    ("program", _j(id="b25", program={"id": "p", "steps": [{"at": "25:00", "level": 50}]}), "b25", "program."),
    ("config", _j(id="b26", set={"wdt_ms": 1000}), "b26", "set.wdt_ms: not a remotely settable key"),
    ("config", _j(id="b27", set={}), "b27", "set: no settings given"),
    ("config", _j(id="b28", set={"default_level": 101}), "b28", "set.default_level: 101 is out of range [0, 100]"),
    ("config", _j(id="b29", set={"tz": ""}), "b29", "set.tz: length 0 is out of range [1, 64]"),
    ("config", _j(id="b30", set={"tz": "not a zone"}), "b30", "TZ 'not a zone': expected"),
    ("config", _j(id="b31", set="default_level=10"), "b31", "set: expected an object, got a string"),
    ("identify", _j(id="b32", duration_s=0), "b32", "duration_s: 0 is out of range [1, 600]"),
    ("identify", _j(id="b33", duration_s="10"), "b33", "duration_s: expected an integer, got a string"),
    ("reboot", _j(id="b34", delay_s=-1), "b34", "delay_s: -1 is out of range [0, 300]"),
    ("time", _j(id="b35"), "b35", "utc: missing"),
    ("time", _j(id="b36", utc=100), "b36", "utc: 100 is out of range [1704067200, 4102444800]"),
    ("time", _j(id="b37", utc=1.8e9), "b37", "utc: expected an integer, got a number"),
    ("ping", _j(id="b38", extra=1), "b38", "extra: unexpected field"),
    ("ota", _j(id="b39", url="http://x"), "b39", "url: unexpected field"),
    ("level", _j(id="b40", level=50, pad="x" * 1100), None, "bytes exceeds the 1024-byte limit"),
    ("level", _j(id="b41", level=50, pad="x" * 5000), None, "payload: larger than this board accepts"),
]


def _board(rig, tmp_path, broker, heap=None, romfs=True):
    (board,) = rig.start("cmd", heap=heap, romfs=b"" if romfs else None)   # None: a stock image
    root = topics.root("test", board.unique_id)
    fleet = Fleet(broker.port, root)
    deploy_firmware(board.port, tmp_path, lamp_config(board.unique_id, broker.port, default_level=40,
                                                      tele_interval_s=2))
    c = board.control()
    c.reset()
    fleet.wait_status("online")
    fleet.wait_json("state", lambda d: d["level"] == 40)
    c.wait_for(lambda s: abs(s["lamp_level"] - duty_at(40) / 65535) < 1e-3, what="lamp at 40 %")
    return board, c, fleet, root


def test_every_malformed_command_is_refused_clearly_and_changes_nothing(rig, tmp_path, broker):
    assert len(BAD) >= 30
    board, c, fleet, root = _board(rig, tmp_path, broker)
    try:
        fleet.drain(0.5)
        state = [json.loads(p) for t, p in fleet.seen if t == root + "/state"][-1]
        duty = c.duty()
        for name, payload, cmd_id, error in BAD:
            mark = len(fleet.seen)
            fleet.client.publish(f"{root}/cmd/{name}", payload, qos=1).wait_for_publish(5)
            try:
                ack = fleet.wait_json("ack", after=mark)
            except TimeoutError:
                raise AssertionError(f"no ack for {name} {payload[:60]!r}") from None
            assert ack["ok"] is False, (name, payload[:60], ack)
            expected = cmd_id if error is None else ((cmd_id, error),)
            assert any(ack["id"] == i and e in ack["error"] for i, e in expected), \
                f"{name} {payload[:60]!r}: answered {ack['id']!r} {ack['error']!r}"
        # a group command is checked the same way
        fleet.publish(topics.group_command("test", "centre", "level"), {"id": "g1", "level": "max"})
        assert fleet.wait_json("ack", lambda d: d["id"] == "g1")["error"] == "level: expected a number, got a string"
        # nothing changed: no new state, same duty, same config and program
        fleet.drain(1.5)
        states = [json.loads(p) for t, p in fleet.seen if t == root + "/state"]
        assert states[-1]["seq"] == state["seq"], f"a bad command changed the state: {states[-1]}"
        assert c.duty() == duty

        # a valid config change shows in the state's config hash; a repeated id is not applied twice
        fleet.publish(root + "/cmd/config", {"id": "cfg1", "set": {"default_level": 60}})
        assert fleet.wait_json("ack", lambda d: d["id"] == "cfg1")["ok"] is True
        changed = fleet.wait_json("state", lambda d: d["level"] == 60)
        assert changed["config_hash"] != state["config_hash"], "the state hides a config change"
        fleet.publish(root + "/cmd/level", {"id": "once", "level": 30})
        fleet.wait_json("state", lambda d: d["level"] == 30 and d["mode"] == "override")
        fleet.publish(root + "/cmd/level", {"id": "once", "level": 90})
        assert fleet.wait_json("ack", lambda d: d["id"] == "once" and d.get("duplicate"))["ok"] is True
        time.sleep(1.5)
        assert fleet.uplinks("state")[-1]["level"] == 30

        # reboot: answered, done once (the broker must not deliver it again after the reset)
        boots = c.status()["boots"]
        mark = len(fleet.seen)
        fleet.publish(root + "/cmd/reboot", {"id": "rb1"})
        assert fleet.wait_json("ack", lambda d: d["id"] == "rb1", after=mark)["ok"] is True
        c.wait_for(lambda s: s["boots"] == boots + 1, what="the reboot")
        _, mark = fleet.wait_status("online", after=mark, timeout=20)
        time.sleep(4)
        assert c.status()["boots"] == boots + 1, "the reboot command was applied again"
    finally:
        fleet.close()


# The app's code on LittleFS (a stock image; the heap the app needs there), or in
# a ROMFS partition at the firmware's 96 KB budget (docs/vboard.md).
@pytest.mark.parametrize("code, heap", [("littlefs", STOCK_IMAGE_HEAP),
                                        pytest.param("romfs", 96 * 1024, marks=pytest.mark.needs_board_spawn)])
def test_a_burst_of_1000_commands_is_answered_and_the_board_stays_up(rig, tmp_path, broker, code, heap):
    board, c, fleet, root = _board(rig, tmp_path, broker, heap=str(heap), romfs=code == "romfs")
    try:
        boots = c.status()["boots"]
        before = fleet.wait_json("tele", lambda d: d["seq"] > 3)["heap_free"]  # after a gc.collect()
        infos = []
        for i in range(BURST):  # a mix of valid and bad commands, as fast as paho sends them
            payload = {"id": i, "level": 40 + i % 20} if i % 3 else {"id": i, "level": "x"}
            infos.append(fleet.client.publish(root + "/cmd/level", json.dumps(payload), qos=1))
        for info in infos:
            info.wait_for_publish(10)
        deadline = time.monotonic() + 60
        while len({a["id"] for a in fleet.uplinks("ack")}) < BURST and time.monotonic() < deadline:
            fleet.drain(0.5)
        acks = {a["id"]: a for a in fleet.uplinks("ack")}
        missing = sorted(set(range(BURST)) - set(acks))
        assert not missing, f"{len(missing)} commands never answered, e.g. {missing[:10]}"
        assert all(acks[i]["ok"] is bool(i % 3) for i in range(BURST))
        last = max(i for i in range(BURST) if i % 3)
        fleet.wait_json("state", lambda d: d["level"] == 40 + last % 20)
        c.wait_for(lambda s: abs(s["lamp_level"] - duty_at(40 + last % 20) / 65535) < 1e-4,
                   what="the last command's level")
        now = c.clock()
        tele = fleet.wait_json("tele", lambda d: d["ts"] is not None and d["ts"] >= now)
        assert tele["heap_free"] > before - 8192, f"heap free {before} before the burst, {tele['heap_free']} after"
        assert tele["heap_low"] > heap // 10, f"less than a tenth of the heap free at the burst's worst: {tele}"
        assert c.status()["boots"] == boots, "the board rebooted"
        assert [e["kind"] for e in fleet.uplinks("event")].count("boot") == 1
        assert (root + "/status", b"offline") not in fleet.seen
    finally:
        fleet.close()
