# What survives a reboot or a power cut, written rarely and atomically.
import os
import sys

from lampctl import store
from lampctl.store import State

T = 1800000000
DIR = "/tmp"


def _path(name):
    return "%s/pilotlight-store-%s-%s" % (DIR, sys.implementation.name, name)


def _clean(path):
    for p in (path, path + ".tmp"):
        try:
            os.remove(p)
        except OSError:
            pass


def test_state_round_trips():
    s = State("main-street-v3", (40, T + 3600, 2000), T - 100, "ntp")
    back = State.from_json(s.to_json())
    assert (back.program, back.override, back.clock_synced, back.clock_source) == \
        ("main-street-v3", (40, T + 3600, 2000), T - 100, "ntp")
    assert not back.needs_write(T)  # what was just read is what is on flash


def test_writes_only_when_something_worth_keeping_changed():
    s = State("a")
    assert s.needs_write(T)          # never written
    s.mark_written()
    assert not s.needs_write(T + 10)
    s.program = "b"
    assert s.needs_write(T + 20)
    s.mark_written()
    s.override = (100, T + 600, 0)
    assert s.needs_write(T + 30)
    s.mark_written()
    s.override = None                 # it expired and the app dropped it:
    assert not s.needs_write(T + 600)  # the saved copy has expired too, no write


def test_clock_syncs_are_saved_at_most_daily():
    s = State("a", clock_synced=T, clock_source="ntp")
    s.mark_written()
    s.clock_synced = T + 3600         # hourly NTP syncs...
    assert not s.needs_write(T + 3600)
    s.clock_synced = T + 86400        # ...reach flash once a day
    assert s.needs_write(T + 86400)
    s.mark_written()
    s.clock_source = "command"        # a new source is news
    assert s.needs_write(T + 86500)


def test_clock_validity_at_boot():
    s = State(clock_synced=T)
    assert not s.clock_valid(946684800)   # 2000-01-01: the RTC lost power
    assert not s.clock_valid(T - 3600)    # behind the last saved sync: lost
    assert s.clock_valid(T + 60)
    assert State().clock_valid(T)         # never synced, but plausibly set


def test_damaged_state_is_reported_and_replaced_by_a_fresh_one():
    for text, why in (("{not json", "state: not valid JSON"), ("[]", "state: expected a JSON object"),
                      ('{"program": 5}', "state.program: expected a program id, got 5"),
                      ('{"override": {"level": "x"}}', "state.override"),
                      ('{"override": {"level": 250, "until": null}}', "state.override"),
                      ('{"clock": {"synced": 5, "source": 7}}', "state.clock.source")):
        path = _path("damaged")
        store.write_atomic(path, text)
        s, problem = store.load(path)
        assert problem.startswith(why) and s.program is None and s.override is None
        _clean(path)


def test_save_is_atomic_and_rare():
    path = _path("state")
    _clean(path)
    assert store.load(path)[1] is None and store.load(path)[0].program is None  # first boot
    s = State("p1", (30, T + 60, 500))
    assert store.save(s, T, path)
    assert not store.save(s, T + 1, path)       # unchanged: no flash write
    assert store.read_text(path + ".tmp") is None  # the temporary name is gone
    s.program = "p2"
    assert store.save(s, T + 2, path)
    back, problem = store.load(path)
    assert problem is None and back.program == "p2" and back.override == (30, T + 60, 500)
    # a power cut during a write leaves a partial temporary file: the last good state stands
    with open(path + ".tmp", "w") as f:
        f.write('{"program": "p3", "overr')
    assert store.load(path)[0].program == "p2"
    _clean(path)
