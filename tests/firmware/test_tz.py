# Local time from POSIX TZ strings as the tz database writes them (each string
# below is the footer of that zone's tzdata file); tests/host/test_tz_zoneinfo.py
# checks every hour of 2026-2035 against Python's zoneinfo.
from lampctl.tz import TZ, civil_from_days, days_from_civil, weekday

BERLIN = "CET-1CEST,M3.5.0,M10.5.0/3"
NEW_YORK = "EST5EDT,M3.2.0,M11.1.0"
SYDNEY = "AEST-10AEDT,M10.1.0,M4.1.0/3"
H = 3600


def utc(y, m, d, hh=0, mm=0):
    return days_from_civil(y, m, d) * 86400 + hh * H + mm * 60


def _error(spec):
    try:
        TZ(spec)
    except ValueError as e:
        return str(e)
    raise AssertionError("no error for %r" % spec)


def test_calendar_arithmetic():
    assert days_from_civil(1970, 1, 1) == 0
    assert days_from_civil(2000, 3, 1) == 11017
    for n in (-1, 0, 59, 11016, 11017, 20000, 24000, 47482):
        assert days_from_civil(*civil_from_days(n)) == n
    assert civil_from_days(days_from_civil(2028, 2, 29)) == (2028, 2, 29)
    assert weekday(days_from_civil(2026, 11, 26)) == 3  # a Thursday


def test_berlin_changes_at_one_utc_on_the_last_sundays():
    tz = TZ(BERLIN)
    assert tz.offset(utc(2026, 3, 29, 0, 59)) == H
    assert tz.offset(utc(2026, 3, 29, 1, 0)) == 2 * H
    assert tz.offset(utc(2026, 10, 25, 0, 59)) == 2 * H
    assert tz.offset(utc(2026, 10, 25, 1, 0)) == H
    assert tz.is_dst(utc(2026, 7, 1)) and not tz.is_dst(utc(2026, 1, 1))


def test_new_york_changes_at_two_local():
    tz = TZ(NEW_YORK)
    assert tz.offset(utc(2027, 3, 14, 6, 59)) == -5 * H
    assert tz.offset(utc(2027, 3, 14, 7, 0)) == -4 * H
    assert tz.offset(utc(2027, 11, 7, 5, 59)) == -4 * H
    assert tz.offset(utc(2027, 11, 7, 6, 0)) == -5 * H


def test_southern_hemisphere_summer_spans_the_new_year():
    tz = TZ(SYDNEY)
    assert tz.offset(utc(2026, 1, 15)) == 11 * H
    assert tz.offset(utc(2026, 7, 15)) == 10 * H
    assert tz.offset(utc(2026, 4, 4, 15, 59)) == 11 * H  # 02:59 AEDT on 5 April
    assert tz.offset(utc(2026, 4, 4, 16, 0)) == 10 * H
    assert tz.offset(utc(2026, 10, 3, 16, 0)) == 11 * H  # 02:00 AEST on 4 October
    assert tz.offset(utc(2026, 12, 31, 23, 59)) == 11 * H


def test_zones_without_dst_and_with_odd_offsets():
    assert TZ("IST-5:30").offset(utc(2030, 6, 1)) == 5 * H + 1800
    assert TZ("<+0545>-5:45").offset(utc(2030, 1, 1)) == 5 * H + 2700
    assert TZ("<-03>3").offset(utc(2030, 1, 1)) == -3 * H
    assert TZ("NST3:30NDT,M3.2.0,M11.1.0").offset(utc(2030, 7, 1)) == -2 * H - 1800
    assert not TZ("JST-9").is_dst(utc(2030, 7, 1))


def test_extended_and_negative_rule_times():
    # Israel: Friday before the last Sunday of March, written as Thursday 26:00
    tz = TZ("IST-2IDT,M3.4.4/26,M10.5.0")
    assert tz.offset(utc(2026, 3, 26, 23, 59)) == 2 * H
    assert tz.offset(utc(2026, 3, 27, 0, 0)) == 3 * H
    # Greenland: 22:00 on Saturday, written as Sunday -1:00
    tz = TZ("<-02>2<-01>,M3.5.0/-1,M10.5.0/0")
    assert tz.offset(utc(2026, 3, 29, 0, 59)) == -2 * H
    assert tz.offset(utc(2026, 3, 29, 1, 0)) == -H


def test_negative_dst_of_ireland():
    # Irish Standard Time is the summer time; winter GMT is written as the "DST"
    tz = TZ("IST-1GMT0,M10.5.0,M3.5.0/1")
    assert tz.offset(utc(2026, 1, 10)) == 0
    assert tz.offset(utc(2026, 7, 10)) == H
    assert tz.offset(utc(2026, 10, 25, 0, 59)) == H
    assert tz.offset(utc(2026, 10, 25, 1, 0)) == 0


def test_julian_day_rules():
    # Jn never counts 29 February: J60 is 1 March every year
    tz = TZ("AAA3BBB,J60/0,J300/0")
    assert tz.offset(utc(2028, 2, 29, 23, 0)) == -3 * H  # 20:00 local, still standard
    assert tz.offset(utc(2028, 3, 1, 3, 0)) == -2 * H
    # n counts it: day 59 (from 0) is 29 February in a leap year
    tz = TZ("AAA3BBB,59/0,299/0")
    assert tz.offset(utc(2028, 2, 29, 3, 0)) == -2 * H
    assert tz.offset(utc(2027, 2, 28, 23, 0)) == -3 * H


def test_round_trip_outside_changes():
    for spec in (BERLIN, NEW_YORK, SYDNEY, "IST-5:30"):
        tz = TZ(spec)
        for t in (utc(2026, 1, 1), utc(2026, 6, 30, 13, 17), utc(2031, 11, 20, 22, 5)):
            assert tz.to_utc(tz.to_local(t)) == t


def test_skipped_hour_runs_after_the_jump():
    tz = TZ(BERLIN)
    local_0230 = utc(2026, 3, 29, 2, 30)  # as wall-clock seconds
    u = tz.to_utc(local_0230)
    assert u == utc(2026, 3, 29, 1, 30)
    assert tz.to_local(u) == utc(2026, 3, 29, 3, 30)


def test_repeated_hour_is_the_first_occurrence():
    tz = TZ(BERLIN)
    assert tz.to_utc(utc(2026, 10, 25, 2, 30)) == utc(2026, 10, 25, 0, 30)  # CEST, not CET
    tz = TZ(NEW_YORK)
    assert tz.to_utc(utc(2026, 11, 1, 1, 30)) == utc(2026, 11, 1, 5, 30)  # EDT, not EST


def test_malformed_strings_are_refused_with_the_reason():
    assert "DST rules missing" in _error("CET-1CEST")
    assert "month 13 out of range" in _error("CET-1CEST,M13.5.0,M10.5.0")
    assert "expected ','" in _error("CET-1CEST,M3.5.0")
    assert "at least 3 characters" in _error("X-1")
    assert "expected UTC offset" in _error("CET")
    assert "UTC offset hours 25 out of range" in _error("CET-25")
    assert "unexpected text" in _error("CET-1CEST,M3.5.0,M10.5.0/3 junk")
    assert "Julian day 0 out of range" in _error("CET-1CEST,J0,J300")
    assert "expected a rule" in _error("CET-1CEST,X3,M10.5.0")
    assert "unclosed '<'" in _error("<+03-3")
    assert "expected a POSIX TZ string" in _error("")
    assert "expected a POSIX TZ string" in _error(None)
