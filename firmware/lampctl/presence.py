# Presence: motion at this pole, or reported by a neighbour, raises the lamp
# for a hold time. Pure logic: every call takes `now` in milliseconds as
# time.ticks_ms() returns it (wrapping at 2**30; differences are wrap-safe),
# so tests drive the clock. The fades themselves are the arbiter's.

from lampctl.ticks import TICKS_PERIOD, ticks_add, ticks_diff

_HALF = TICKS_PERIOD >> 1

IGNORED = 0    # bounce, chatter, or too soon after the last accepted motion
HELD = 1       # accepted: the hold time restarts
ANNOUNCE = 2   # accepted, and worth telling the neighbours about


class Presence:
    """Motion -> presence level, held `hold_ms` after the last motion.

    The sensor's edges are filtered: edges within `debounce_ms` of the previous
    edge are bounce; more than `chatter_edges` edges inside `chatter_ms` mark
    the sensor as chattering (a faulty or wind-blown PIR), and it is ignored
    until a whole `chatter_ms` passes quietly, so a broken sensor cannot hold
    the street at full light all night."""

    def __init__(self, level=100, hold_ms=60000, debounce_ms=200, chatter_edges=20, chatter_ms=10000,
                 announce_ms=5000):
        for name, v in (("level", level), ("hold_ms", hold_ms), ("debounce_ms", debounce_ms),
                        ("chatter_edges", chatter_edges), ("chatter_ms", chatter_ms), ("announce_ms", announce_ms)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ValueError("presence.%s: expected a number >= 0, got %r" % (name, v))
        if level > 100:
            raise ValueError("presence.level: %r is out of range [0, 100]" % level)
        for name, v in (("hold_ms", hold_ms), ("chatter_ms", chatter_ms)):
            if not 0 < v < _HALF:  # tick differences are only meaningful below 2**29 ms
                raise ValueError("presence.%s: %r must be between 1 and %d" % (name, v, _HALF - 1))
        self.level_pc = level
        self.hold_ms = hold_ms
        self.debounce_ms = debounce_ms
        self.chatter_edges = chatter_edges
        self.chatter_ms = chatter_ms
        self.announce_ms = announce_ms
        self._until = None  # type: int | None
        self._last_edge = None  # type: int | None
        self._window_start = None  # type: int | None
        self._window_edges = 0
        self._chattering = False
        self._last_announce = None  # type: int | None

    def _count_edge(self, now):
        """Counts edges in windows of chatter_ms; True while the sensor chatters.
        A window with too many edges marks it chattering, for the rest of that
        window and the whole next one, until a window stays within the limit."""
        if self._window_start is None:
            self._window_start = now
        since = ticks_diff(now, self._window_start)
        if since >= self.chatter_ms:
            excessive = self._window_edges > self.chatter_edges
            self._chattering = excessive and since < 2 * self.chatter_ms
            self._window_start, self._window_edges = now, 0
        self._window_edges += 1
        if self._window_edges > self.chatter_edges:
            self._chattering = True
        return self._chattering

    def motion(self, now):
        """A rising edge of the motion sensor at `now` ms: IGNORED, HELD or ANNOUNCE."""
        bounce = self._last_edge is not None and ticks_diff(now, self._last_edge) < self.debounce_ms
        self._last_edge = now
        if self._count_edge(now) or bounce:
            return IGNORED
        self.hold(now, self.hold_ms)
        if self._last_announce is None or ticks_diff(now, self._last_announce) >= self.announce_ms:
            self._last_announce = now
            return ANNOUNCE
        return HELD

    def hold(self, now, hold_ms):
        """Keep the presence level until `hold_ms` after `now` (never shortens a hold)."""
        until = ticks_add(now, hold_ms)
        if self._until is None or ticks_diff(until, self._until) > 0:
            self._until = until

    @property
    def chattering(self):
        return self._chattering

    def active(self, now):
        if self._until is None:
            return False
        if ticks_diff(self._until, now) > 0:
            return True
        self._until = None  # expired: forget it, so a tick wrap can't revive it
        return False

    def level(self, now, program_level, dark=None):
        """The presence level if someone is (or was just) there and it is dark;
        None otherwise (daylight, or nobody). dark: what the light sensor says
        (True/False), or None to take the program's word (its level above 0)."""
        if not (program_level > 0 if dark is None else dark) or not self.active(now):
            return None
        return max(self.level_pc, program_level)


class Neighbours:
    """Neighbour presence along one street.

    Events are dicts {"origin": device id, "seq": int, "pos": position along the
    street, "hops": relays left}. Positions are numbers on one axis in any unit
    (lamp numbers along the street make `ahead`/`behind` count lamps). Two
    successive events from different origins within `track_ms` give the
    direction of travel; lamps up to `ahead` in that direction light, and up to
    `behind` the other way. With no direction known, `ahead` applies both ways.
    An event with no position (None) lights every lamp it reaches."""

    def __init__(self, device, pos, ahead=3, behind=1, track_ms=30000, remember=16, remember_ms=120000):
        if ahead < 0 or behind < 0 or remember < 1:
            raise ValueError("neighbours: ahead, behind must be >= 0, remember >= 1")
        self.device = device
        self.pos = pos
        self.ahead = ahead
        self.behind = behind
        self.track_ms = track_ms
        self.remember_ms = remember_ms
        self._seen = [None] * remember  # type: list
        self._next_slot = 0
        self._seq = 0
        self._last = None  # type: tuple | None
        self.direction = 0

    def _track(self, origin, pos, now):
        last = self._last
        if pos is None:
            return
        if last is not None and last[0] != origin and ticks_diff(now, last[2]) < self.track_ms and pos != last[1]:
            self.direction = 1 if pos > last[1] else -1
        elif last is None or ticks_diff(now, last[2]) >= self.track_ms:
            self.direction = 0
        self._last = (origin, pos, now)

    def _duplicate(self, origin, seq, now):
        for entry in self._seen:
            if entry is not None and entry[0] == origin and entry[1] == seq and \
                    ticks_diff(now, entry[2]) < self.remember_ms:
                return True
        self._seen[self._next_slot] = (origin, seq, now)
        self._next_slot = (self._next_slot + 1) % len(self._seen)
        return False

    def announce(self, now):
        """The event to publish for motion seen here (after Presence.motion
        returned ANNOUNCE)."""
        self._seq += 1
        self._duplicate(self.device, self._seq, now)
        self._track(self.device, self.pos, now)
        # hops: 1 for boards of older firmware on the same street, which light only for hops > 0
        return {"origin": self.device, "seq": self._seq, "pos": self.pos, "hops": 1}

    def lights_here(self, pos):
        if pos is None or self.pos is None:
            return True
        rel = (self.pos - pos) * (self.direction or 1)
        if rel >= 0 or self.direction == 0:
            return abs(rel) <= self.ahead
        return -rel <= self.behind

    def receive(self, event, now):
        """True when this lamp should hold its presence level for an event
        heard at `now`. Every lamp of the street hears the origin itself, so
        nothing is relayed and `hops` is not read. Each (origin, seq) acts
        once; a malformed event raises ValueError naming the field and changes
        nothing."""
        if not isinstance(event, dict):
            raise ValueError("presence event: expected an object")
        origin, seq, pos = event.get("origin"), event.get("seq"), event.get("pos")
        if not isinstance(origin, str) or not origin:
            raise ValueError("presence event.origin: expected a device id, got %r" % (origin,))
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise ValueError("presence event.seq: expected an integer, got %r" % (seq,))
        if pos is not None and (isinstance(pos, bool) or not isinstance(pos, (int, float))):
            raise ValueError("presence event.pos: expected a number or null, got %r" % (pos,))
        if origin == self.device or self._duplicate(origin, seq, now):
            return False
        self._track(origin, pos, now)
        return self.lights_here(pos)
