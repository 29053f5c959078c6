"""How uplinks fold into a board's view: seq gaps per boot, duplicates, boots,
faults, and messages that are not uplinks."""
import json

from host_tools.fleet.board_view import BoardView, apply
from host_tools.fleet.uplink import decode

DEV = "240ac4000001"


def feed(v, kind, body=None, retained=False, text=None):
    topic = f"pl/metz/{DEV}/{kind}"
    payload = text.encode() if text is not None else json.dumps(body).encode()
    up = decode(topic, payload, retained)
    assert up is not None
    apply(v, up)


def test_a_missing_seq_is_a_gap_and_a_late_one_fills_it():
    v = BoardView(DEV, "metz")
    for seq in (1, 2, 5):
        feed(v, "tele", {"seq": seq})
    assert v.gaps == 2
    feed(v, "event", {"kind": "motion", "seq": 3})   # late, from the outbox
    assert v.gaps == 1 and v.duplicates == 0
    feed(v, "tele", {"seq": 5})
    assert v.duplicates == 1


def test_a_reboot_starts_a_new_count_and_keeps_the_old_gaps():
    v = BoardView(DEV, "metz")
    for seq in (1, 2, 4, 5, 6, 7):
        feed(v, "tele", {"seq": seq})
    feed(v, "state", {"seq": 2, "level": 40, "mode": "schedule"})  # the new boot's state before its boot event
    feed(v, "event", {"kind": "boot", "reset_cause": 3, "seq": 1})
    feed(v, "tele", {"seq": 3})
    assert v.gaps == 1 and v.duplicates == 0
    assert v.boots == 1 and v.reset_causes == {"watchdog": 1}


def test_retained_replays_count_as_neither_gap_nor_duplicate():
    v = BoardView(DEV, "metz")
    feed(v, "state", {"seq": 9, "level": 40, "mode": "schedule", "faults": []}, retained=True)
    feed(v, "state", {"seq": 9, "level": 40, "mode": "schedule", "faults": []}, retained=True)
    assert v.gaps == 0 and v.duplicates == 0 and v.level == 40


def test_status_faults_and_tele_fields():
    v = BoardView(DEV, "metz")
    feed(v, "status", text="online")
    feed(v, "state", {"seq": 1, "level": 80, "mode": "presence", "program": "p", "program_hash": "abc",
                      "config_hash": "def", "fw": "0.1.0", "faults": [{"fault": "lamp_failed", "state": "raised"}]})
    feed(v, "tele", {"seq": 2, "rssi": -70, "energy_wh": 1.5, "heap_low": 9000, "cycles": 3, "burn_h": 0.5})
    feed(v, "event", {"seq": 3, "kind": "fault", "fault": "lamp_failed", "state": "cleared"})
    feed(v, "status", text="offline")
    assert (v.online, v.mode, v.program_hash, v.fw) == (False, "presence", "abc", "0.1.0")
    assert (v.rssi, v.energy_wh, v.heap_low, v.cycles) == (-70, 1.5, 9000, 3)
    assert v.faults == []


def test_what_is_not_an_uplink_is_skipped():
    assert decode(f"pl/metz/{DEV}/cmd/level", b"{}", False) is None
    assert decode("pl/metz/group/centre/presence", b"{}", False) is None
    assert decode(f"pl/metz/{DEV}/state", b"{not json", False) is None
    assert decode(f"pl/metz/{DEV}/status", b"maybe", False) is None


def test_the_view_shows_the_running_release_and_what_is_pending():
    from host_tools.fleet.render import _release
    v = BoardView(DEV, "metz")
    feed(v, "state", {"seq": 1, "fw": "0.1.0"})                       # firmware from before OTA
    assert (v.release, v.release_pending) == (None, None)
    feed(v, "state", {"seq": 2, "fw": "0.1.0", "ota": {"release": 3, "slot": "a", "pending": "0.2.0"}})
    assert (v.release, v.release_pending) == (3, "0.2.0")
    assert _release(v.to_dict()) == "3 -> 0.2.0"
    feed(v, "state", {"seq": 3, "fw": "0.2.0", "ota": {"release": 4, "slot": "b", "probation": True}})
    assert (v.release, v.release_pending) == (4, "on probation")
    feed(v, "state", {"seq": 4, "fw": "0.1.0", "ota": {"release": 3, "slot": "a", "rolled_back": "watchdog reset",
                                                       "failed_version": "0.2.0"}})
    assert (v.release, v.release_pending) == (3, "0.2.0 rolled back")
