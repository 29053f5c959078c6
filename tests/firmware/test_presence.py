# Motion at the pole and at the neighbours', with time in ms driven by the test
# (time.ticks_ms() values on the board).
from lampctl.presence import ANNOUNCE, HELD, IGNORED, Neighbours, Presence

S = 1000


def test_motion_raises_the_lamp_for_the_hold_time():
    p = Presence(level=100, hold_ms=60 * S)
    assert p.level(0, 40) is None
    assert p.motion(1 * S) == ANNOUNCE
    assert p.level(1 * S, 40) == 100
    assert p.level(60 * S, 40) == 100
    assert p.level(61 * S, 40) is None  # back to the program


def test_new_motion_rearms_the_hold():
    p = Presence(hold_ms=60 * S)
    p.motion(0)
    p.motion(30 * S)
    assert p.level(89 * S, 40) == 100
    assert p.level(90 * S, 40) is None


def test_no_boost_in_daylight_and_never_a_dimming():
    p = Presence(level=80, hold_ms=60 * S)
    p.motion(0)
    assert p.level(1 * S, 0) is None      # the program has the lamp off: daylight
    assert p.level(1 * S, 95) == 95       # a presence level below the program's dims nothing
    assert p.level(2 * S, 30) == 80       # and dusk during the hold still gets the boost


def test_bounce_is_ignored():
    p = Presence(debounce_ms=200)
    assert p.motion(10 * S) == ANNOUNCE
    assert p.motion(10 * S + 50) == IGNORED
    assert p.motion(10 * S + 100) == IGNORED  # bounce measured from the last edge


def test_neighbours_are_told_at_most_every_announce_interval():
    p = Presence(announce_ms=5 * S)
    assert p.motion(0) == ANNOUNCE
    assert p.motion(2 * S) == HELD
    assert p.motion(5 * S) == ANNOUNCE


def test_a_chattering_sensor_is_ignored_until_it_calms_down():
    p = Presence(hold_ms=5 * S, chatter_edges=20, chatter_ms=10 * S, debounce_ms=100)
    results = [p.motion(i * 300) for i in range(30)]  # 3 edges a second: a faulty PIR
    assert IGNORED not in results[:20] and results[20:] == [IGNORED] * 10
    assert p.chattering
    # it keeps chattering through the next window: still ignored
    assert all(p.motion(10 * S + i * 300) == IGNORED for i in range(30))
    assert not p.active(30 * S)            # the street is not held lit by a broken sensor
    # a quiet window later it is trusted again
    assert p.motion(45 * S) != IGNORED and not p.chattering
    assert p.level(46 * S, 30) == 100


def test_hold_survives_the_tick_counter_wrapping():
    p = Presence(hold_ms=60 * S)
    start = (1 << 30) - 10 * S
    p.motion(start)
    assert p.level(start + 30 * S - (1 << 30), 40) == 100   # ticks wrapped to a small number
    assert p.level(start + 61 * S - (1 << 30), 40) is None


def test_neighbour_hold_never_shortens_a_local_hold():
    p = Presence(hold_ms=60 * S)
    p.motion(0)
    p.hold(1 * S, 10 * S)
    assert p.active(50 * S)


def street(n=11, **kw):
    return [Neighbours("lamp%d" % i, i, **kw) for i in range(n)]


def test_each_event_acts_once_and_is_never_relayed():
    # every lamp of the street hears the origin itself on the shared topic: a
    # relay there would only multiply the messages (issue 12, defect 11)
    lamps = street()
    ev = lamps[5].announce(0)
    assert ev == {"origin": "lamp5", "seq": 1, "pos": 5, "hops": 1}  # hops: for older boards on the street
    assert lamps[6].receive(ev, 10) is True
    assert lamps[6].receive(ev, 20) is False     # the same event again: nothing
    assert lamps[5].receive(ev, 30) is False     # its own event comes back: ignored
    assert lamps[7].receive(dict(ev, hops=0), 40) is True  # hops does not bound a shared topic


def test_more_lamps_light_ahead_than_behind():
    lamps = street(ahead=3, behind=1)
    # someone walks from lamp 4 to lamp 5: direction +1
    e1 = lamps[4].announce(0)
    e2 = lamps[5].announce(8 * S)
    lit = []
    for lamp in lamps:
        if lamp.pos in (4, 5):
            continue
        lamp.receive(e1, 100)
        if lamp.receive(e2, 8 * S + 100):
            lit.append(lamp.pos)
    assert lit == [6, 7, 8]  # three ahead; behind, lamp 4 saw the motion itself
    assert not lamps[3].lights_here(5)


def test_without_a_direction_both_sides_light():
    lamps = street(ahead=2, behind=1)
    e = lamps[5].announce(0)
    lit = [lamp.pos for lamp in lamps if lamp.pos != 5 and lamp.receive(e, 10)]
    assert lit == [3, 4, 6, 7]


def test_direction_is_forgotten_after_the_tracking_window():
    lamps = street(ahead=3, behind=0, track_ms=30 * S)
    watcher = lamps[2]
    watcher.receive(lamps[4].announce(0), 0)
    watcher.receive(lamps[5].announce(5 * S), 5 * S)
    assert watcher.direction == 1
    watcher.receive(lamps[4].announce(60 * S), 60 * S)
    assert watcher.direction == 0 and watcher.lights_here(4)


def test_malformed_events_are_refused_and_change_nothing():
    lamp = Neighbours("lamp1", 1)
    for bad, field in (({"origin": "", "seq": 1, "pos": 2, "hops": 1}, "origin"),
                       ({"origin": "lamp2", "seq": "1", "pos": 2, "hops": 1}, "seq"),
                       ({"origin": "lamp2", "seq": 1, "pos": "2", "hops": 1}, "pos")):
        try:
            lamp.receive(bad, 0)
            raise AssertionError("accepted %r" % bad)
        except ValueError as e:
            assert ("event.%s" % field) in str(e)
    assert lamp.receive({"origin": "lamp2", "seq": 1, "pos": 2, "hops": 1}, 0)


def test_bad_settings_are_refused():
    for kw in ({"level": 120}, {"hold_ms": 0}, {"chatter_ms": 1 << 29}, {"announce_ms": -1}, {"debounce_ms": "x"}):
        try:
            Presence(**kw)
            raise AssertionError("accepted %r" % kw)
        except ValueError as e:
            assert "presence." in str(e)


def test_presence_needs_the_dark_the_light_sensor_sees_where_it_is_asked():
    p = Presence(level=100, hold_ms=60 * S)
    p.motion(0)
    assert p.level(S, 40) == 100                      # by the program: on, so dark
    assert p.level(S, 0) is None                      # by the program: off, so day
    assert p.level(S, 40, dark=False) is None         # the sensor sees daylight: no boost at 40 %
    assert p.level(S, 0, dark=True) == 100            # the sensor sees night: a boost though the program is off
    assert p.level(S, 60, dark=True) == 100
