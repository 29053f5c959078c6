# Local time from a POSIX TZ string (the form in the last line of a tzdata
# file), e.g. "CET-1CEST,M3.5.0,M10.5.0/3": integer arithmetic only, so it is
# exact on a single-precision board. Times are seconds since 1970-01-01;
# "local seconds" are the same count on the local wall clock.
#
# Wall-clock times that a DST change skips or repeats (local -> UTC):
# - skipped (02:30 on a spring-forward night in Berlin): the wall time is read
#   with the offset in force before the change, so it lands as far after the
#   jump as it was into the gap (02:30 -> 03:30 CEST);
# - repeated (02:30 on a fall-back night): the first occurrence.
# This is Python's `fold=0`, so a schedule step runs exactly once either way.

DAY = 86400
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def days_from_civil(y, m, d):
    """Day number since 1970-01-01 of a proleptic Gregorian date."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def civil_from_days(n):
    """(year, month, day) of a day number since 1970-01-01."""
    n += 719468
    era = n // 146097
    doe = n - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def weekday(n):
    """0 = Monday ... 6 = Sunday, of a day number."""
    return (n + 3) % 7


def is_leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def month_days(y, m):
    return 29 if m == 2 and is_leap(y) else _MONTH_DAYS[m - 1]


class _Parser:
    def __init__(self, spec):
        self.s = spec
        self.i = 0

    def fail(self, what):
        raise ValueError("TZ %r: %s at position %d" % (self.s, what, self.i))

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else ""

    def name(self):
        start = self.i
        if self.peek() == "<":
            end = self.s.find(">", start)
            if end < 0:
                self.fail("unclosed '<' in zone name")
            self.i = end + 1
            text = self.s[start + 1:end]
        else:
            while self.peek().isalpha():
                self.i += 1
            text = self.s[start:self.i]
        if len(text) < 3:
            self.i = start
            self.fail("zone name must have at least 3 characters")
        return text

    def number(self, lo, hi, what):
        start = self.i
        while self.peek().isdigit():
            self.i += 1
        if start == self.i:
            self.fail("expected " + what)
        v = int(self.s[start:self.i])
        if not lo <= v <= hi:
            self.i = start
            self.fail("%s %d out of range [%d, %d]" % (what, v, lo, hi))
        return v

    def clock(self, max_hours, what):
        """[+|-]hh[:mm[:ss]] in seconds."""
        sign = 1
        if self.peek() in "+-":
            sign = -1 if self.peek() == "-" else 1
            self.i += 1
        secs = self.number(0, max_hours, what + " hours") * 3600
        for scale in (60, 1):
            if self.peek() != ":":
                break
            self.i += 1
            secs += self.number(0, 59, what + " minutes/seconds") * scale
        return sign * secs

    def rule(self):
        """(kind, a, b, c, time): kind 'J' (a = 1..365, no Feb 29), 'n'
        (a = 0..365, counting Feb 29) or 'M' (month a, week b, weekday c)."""
        c = self.peek()
        if c == "J":
            self.i += 1
            r = ["J", self.number(1, 365, "Julian day"), 0, 0]
        elif c == "M":
            self.i += 1
            month = self.number(1, 12, "month")
            if self.peek() != ".":
                self.fail("expected '.' after month")
            self.i += 1
            week = self.number(1, 5, "week")
            if self.peek() != ".":
                self.fail("expected '.' after week")
            self.i += 1
            r = ["M", month, week, self.number(0, 6, "weekday")]
        elif c.isdigit():
            r = ["n", self.number(0, 365, "day of year"), 0, 0]
        else:
            self.fail("expected a rule (Mm.w.d, Jn or n)")
        time = 7200
        if self.peek() == "/":
            self.i += 1
            time = self.clock(167, "rule time")  # RFC 8536 extended range
        return (r[0], r[1], r[2], r[3], time)


class TZ:
    """A parsed POSIX TZ string. Offsets are seconds east of UTC."""

    def __init__(self, spec):
        if not isinstance(spec, str) or not spec:
            raise ValueError("TZ: expected a POSIX TZ string such as 'CET-1CEST,M3.5.0,M10.5.0/3', got %r" % (spec,))
        p = _Parser(spec)
        self.spec = spec
        self.std_name = p.name()
        self.std = -p.clock(24, "UTC offset")  # POSIX counts west as positive
        self.dst = self.std
        self.dst_name = None  # type: str | None
        self.start = self.end = None  # type: tuple | None
        if p.peek():
            self.dst_name = p.name()
            self.dst = self.std + 3600
            if p.peek() not in (",", ""):
                self.dst = -p.clock(24, "DST offset")
            if p.peek() != ",":
                p.fail("DST rules missing (expected ',start,end', e.g. ',M3.5.0,M10.5.0/3')")
            p.i += 1
            self.start = p.rule()
            if p.peek() != ",":
                p.fail("expected ',' before the DST end rule")
            p.i += 1
            self.end = p.rule()
            if p.peek():
                p.fail("unexpected text")
        self._year = None  # type: int | None
        self._changes = ()  # type: tuple

    @staticmethod
    def _rule_day(rule, y):
        kind, a, b, c = rule[0], rule[1], rule[2], rule[3]
        jan1 = days_from_civil(y, 1, 1)
        if kind == "J":
            return jan1 + a - 1 + (1 if is_leap(y) and a >= 60 else 0)
        if kind == "n":
            return jan1 + a
        first = days_from_civil(y, a, 1)
        sunday_based = (weekday(first) + 1) % 7  # POSIX weekdays: 0 = Sunday
        day = 1 + (c - sunday_based) % 7 + (b - 1) * 7
        while day > month_days(y, a):
            day -= 7
        return first + day - 1

    def _changes_around(self, y):
        """Sorted (UTC second, offset from then on) for years y-1 .. y+1."""
        if self._year != y:
            out = []
            start, end = self.start, self.end
            assert start is not None and end is not None  # only called for zones with DST
            for year in (y - 1, y, y + 1):
                on = self._rule_day(start, year) * DAY + start[4] - self.std
                off = self._rule_day(end, year) * DAY + end[4] - self.dst
                out.append((on, self.dst))
                out.append((off, self.std))
            out.sort()
            self._year, self._changes = y, tuple(out)
        return self._changes

    def offset(self, utc):
        """Seconds to add to UTC for the local wall clock at instant `utc`."""
        if self.start is None:
            return self.std
        y = civil_from_days((utc + self.std) // DAY)[0]
        current = None
        for at, off in self._changes_around(y):
            if at > utc:
                break
            current = off
        if current is None:  # unreachable with sane rules: before last year's first change
            return self.std
        return current

    def is_dst(self, utc):
        return self.start is not None and self.offset(utc) == self.dst and self.dst != self.std

    def to_local(self, utc):
        return utc + self.offset(utc)

    def to_utc(self, local):
        """The instant a wall-clock time names (see the module note for the
        skipped and repeated hours)."""
        a = local - self.std
        b = local - self.dst
        ok_a = self.offset(a) == self.std
        ok_b = self.offset(b) == self.dst
        if ok_a and ok_b:
            return min(a, b)  # repeated: the first occurrence
        if ok_a:
            return a
        if ok_b:
            return b
        return max(a, b)  # skipped: read with the offset before the jump
