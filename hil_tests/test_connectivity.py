"""The board on MQTT (issue 4 acceptance), against a real Mosquitto."""
import pytest

from hil_tests.support.firmware import deploy_firmware
from hil_tests.support.fleet import Watch
from hil_tests.support.lamp import lamp_config, topics

NOV_2026 = 1795818600  # 2026-11-27 23:30 CET: night


def _online_board(rig, tmp_path, broker, name="lamp", **settings):
    (board,) = rig.start(name)
    dev = board.unique_id
    deploy_firmware(board.port, tmp_path, lamp_config(dev, broker.port, **settings))
    c = board.control()
    c.set_clock(NOV_2026)
    return board, c, topics.root("test", dev)


@pytest.mark.needs_clock_jump
@pytest.mark.needs_reset
@pytest.mark.needs_lamp_readback
@pytest.mark.needs_power_cut
def test_online_state_commands_and_last_will(rig, tmp_path, broker):
    watch = Watch(broker.port)
    board, c, root = _online_board(rig, tmp_path, broker, default_level=40)
    console = board.console()
    c.reset()
    console.expect(r'pl event \{.*"kind": "boot", "reset_cause": 2')  # what a technician sees on the USB console
    watch.wait(lambda t, p, r: t == root + "/status" and p == b"online", what="status online")
    state = watch.wait_json("/state", lambda d: d["mode"] == "schedule" and d["level"] == 40)
    assert state["fw"] and state["clock"] != "unknown" and isinstance(state["seq"], int) and state["ts"]
    boot = watch.wait_json("/event", lambda d: d["kind"] == "boot")
    assert boot["reset_cause"] == 2 and boot["ts"] >= NOV_2026

    watch.publish(root + "/cmd/level", {"id": "c1", "level": 100, "duration_s": 600})
    ack = watch.wait_json("/ack", lambda d: d["id"] == "c1")
    assert ack["ok"] is True
    watch.wait_json("/state", lambda d: d["mode"] == "override" and d["level"] == 100)
    c.wait_for(lambda s: s["lamp_level"] == 1.0, what="override at 100 %")

    watch.publish(root + "/cmd/level", {"id": "c2", "level": 140})
    ack = watch.wait_json("/ack", lambda d: d["id"] == "c2")
    assert ack == {**ack, "ok": False, "error": "level: 140 is out of range [0, 100]"}
    assert c.status()["lamp_level"] == 1.0  # a bad command changes nothing

    watch.publish(topics.group_command("test", "centre", "ping"), {"id": "g1"})  # a group command
    assert watch.wait_json("/ack", lambda d: d["id"] == "g1")["ok"] is True

    c.power_cut()  # the broker publishes the Last Will
    watch.wait(lambda t, p, r: t == root + "/status" and p == b"offline", what="status offline (LWT)")
    watch.close()
