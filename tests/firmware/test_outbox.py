# The outbox as the fleet sees it after an outage: every stored uplink arrives,
# in order, with its original ts; when flash is full, telemetry goes before
# events and every loss is counted; a reboot or a power cut loses nothing stored.
import os
import sys
import time

from lampctl.outbox import EVENT, TELE, Outbox

# under the repo root (cwd of both runners), one per process: test workers run side by side
ROOT = "outbox-test-%s-%d" % (sys.implementation.name, time.time_ns())


def _rmtree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        os.remove(path + "/" + n)
    os.rmdir(path)


def _cleanup(test):
    """Run the test, then remove its outbox directory, pass or fail."""
    def run():
        try:
            test()
        finally:
            _rmtree(ROOT)
    return run


def _fresh(**kw):
    _rmtree(ROOT)
    return Outbox(ROOT, **kw)


def _drain(box):
    out = []
    while True:
        rec = box.peek()
        if rec is None:
            return out
        out.append((rec[0], rec[1].decode()))
        box.pop(rec)


def _rec(kind, ts):
    return '{"kind":"%s","ts":%d}' % (kind, ts)


@_cleanup
def test_records_leave_in_the_order_they_were_made_with_their_ts():
    box = _fresh()
    made = [(EVENT, _rec("motion", 100)), (TELE, _rec("tele", 101)), (TELE, _rec("tele", 160)),
            (EVENT, _rec("fault", 170)), (TELE, _rec("tele", 220))]
    for kind, payload in made:
        assert box.put(kind, payload)
    assert box.stats()["pending_event"] == 2 and box.stats()["pending_tele"] == 3
    assert _drain(box) == made
    assert box.stats()["bytes"] == 0
    assert os.listdir(ROOT) == []  # drained segments are deleted, flash does not fill up


@_cleanup
def test_a_reboot_mid_drain_keeps_what_was_not_yet_sent():
    box = _fresh(seg_records=3)
    for ts in range(10):
        box.put(TELE if ts % 3 else EVENT, _rec("r", ts))
    for _ in range(4):
        box.pop(box.peek())
    rebooted = Outbox(ROOT, seg_records=3)
    rebooted.put(EVENT, _rec("boot", 99))
    left = [p for _, p in _drain(rebooted)]
    unsent = [_rec("r", ts) for ts in range(4, 10)] + [_rec("boot", 99)]
    assert [p for p in left if p in unsent] == unsent  # all of them, in order
    # Progress inside a segment is not written to flash (that would double the
    # writes): a partly drained segment per kind is sent again (seq+ts dedupe).
    assert len(left) - len(unsent) <= 2 * (3 - 1)


@_cleanup
def test_full_outbox_drops_oldest_telemetry_first_and_keeps_every_event():
    box = _fresh(max_bytes=1200, seg_records=4, max_record=64)
    for ts in range(60):
        box.put(EVENT if ts % 10 == 0 else TELE, _rec("r", ts))
    stats = box.stats()
    assert stats["bytes"] <= 1200
    assert stats["pending_event"] == 6 and stats["dropped_event"] == 0
    assert stats["dropped_tele"] > 0
    assert stats["pending_tele"] + stats["dropped_tele"] == 54
    got = _drain(box)
    assert [p for k, p in got if k == EVENT] == [_rec("r", ts) for ts in range(0, 60, 10)]
    tele = [p for k, p in got if k == TELE]
    assert tele[-1] == _rec("r", 59)  # the newest telemetry survives
    assert Outbox(ROOT).stats()["dropped_tele"] == stats["dropped_tele"]  # counts survive a reboot


@_cleanup
def test_telemetry_never_displaces_events_and_events_displace_the_oldest_events():
    box = _fresh(max_bytes=600, seg_records=2, max_record=64)
    ts = 0
    while box.stats()["dropped_event"] == 0:
        box.put(EVENT, _rec("event", ts))
        ts += 1
    # Full of events: telemetry is stored only while room is left, never
    # at the cost of an event; what is refused is counted.
    before = box.stats()
    for i in range(10):
        box.put(TELE, _rec("tele", 1000 + i))
    after = box.stats()
    assert after["pending_event"] == before["pending_event"]
    assert after["dropped_event"] == before["dropped_event"]
    assert after["dropped_tele"] >= 1 and after["pending_tele"] + after["dropped_tele"] == 10
    events = [p for k, p in _drain(box) if k == EVENT]
    assert events[-1] == _rec("event", ts - 1)  # the newest event is kept, the oldest went
    assert _rec("event", 0) not in events
    assert len(events) + after["dropped_event"] == ts


@_cleanup
def test_a_power_cut_mid_write_loses_only_the_torn_record():
    box = _fresh(seg_records=8)
    for ts in range(3):
        box.put(TELE, _rec("tele", ts))
    name = os.listdir(ROOT)[0]
    with open(ROOT + "/" + name, "ab") as f:
        f.write(b'4 deadbeef {"kind":"te')  # torn: no newline, wrong CRC
    rebooted = Outbox(ROOT, seg_records=8)
    assert rebooted.stats()["pending_tele"] == 3
    rebooted.put(TELE, _rec("tele", 3))  # goes to a fresh segment, not after the torn bytes
    assert [p for _, p in _drain(rebooted)] == [_rec("tele", ts) for ts in range(4)]


@_cleanup
def test_pop_of_a_record_dropped_meanwhile_changes_nothing():
    box = _fresh(max_bytes=400, seg_records=2, max_record=64)
    box.put(TELE, _rec("tele", 0))
    sending = box.peek()
    for ts in range(1, 12):  # while it was being sent, the outbox overflowed
        box.put(TELE, _rec("tele", ts))
    head = box.peek()
    box.pop(sending)
    assert box.peek() == head


@_cleanup
def test_bad_records_are_refused_and_nothing_is_stored():
    box = _fresh(max_record=64)
    for kind, payload, error in ((TELE, "x" * 65, "outbox: 65-byte record exceeds max_record 64"),
                                 (EVENT, "a\nb", "outbox: payload must be one line"),
                                 ("alarm", "{}", "outbox: kind must be 'event' or 'tele', got 'alarm'")):
        try:
            box.put(kind, payload)
            raise AssertionError("accepted %r" % payload)
        except ValueError as e:
            assert str(e) == error, str(e)
    assert box.peek() is None and os.listdir(ROOT) == []


@_cleanup
def test_a_bound_too_small_for_one_record_is_refused_at_start():
    try:
        _fresh(max_bytes=400, max_record=512)
        raise AssertionError("accepted")
    except ValueError as e:
        assert str(e) == "outbox: max_bytes 400 cannot hold a 512-byte record"


@_cleanup
def test_a_long_run_of_used_up_segments_is_skipped_without_running_out_of_stack():
    # Segments whose records can no longer be read (flash damaged after they
    # were listed) are skipped one after another: 1,200 of them must not
    # exhaust the board's stack on the way to the one good record behind them.
    box = _fresh(max_bytes=1 << 20, seg_records=1)
    for ts in range(1201):
        assert box.put(TELE, _rec("tele", ts))
    names = sorted(os.listdir(ROOT))
    for name in names[:-1]:
        open(ROOT + "/" + name, "wb").close()
    rec = box.peek()
    assert rec is not None and rec[1].decode() == _rec("tele", 1200)
    box.pop(rec)
    assert box.peek() is None and box.pending() == 0
    assert sorted(os.listdir(ROOT)) == [n for n in names if not n.startswith("t")]
