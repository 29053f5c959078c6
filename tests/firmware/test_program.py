# Dimming programs as a street lighting engineer writes them: validation that
# names the field, and what level the lamp has, and when it next changes,
# through sunsets, midnights, DST changes, calendars and polar summers.
from lampctl import solar
from lampctl.program import Evaluator, Program, ProgramError
from lampctl.program_codes import MAX_STEPS
from lampctl.tz import TZ, days_from_civil

BERLIN = (TZ("CET-1CEST,M3.5.0,M10.5.0/3"), 52.52, 13.405)
TROMSO = (TZ("CET-1CEST,M3.5.0,M10.5.0/3"), 69.65, 18.96)
H = 3600
NIGHT = [{"at": "sunset", "level": 100}, {"at": "23:30", "level": 50}, {"at": "sunrise+10m", "level": 0}]


def utc(y, m, d, hh=0, mm=0):
    return days_from_civil(y, m, d) * 86400 + hh * H + mm * 60


def ev(steps, place=BERLIN, **extra):
    doc = {"id": "test", "steps": steps}
    doc.update(extra)
    return Evaluator(Program(doc), *place)


def err(doc):
    try:
        Program(doc)
    except ProgramError as e:
        return str(e)
    raise AssertionError("no error for %r" % doc)


def one(steps):
    return err({"id": "t", "steps": steps})


def sunset(y, m, d, lat=52.52, lon=13.405):
    return solar.event(solar.SUNSET, days_from_civil(y, m, d), lat, lon)[0]


def test_errors_name_the_field():
    assert one([{"at": "sunsett", "level": 100}]).startswith("steps[0].at: unknown event 'sunsett'")
    assert one([{"at": "sunset", "level": 100}, {"at": "23:00", "level": 120}]) == \
        "steps[1].level: 120 is out of range [0, 100]"
    assert one([{"at": "sunset", "level": "high"}]) == "steps[0].level: expected a number, got 'high'"
    assert one([{"at": "sunset+15", "level": 1}]) == "steps[0].at: offset '+15' lacks a unit after 15 (h, m or s)"
    assert one([{"at": "sunset+9h", "level": 1}]) == "steps[0].at: offset '+9h' exceeds 6 h"
    assert one([{"at": "25:00", "level": 1}]) == "steps[0].at: '25:00' is not a time of day"
    assert one([{"at": "min(21:00, sunrise", "level": 1}]) == "steps[0].at: 'min(21:00,sunrise' lacks its closing ')'"
    assert one([{"at": "min(21:00)", "level": 1}]) == "steps[0].at: min takes 2 to 4 times, got 1"
    assert one([{"at": "sunset", "level": 1, "dim": 3}]) == "steps[0].dim: unknown field (known: at, level, fade)"
    assert one([{"level": 1}]) == "steps[0].at: missing"
    assert err({"id": "", "steps": NIGHT}) == "id: expected a name of 1 to 32 characters, got ''"
    assert err({"id": "t", "steps": NIGHT, "min_level": 60, "max_level": 40}) == "min_level: 60 is above max_level 40"


def test_steps_out_of_order_or_overlapping_are_refused():
    assert one([{"at": "23:00", "level": 50}, {"at": "22:00", "level": 10}]) == \
        "steps[1].at: comes before steps[0].at (steps are listed in time order from noon to noon)"
    assert one([{"at": "23:00", "level": 50}, {"at": "23:00", "level": 10}]).startswith("steps[1].at: overlaps steps[0].at")
    assert one([{"at": "sunrise", "level": 0}, {"at": "sunset", "level": 100}]).startswith("steps[1].at: comes before")
    assert one([{"at": "sunset+20m", "level": 0}, {"at": "sunset+10m", "level": 100}]).startswith("steps[1].at: comes before")
    assert one([{"at": "22:00", "level": 50, "fade": 3600}, {"at": "22:30", "level": 10}]) == \
        "steps[0].fade: 3600 s runs past the next step, 1800 s later (overlapping steps)"
    # crossing midnight is order, not disorder
    Program({"id": "t", "steps": [{"at": "22:00", "level": 50}, {"at": "01:00", "level": 20}]})


def test_too_many_steps_for_the_ram_budget():
    steps = [{"at": "%02d:00" % h, "level": 10} for h in list(range(12, 24)) + [0]]
    assert len(steps) == MAX_STEPS + 1
    assert one(steps) == "steps: 13 steps, at most 12 fit the board's RAM budget"


def test_calendar_errors():
    progs = {"a": {"steps": NIGHT}, "b": {"steps": NIGHT}}
    base = {"id": "t", "programs": progs, "default": "a"}
    assert err(dict(base, default="c")) == "default: 'c' is not one of the programs (a, b)"
    assert err(dict(base, calendar=[{"program": "x", "days": ["fri"]}])) == \
        "calendar[0].program: 'x' is not one of the programs (a, b)"
    assert err(dict(base, calendar=[{"program": "b", "days": ["fry"]}])).startswith(
        "calendar[0].days: unknown weekday 'fry'")
    assert err(dict(base, calendar=[{"program": "b", "from": "13-01", "to": "12-31"}])) == \
        "calendar[0].from: '13-01' is not a date"
    assert err(dict(base, calendar=[{"program": "b", "from": "12-01"}])) == \
        "calendar[0].to: missing (a date range needs both from and to)"
    assert err(dict(base, calendar=[{"program": "b", "from": "2026-12-05", "to": "2026-12-01"}])) == \
        "calendar[0].to: 2026-12-01 is before from"
    assert err(dict(base, calendar=[{"program": "b"}])) == "calendar[0]: needs a date range (from, to) or days"
    assert err({"id": "t", "programs": {"a": {"steps": [{"at": "x", "level": 1}]}}, "default": "a"}).startswith(
        "programs.a.steps[0].at: unknown event 'x'")


def test_lamp_turns_on_at_sunset_and_the_app_knows_when():
    e = ev(NIGHT)
    s = sunset(2026, 6, 21)
    assert e.level(s - 600) == (0, s)       # ten minutes before: off, next change at sunset
    level, nxt = e.level(s)
    assert level == 100 and nxt == utc(2026, 6, 21, 21, 30)  # 23:30 CEST
    assert e.level(utc(2026, 6, 21, 23, 0))[0] == 50          # 01:00 local: across midnight
    rise = solar.event(solar.SUNRISE, days_from_civil(2026, 6, 22), 52.52, 13.405)[0]
    assert e.level(rise + 599) == (50, rise + 600)
    assert e.level(rise + 600)[0] == 0


def test_boot_in_the_night_catches_up_missed_steps():
    # no memory of the evening is needed: the level comes from the program and the time alone
    e = ev(NIGHT)
    assert e.level(utc(2026, 1, 10, 2, 0))[0] == 50
    assert ev(NIGHT).level(utc(2026, 1, 10, 16, 0))[0] == 100  # 17:00 CET, after a January sunset


def test_fades_interpolate_and_wake_the_app_often_enough():
    e = ev([{"at": "sunset", "level": 100, "fade": 600}, {"at": "sunrise", "level": 0, "fade": 300}])
    s = sunset(2026, 9, 1)
    assert e.level(s)[0] == 0
    level, nxt = e.level(s + 300)
    assert level == 50 and s + 300 < nxt <= s + 307   # about 1 % per wake-up
    assert e.level(s + 600)[0] == 100
    last = -1
    t = s
    while t < s + 600:
        level, nxt = e.level(t)
        assert level >= last and nxt > t
        last, t = level, nxt
    assert t == s + 600


def test_a_clock_step_never_lights_the_lamp_before_a_listed_sunset():
    # Berlin's midsummer sunset is 21:33 CEST: the 21:00 step waits for it
    e = ev([{"at": "sunset", "level": 100}, {"at": "21:00", "level": 60}, {"at": "sunrise", "level": 0}])
    s = sunset(2026, 6, 21)
    assert e.level(s - 60)[0] == 0
    assert e.level(s)[0] == 60
    assert e.level(utc(2026, 12, 21, 20, 0))[0] == 60  # in winter 21:00 comes long after sunset
    assert e.level(utc(2026, 12, 21, 19, 59))[0] == 100


def test_earlier_or_later_of_two():
    e = ev([{"at": "max(sunset, 18:00)", "level": 100}, {"at": "min(06:00, sunrise)", "level": 0}])
    # winter: sunset ~15:54 CET, the lamp waits until 18:00 and goes off at 06:00, before sunrise
    assert e.level(utc(2026, 12, 21, 16, 59))[0] == 0 and e.level(utc(2026, 12, 21, 17, 0))[0] == 100
    assert e.level(utc(2026, 12, 22, 4, 59))[0] == 100 and e.level(utc(2026, 12, 22, 5, 0))[0] == 0
    # summer: at sunset (21:33 CEST), off at sunrise (04:43 CEST)
    s = sunset(2026, 6, 21)
    assert e.level(s - 1)[0] == 0 and e.level(s)[0] == 100
    assert e.level(utc(2026, 6, 22, 2, 30))[0] == 100 and e.level(utc(2026, 6, 22, 3, 0))[0] == 0


def test_skipped_hour_step_runs_after_the_jump_once():
    e = ev([{"at": "sunset", "level": 100}, {"at": "02:30", "level": 30}, {"at": "sunrise", "level": 0}])
    # 29 March 2026, 02:30 does not exist in Berlin: the step runs at 03:30 CEST = 01:30 UTC
    assert e.level(utc(2026, 3, 29, 1, 29))[0] == 100
    assert e.level(utc(2026, 3, 29, 1, 30))[0] == 30


def test_repeated_hour_step_runs_at_the_first_and_only_once():
    e = ev([{"at": "sunset", "level": 100}, {"at": "02:30", "level": 30}, {"at": "sunrise", "level": 0}])
    # 25 October 2026, 02:30 happens twice in Berlin: the step runs at the first (00:30 UTC)
    assert e.level(utc(2026, 10, 25, 0, 29))[0] == 100
    level, nxt = e.level(utc(2026, 10, 25, 0, 30))
    rise = solar.event(solar.SUNRISE, days_from_civil(2026, 10, 25), 52.52, 13.405)[0]
    assert level == 30 and nxt == rise  # nothing happens at the second 02:30


def test_weekday_masks_and_date_overrides():
    doc = {
        "id": "main-street",
        "programs": {
            "weeknight": {"steps": NIGHT},
            "weekend": {"steps": [{"at": "sunset", "level": 100}, {"at": "01:00", "level": 70},
                                  {"at": "sunrise", "level": 0}]},
            "festive": {"steps": [{"at": "sunset", "level": 100}, {"at": "sunrise", "level": 0}]},
            "marathon": {"steps": [{"at": "sunset", "level": 100}, {"at": "sunrise", "level": 0}]},
        },
        "default": "weeknight",
        "calendar": [
            {"program": "marathon", "from": "2026-10-10", "to": "2026-10-11"},
            {"program": "festive", "from": "12-20", "to": "01-06"},
            {"program": "weekend", "days": ["fri", "sat"]},
        ],
    }
    e = Evaluator(Program(doc), *BERLIN)
    assert e.program_name(utc(2026, 11, 26, 22, 0)) == "weeknight"  # a Thursday
    assert e.level(utc(2026, 11, 26, 23, 0))[0] == 50
    assert e.program_name(utc(2026, 11, 27, 22, 0)) == "weekend"    # Friday night...
    assert e.level(utc(2026, 11, 27, 23, 0))[0] == 100
    assert e.program_name(utc(2026, 11, 28, 2, 0)) == "weekend"     # ...still Friday's night at 03:00
    assert e.level(utc(2026, 11, 28, 2, 0))[0] == 70
    assert e.program_name(utc(2026, 12, 31, 23, 30)) == "festive"   # across the new year
    assert e.program_name(utc(2027, 1, 6, 20, 0)) == "festive"
    assert e.program_name(utc(2027, 1, 7, 20, 0)) == "weeknight"
    assert e.program_name(utc(2026, 10, 10, 20, 0)) == "marathon"   # a Saturday: first match wins
    assert e.program_name(utc(2027, 10, 10, 20, 0)) == "weeknight"  # dated: that year only


def test_level_limits_of_the_lamp():
    e = ev([{"at": "sunset", "level": 100, "fade": 1000}, {"at": "23:00", "level": 5},
            {"at": "sunrise", "level": 0}], min_level=20, max_level=90)
    s = sunset(2026, 4, 1)
    assert e.level(s)[0] == 0                      # off stays off
    assert e.level(s + 100)[0] == 20               # the start of a fade is held at the minimum
    assert e.level(s + 1000)[0] == 90
    assert e.level(utc(2026, 4, 1, 22, 0))[0] == 20


def test_midsummer_in_tromso_keeps_the_lamp_off():
    e = ev([{"at": "sunset-10m", "level": 100}, {"at": "23:30", "level": 50}, {"at": "sunrise+10m", "level": 0}],
           place=TROMSO)
    for minute in range(0, 24 * 60, 10):
        assert e.level(utc(2026, 6, 21, 12) + minute * 60)[0] == 0


def test_midwinter_in_tromso_keeps_the_lamp_on():
    e = ev([{"at": "sunset", "level": 100}, {"at": "sunrise", "level": 0}], place=TROMSO)
    for minute in range(0, 24 * 60, 10):
        assert e.level(utc(2026, 12, 21) + minute * 60)[0] == 100


def test_a_new_time_zone_applies_to_tonight_at_once():
    e = ev(NIGHT)
    t = utc(2026, 11, 27, 22, 45)                 # 23:45 in Berlin: after the 23:30 step
    assert e.level(t)[0] == 50
    e.set_tz(TZ("GMT0"))                          # the same instant is 22:45 on the new clock
    assert e.level(t)[0] == 100
    assert e.level(utc(2026, 11, 27, 23, 31))[0] == 50
