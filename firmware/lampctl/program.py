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
from lampctl import solar
from lampctl.tz import DAY, civil_from_days, days_from_civil, month_days, weekday

MAX_PROGRAMS = 8
MAX_STEPS = 12        # per program
MAX_CALENDAR = 16     # calendar entries
MAX_TERMS = 4         # operands of min()/max()
MAX_OFFSET = 6 * 3600
MAX_FADE = 7200
MAX_ID = 32
NOON = 12 * 3600
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCK = -1            # term code of a clock time; 0..5 are solar.EVENTS
SINGLE, MIN, MAX = 0, 1, 2
FADE_STEP = 1.0       # % of level change between two reported changes in a fade


class ProgramError(ValueError):
    pass


def clamp_level(level, lo, hi):
    """A lamp's level limits: off stays off, anything lit is held in [lo, hi]."""
    if level <= 0:
        return 0
    return hi if level > hi else lo if level < lo else level


def _number(v, lo, hi, where):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ProgramError("%s: expected a number, got %r" % (where, v))
    if not lo <= v <= hi:
        raise ProgramError("%s: %r is out of range [%r, %r]" % (where, v, lo, hi))
    return v


def _clock(text, where):
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ProgramError("%s: %r is not a time (HH:MM or HH:MM:SS)" % (where, text))
    h, m = int(parts[0]), int(parts[1])
    s = int(parts[2]) if len(parts) == 3 else 0
    if h > 23 or m > 59 or s > 59:
        raise ProgramError("%s: %r is not a time of day" % (where, text))
    return h * 3600 + m * 60 + s


def _offset(text, where):
    """'+15m', '-1h30m', '+90s' -> seconds."""
    sign = -1 if text[0] == "-" else 1
    total, digits, i = 0, "", 1
    if len(text) < 3:
        raise ProgramError("%s: offset %r needs a number and a unit (h, m, s)" % (where, text))
    while i < len(text):
        c = text[i]
        if c.isdigit():
            digits += c
        elif c in "hms" and digits:
            total += int(digits) * (3600 if c == "h" else 60 if c == "m" else 1)
            digits = ""
        else:
            raise ProgramError("%s: offset %r is not like '+15m' or '-1h30m'" % (where, text))
        i += 1
    if digits:
        raise ProgramError("%s: offset %r lacks a unit after %s (h, m or s)" % (where, text, digits))
    if total > MAX_OFFSET:
        raise ProgramError("%s: offset %r exceeds %d h" % (where, text, MAX_OFFSET // 3600))
    return sign * total


def _term(text, where):
    """(CLOCK, seconds of day) or (event code, offset seconds)."""
    if text[:1].isdigit():
        return (CLOCK, _clock(text, where))
    cut = len(text)
    for sign in "+-":
        k = text.find(sign)
        if 0 <= k < cut:
            cut = k
    name = text[:cut]
    if name not in solar.EVENTS:
        raise ProgramError("%s: unknown event %r (known: %s, or a time HH:MM)" % (
            where, name, ", ".join(solar.EVENTS)))
    return (solar.EVENTS.index(name), _offset(text[cut:], where) if cut < len(text) else 0)


def _expression(text, where):
    """'sunset+15m' | '23:30' | 'min(21:00, sunrise)' -> (op, (term, ...))."""
    if not isinstance(text, str) or not text.strip():
        raise ProgramError("%s: expected a time or sun event such as 'sunset+15m' or '23:30', got %r" % (where, text))
    text = "".join(text.split())
    for op, name in ((MIN, "min("), (MAX, "max(")):
        if text.startswith(name):
            if not text.endswith(")"):
                raise ProgramError("%s: %r lacks its closing ')'" % (where, text))
            args = text[4:-1].split(",")
            if not 2 <= len(args) <= MAX_TERMS:
                raise ProgramError("%s: %s takes 2 to %d times, got %d" % (where, name[:3], MAX_TERMS, len(args)))
            return (op, tuple(_term(a, where) for a in args))
    if "(" in text or "," in text:
        raise ProgramError("%s: %r: only min(...) and max(...) take several times" % (where, text))
    return (SINGLE, (_term(text, where),))


def _order_key(term):
    """Nominal place of a single term in a lighting day, where one is known:
    clock times exactly, sun events only against the same event."""
    code, v = term
    if code == CLOCK:
        return (CLOCK, (v - NOON) % DAY)
    return (code, v)


def _check_order(steps, where):
    for j in range(1, len(steps)):
        op_j, terms_j = steps[j][0], steps[j][1]
        for i in range(j):
            op_i, terms_i = steps[i][0], steps[i][1]
            if op_i != SINGLE or op_j != SINGLE:
                continue
            a, b = terms_i[0], terms_j[0]
            morning_then_evening = a[0] >= 0 and a[0] % 2 == 0 and b[0] >= 0 and b[0] % 2 == 1
            ka, kb = _order_key(a), _order_key(b)
            if morning_then_evening or (ka[0] == kb[0] and ka[1] >= kb[1]):
                what = "overlaps" if ka == kb else "comes before"
                raise ProgramError("%s[%d].at: %s steps[%d].at (steps are listed in time order from noon to noon)" % (
                    where, j, what, i))
        prev = steps[j - 1]
        if op_j == SINGLE and prev[0] == SINGLE and prev[1][0][0] == CLOCK and terms_j[0][0] == CLOCK:
            gap = (terms_j[0][1] - prev[1][0][1]) % DAY
            if prev[3] > gap:
                raise ProgramError("%s[%d].fade: %d s runs past the next step, %d s later (overlapping steps)" % (
                    where, j - 1, prev[3], gap))


def _steps(steps, where):
    if not isinstance(steps, list) or not steps:
        raise ProgramError("%s: expected a non-empty list of steps" % where)
    if len(steps) > MAX_STEPS:
        raise ProgramError("%s: %d steps, at most %d fit the board's RAM budget" % (where, len(steps), MAX_STEPS))
    out = []
    for i, step in enumerate(steps):
        w = "%s[%d]" % (where, i)
        if not isinstance(step, dict):
            raise ProgramError("%s: expected an object {at, level, fade}" % w)
        for key in step:
            if key not in ("at", "level", "fade"):
                raise ProgramError("%s.%s: unknown field (known: at, level, fade)" % (w, key))
        if "at" not in step or "level" not in step:
            raise ProgramError("%s.%s: missing" % (w, "at" if "at" not in step else "level"))
        op, terms = _expression(step["at"], w + ".at")
        level = _number(step["level"], 0, 100, w + ".level")
        fade = _number(step.get("fade", 0), 0, MAX_FADE, w + ".fade")
        out.append((op, terms, level, int(fade)))
    _check_order(out, where)
    return tuple(out)


def _date(text, where):
    """'MM-DD' (every year) -> (False, MM*100+DD); 'YYYY-MM-DD' -> (True, day number)."""
    parts = text.split("-") if isinstance(text, str) else []
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts) or len(parts[0]) not in (2, 4):
        raise ProgramError("%s: %r is not a date (MM-DD or YYYY-MM-DD)" % (where, text))
    y = int(parts[0]) if len(parts) == 3 else 2000  # a leap year, so 02-29 passes
    m, d = int(parts[-2]), int(parts[-1])
    if not (1 <= m <= 12 and 1 <= d <= month_days(y, m)):
        raise ProgramError("%s: %r is not a date" % (where, text))
    return (True, days_from_civil(y, m, d)) if len(parts) == 3 else (False, m * 100 + d)


def _calendar_entry(entry, names, where):
    if not isinstance(entry, dict):
        raise ProgramError("%s: expected an object {program, from, to, days}" % where)
    for key in entry:
        if key not in ("program", "from", "to", "days"):
            raise ProgramError("%s.%s: unknown field (known: program, from, to, days)" % (where, key))
    name = entry.get("program")
    if name not in names:
        raise ProgramError("%s.program: %r is not one of the programs (%s)" % (where, name, ", ".join(names)))
    dated, lo, hi = False, 0, 0
    if ("from" in entry) != ("to" in entry):
        raise ProgramError("%s.%s: missing (a date range needs both from and to)" % (
            where, "to" if "from" in entry else "from"))
    if "from" in entry:
        a, b = _date(entry["from"], where + ".from"), _date(entry["to"], where + ".to")
        if a[0] != b[0]:
            raise ProgramError("%s.to: write both dates as MM-DD or both as YYYY-MM-DD" % where)
        if a[0] and b[1] < a[1]:
            raise ProgramError("%s.to: %s is before from" % (where, entry["to"]))
        dated, lo, hi = a[0], a[1], b[1]
    mask = 0
    if "days" in entry:
        days = entry["days"]
        if not isinstance(days, list) or not days:
            raise ProgramError("%s.days: expected a list of weekdays such as [\"fri\", \"sat\"]" % where)
        for d in days:
            if d not in WEEKDAYS:
                raise ProgramError("%s.days: unknown weekday %r (known: %s)" % (where, d, ", ".join(WEEKDAYS)))
            mask |= 1 << WEEKDAYS.index(d)
    if "from" not in entry and not mask:
        raise ProgramError("%s: needs a date range (from, to) or days" % where)
    return (names.index(name), dated, "from" in entry, lo, hi, mask)


class Program:
    """A validated program document, compact enough for the board's RAM:
    id, names (program names, sorted), steps (per name: (op, terms, level,
    fade s) tuples), default (index), calendar (compiled entries), min_level,
    max_level. Raises ProgramError naming the field of the first problem."""

    def __init__(self, doc):
        if not isinstance(doc, dict):
            raise ProgramError("program: expected a JSON object")
        pid = doc.get("id")
        if not isinstance(pid, str) or not 1 <= len(pid) <= MAX_ID:
            raise ProgramError("id: expected a name of 1 to %d characters, got %r" % (MAX_ID, pid))
        known = ("id", "programs", "default", "calendar", "steps", "min_level", "max_level")
        for key in doc:
            if key not in known:
                raise ProgramError("%s: unknown field (known: %s)" % (key, ", ".join(known)))
        self.id = pid
        if "steps" in doc:  # shorthand: one program, no calendar
            if "programs" in doc or "calendar" in doc or "default" in doc:
                raise ProgramError("steps: give either steps (one program) or programs with a calendar, not both")
            self.names = ("default",)
            self.steps = (_steps(doc["steps"], "steps"),)
            default = "default"  # type: object
            doc_calendar = []  # type: list
        else:
            specs = doc.get("programs")
            if not isinstance(specs, dict) or not specs:
                raise ProgramError("programs: expected an object of named programs, each with steps")
            if len(specs) > MAX_PROGRAMS:
                raise ProgramError("programs: %d programs, at most %d" % (len(specs), MAX_PROGRAMS))
            self.names = tuple(sorted(specs))
            for n in self.names:
                if not isinstance(specs[n], dict) or "steps" not in specs[n]:
                    raise ProgramError("programs.%s: expected an object with steps" % n)
            self.steps = tuple(_steps(specs[n]["steps"], "programs.%s.steps" % n) for n in self.names)
            default = doc.get("default")
            doc_calendar = doc.get("calendar", [])
        names = list(self.names)
        if default not in names:
            raise ProgramError("default: %r is not one of the programs (%s)" % (default, ", ".join(names)))
        self.default = names.index(default)
        if not isinstance(doc_calendar, list):
            raise ProgramError("calendar: expected a list of entries")
        if len(doc_calendar) > MAX_CALENDAR:
            raise ProgramError("calendar: %d entries, at most %d" % (len(doc_calendar), MAX_CALENDAR))
        self.calendar = tuple(_calendar_entry(e, names, "calendar[%d]" % i) for i, e in enumerate(doc_calendar))
        self.min_level = _number(doc.get("min_level", 0), 0, 100, "min_level")
        self.max_level = _number(doc.get("max_level", 100), 0, 100, "max_level")
        if self.min_level > self.max_level:
            raise ProgramError("min_level: %r is above max_level %r" % (self.min_level, self.max_level))

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
