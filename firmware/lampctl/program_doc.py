# A dimming program's document read and checked (docs/programs.md): loaded
# by lampctl.program.Program for one document and dropped after, so these
# rules and their messages take no heap while the program runs.
from lampctl import solar
from lampctl.program_codes import (CLOCK, MAX, MAX_CALENDAR, MAX_FADE, MAX_ID, MAX_OFFSET, MAX_PROGRAMS, MAX_STEPS,
                                   MAX_TERMS, MIN, NOON, SINGLE, WEEKDAYS, ProgramError)
from lampctl.tz import DAY, days_from_civil, month_days


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


def fill(prog, doc):
    """Read a program document into `prog` (a Program), or raise ProgramError."""
    if not isinstance(doc, dict):
        raise ProgramError("program: expected a JSON object")
    pid = doc.get("id")
    if not isinstance(pid, str) or not 1 <= len(pid) <= MAX_ID:
        raise ProgramError("id: expected a name of 1 to %d characters, got %r" % (MAX_ID, pid))
    known = ("id", "programs", "default", "calendar", "steps", "min_level", "max_level")
    for key in doc:
        if key not in known:
            raise ProgramError("%s: unknown field (known: %s)" % (key, ", ".join(known)))
    prog.id = pid
    if "steps" in doc:  # shorthand: one program, no calendar
        if "programs" in doc or "calendar" in doc or "default" in doc:
            raise ProgramError("steps: give either steps (one program) or programs with a calendar, not both")
        prog.names = ("default",)
        prog.steps = (_steps(doc["steps"], "steps"),)
        default = "default"  # type: object
        doc_calendar = []  # type: list
    else:
        specs = doc.get("programs")
        if not isinstance(specs, dict) or not specs:
            raise ProgramError("programs: expected an object of named programs, each with steps")
        if len(specs) > MAX_PROGRAMS:
            raise ProgramError("programs: %d programs, at most %d" % (len(specs), MAX_PROGRAMS))
        prog.names = tuple(sorted(specs))
        for n in prog.names:
            if not isinstance(specs[n], dict) or "steps" not in specs[n]:
                raise ProgramError("programs.%s: expected an object with steps" % n)
        prog.steps = tuple(_steps(specs[n]["steps"], "programs.%s.steps" % n) for n in prog.names)
        default = doc.get("default")
        doc_calendar = doc.get("calendar", [])
    names = list(prog.names)
    if default not in names:
        raise ProgramError("default: %r is not one of the programs (%s)" % (default, ", ".join(names)))
    prog.default = names.index(default)
    if not isinstance(doc_calendar, list):
        raise ProgramError("calendar: expected a list of entries")
    if len(doc_calendar) > MAX_CALENDAR:
        raise ProgramError("calendar: %d entries, at most %d" % (len(doc_calendar), MAX_CALENDAR))
    prog.calendar = tuple(_calendar_entry(e, names, "calendar[%d]" % i) for i, e in enumerate(doc_calendar))
    prog.min_level = _number(doc.get("min_level", 0), 0, 100, "min_level")
    prog.max_level = _number(doc.get("max_level", 100), 0, 100, "max_level")
    if prog.min_level > prog.max_level:
        raise ProgramError("min_level: %r is above max_level %r" % (prog.min_level, prog.max_level))
