# State that survives a reboot or a power cut: the active program, a manual
# override with its expiry, and what the board knew about its clock.
# Flash wears out and a power cut can strike mid-write, so a file is written
# whole to a temporary name and renamed over the old one (the rename is atomic
# on the board's filesystem), and only when something worth keeping changed.
import json
import os

STATE_PATH = "state.json"
CLOCK_SAVE_S = 86400    # a newer clock sync alone is saved at most daily
EARLIEST_VALID = 1767225600  # 2026-01-01: an RTC before this was never set


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def write_json_atomic(path, obj):
    """write_atomic for a JSON document, streamed to the file: a config or a
    program never has to fit the heap whole as one string."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.rename(tmp, path)


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def read_text(path):
    """The file's text, or None when it does not exist."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


class State:
    """program: active program id or None; override: (level, until UTC s or
    None, fade ms) or None; clock_synced: UTC second of the last time set
    (NTP or command) or None; clock_source: "ntp", "command" or None."""

    def __init__(self, program=None, override=None, clock_synced=None, clock_source=None):
        self.program = program
        self.override = override
        self.clock_synced = clock_synced
        self.clock_source = clock_source
        self._saved = None  # type: tuple | None

    @staticmethod
    def _live(override, utc):
        if override is not None and override[1] is not None and utc is not None and utc >= override[1]:
            return None  # expired: the same as none, on flash as in RAM
        return override

    def needs_write(self, utc):
        """True when what is on flash no longer tells the board what it needs
        after a reboot: the program or a live override changed, the clock was
        set for the first time or by another source, or its last save is a day old."""
        if self._saved is None:
            return True
        program, override, source, synced = self._saved
        if program != self.program or source != self.clock_source or \
                self._live(override, utc) != self._live(self.override, utc):
            return True
        return self.clock_synced is not None and (synced is None or self.clock_synced - synced >= CLOCK_SAVE_S)

    def to_json(self):
        ov = self.override
        return json.dumps({
            "program": self.program,
            "override": None if ov is None else {"level": ov[0], "until": ov[1], "fade_ms": ov[2]},
            "clock": {"synced": self.clock_synced, "source": self.clock_source},
        })

    @staticmethod
    def from_json(text):
        """A State from saved text; ValueError naming the field if it is damaged."""
        try:
            d = json.loads(text)
        except ValueError:
            raise ValueError("state: not valid JSON")
        if not isinstance(d, dict):
            raise ValueError("state: expected a JSON object")
        program = d.get("program")
        if program is not None and not isinstance(program, str):
            raise ValueError("state.program: expected a program id, got %r" % (program,))
        ov = d.get("override")
        override = None
        if ov is not None:
            level = ov.get("level") if isinstance(ov, dict) else None
            if not isinstance(level, (int, float)) or isinstance(level, bool) or not 0 <= level <= 100 or \
                    not isinstance(ov.get("fade_ms", 0), int) or \
                    not (ov.get("until") is None or isinstance(ov.get("until"), int)):
                raise ValueError("state.override: expected {level, until, fade_ms}, got %r" % (ov,))
            override = (ov["level"], ov.get("until"), ov.get("fade_ms", 0))
        clock = d.get("clock") or {}
        synced = clock.get("synced") if isinstance(clock, dict) else None
        if synced is not None and not isinstance(synced, int):
            raise ValueError("state.clock.synced: expected UTC seconds, got %r" % (synced,))
        source = clock.get("source") if isinstance(clock, dict) else None
        if source is not None and not isinstance(source, str):
            raise ValueError("state.clock.source: expected a name, got %r" % (source,))
        s = State(program, override, synced, source)
        s.mark_written()
        return s

    def mark_written(self):
        self._saved = (self.program, self.override, self.clock_source, self.clock_synced)

    def clock_valid(self, rtc_utc):
        """Whether the RTC's time can be trusted at boot: it was set at some
        point (not the 2000-01-01 a power cut leaves) and has not gone back
        before the last sync this board saved (an RTC that lost its time)."""
        if rtc_utc < EARLIEST_VALID:
            return False
        return self.clock_synced is None or rtc_utc >= self.clock_synced


def load(path=STATE_PATH):
    """(State, problem): the saved state, or a fresh one and why (None when
    there simply was none). A damaged file never stops the lamp."""
    text = read_text(path)
    if text is None:
        return State(), None
    try:
        return State.from_json(text), None
    except ValueError as e:
        return State(), str(e)


def save(state, utc, path=STATE_PATH):
    """Write `state` if needs_write(utc); True when it wrote."""
    if not state.needs_write(utc):
        return False
    write_atomic(path, state.to_json())
    state.mark_written()
    return True
