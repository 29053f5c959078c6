# Dimming programs: what level the lamp should have at any instant, and when
# that next changes, from a JSON document a lighting engineer or a city's CMS
# writes (docs/programs.md). The model follows TALQ: a calendar picks, for each
# night, one of several control programs; a program is a list of steps.
#
# A program covers one "lighting day": from local noon of a date to noon of the
# next, so a night is one unit whose date is the date of its evening. Clock
# times from 12:00 to 23:59 fall on that date, 00:00 to 11:59 on the next;
# evening sun events (sunset, dusk, nautical_dusk) are those of the date,
# morning ones (sunrise, dawn, nautical_dawn) those of the next day.
#
# Times are UTC seconds since 1970-01-01 (the board's RTC), ints throughout;
# only fades use floats, over at most MAX_FADE seconds.
from lampctl import drop, solar
from lampctl.program_codes import CLOCK, MIN, NOON, SINGLE, ProgramError  # noqa: F401 (ProgramError: what Program raises)
from lampctl.tz import DAY, civil_from_days, weekday

FADE_STEP = 1.0       # % of level change between two reported changes in a fade


def clamp_level(level, lo, hi):
    """A lamp's level limits: off stays off, anything lit is held in [lo, hi]."""
    if level <= 0:
        return 0
    return hi if level > hi else lo if level < lo else level


class Program:
    """A validated program document, compact enough for the board's RAM:
    id, names (program names, sorted), steps (per name: (op, terms, level,
    fade s) tuples), default (index), calendar (compiled entries), min_level,
    max_level. Raises ProgramError naming the field of the first problem."""
    # set by lampctl.program_doc (annotations only: no class attributes on the board)
    id: str
    names: tuple
    steps: tuple
    default: int
    calendar: tuple
    min_level: float
    max_level: float

    def __init__(self, doc):
        from lampctl import program_doc  # the document's rules: loaded to read one, dropped after
        try:
            program_doc.fill(self, doc)
        finally:
            drop("program_doc")

    def program_for(self, lday):
        """Index into self.names of the program for the night starting on day `lday`:
        the first calendar entry that matches, else the default."""
        _y, m, d = civil_from_days(lday)
        md = m * 100 + d
        bit = 1 << weekday(lday)
        for prog, dated, ranged, lo, hi, mask in self.calendar:
            if mask and not mask & bit:
                continue
            if ranged:
                k = lday if dated else md
                inside = lo <= k <= hi if (dated or lo <= hi) else (k >= lo or k <= hi)
                if not inside:
                    continue
            return prog
        return self.default


def _interp(t0, start, end, length, t):
    if length <= 0 or t >= t0 + length:
        return end
    if t <= t0:
        return start
    return start + (end - start) * (t - t0) / length


class Evaluator:
    """A Program at one lamp's place and time zone: level(utc) answers what
    level now, and when it next changes, so the app sleeps until then.

    A step's time is resolved each night; where a clock time and a sun event
    disagree about order (a "22:00" step after "sunset" in a northern summer,
    when sunset is 22:30), the sun wins: a clock-time or min/max step is held
    between the sun-event steps listed around it, then every step is held no
    earlier than the one before, so steps never run out of their listed order
    and the lamp never lights before a listed sunset.

    In a polar day (white night) an event the sun does not reach falls at
    solar midnight, in a polar night at solar noon, offsets dropped: a program
    "sunset -> on, sunrise+10m -> off" keeps the lamp off all through a
    midsummer in Tromso and on all through its midwinter."""

    def __init__(self, program, tz, lat, lon):
        self.program = program
        self.tz = tz
        self.lat = lat
        self.lon = lon
        self._lday = None  # type: int | None
        self._timeline = []  # type: list

    def set_tz(self, tz):
        """A new time zone, from the next level() on: tonight's resolved steps
        are worked out again, not kept until the next lighting day."""
        self.tz = tz
        self._lday = None

    def lighting_day(self, utc):
        """Day number of the date whose noon-to-noon span holds `utc`."""
        return (self.tz.to_local(utc) - NOON) // DAY

    def program_name(self, utc):
        return self.program.names[self.program.program_for(self.lighting_day(utc))]

    def _resolve(self, term, lday):
        code, v = term
        if code == CLOCK:
            return self.tz.to_utc((lday + (0 if v >= NOON else 1)) * DAY + v)
        # evening events (odd codes) are the date's own, morning ones the next day's
        t, state = solar.event(code, lday + (code + 1) % 2, self.lat, self.lon)
        # an event the sun skips that day sits at solar midnight (or noon) without
        # its offset, so a night (or day) that does not happen keeps zero length
        return t + v if state == solar.NORMAL else t

    def _night(self, lday):
        steps = self.program.steps[self.program.program_for(lday)]
        times = []
        for op, terms, _level, _fade in steps:
            t = self._resolve(terms[0], lday)
            for term in terms[1:]:
                u = self._resolve(term, lday)
                t = min(t, u) if op == MIN else max(t, u)
            times.append(t)
        sun = [i for i in range(len(steps)) if steps[i][0] == SINGLE and steps[i][1][0][0] != CLOCK]
        out = []
        for i in range(len(steps)):
            t = times[i]
            if i not in sun:
                for a in sun:
                    if a < i:
                        t = max(t, times[a])
                    elif a > i:
                        t = min(t, times[a])
                        break
            out.append((t, steps[i][2], steps[i][3]))
        return out

    def _timeline_for(self, lday):
        if self._lday != lday:
            tl = self._night(lday - 1) + self._night(lday) + self._night(lday + 1)
            for k in range(1, len(tl)):
                if tl[k][0] < tl[k - 1][0]:
                    tl[k] = (tl[k - 1][0], tl[k][1], tl[k][2])
            self._lday, self._timeline = lday, tl
        return self._timeline

    def steps(self, utc):
        """The resolved (UTC time, level, fade s) steps of the night before,
        the night of, and the night after `utc`: for reports and tests."""
        return list(self._timeline_for(self.lighting_day(utc)))

    def level(self, utc):
        """(level %, UTC second of the next change) at UTC second `utc`.
        During a fade the next change is when the level has moved FADE_STEP %."""
        tl = self._timeline_for(self.lighting_day(utc))
        t0, start, end, length = tl[0][0], tl[0][1], tl[0][1], 0
        nxt = utc + DAY
        for t, lvl, fade in tl:
            if t > utc:
                nxt = t
                break
            start = _interp(t0, start, end, length, t)
            t0, end, length = t, lvl, fade
        now = _interp(t0, start, end, length, utc)
        p = self.program
        level = clamp_level(now, p.min_level, p.max_level)
        if utc < t0 + length and start != end:
            # a fade up from off leaps to min_level at once: wake a second later
            per_step = 1 if level <= 0 < end else int(length * FADE_STEP / abs(end - start)) + 1
            nxt = min(nxt, t0 + length, utc + per_step)
        return level, nxt
