# Who decides the output: failsafe > override > presence > program, then the
# lamp's limits, a fade that never jumps, and constant light output.
from lampctl.arbiter import (FAILSAFE, OVERRIDE, PRESENCE, SCHEDULE, AmbientSwitch, Arbiter, Fade,
                             clo_factor)

T = 1800000000  # a valid UTC second
CURVE = [[0, 1.0], [50000, 0.9], [100000, 0.8]]


def settled(arb, now, utc, program, presence=None, lux=None):
    """The decision once its fade is over."""
    arb.update(now, utc, program, presence, lux)
    return arb.update(now + 60000, utc, program, presence, lux)


def test_priority_order():
    arb = Arbiter(50)
    assert settled(arb, 0, T, 40) == (40, SCHEDULE)
    assert settled(arb, 100000, T, 40, presence=100) == (100, PRESENCE)
    arb.set_override(10, T + 3600)
    assert settled(arb, 200000, T, 40, presence=100) == (10, OVERRIDE)
    assert settled(arb, 300000, None, 40, presence=100) == (80, FAILSAFE)  # clock lost: nothing else counts


def test_override_expires_back_to_the_program():
    arb = Arbiter(40)
    arb.set_override(100, T + 600)
    assert settled(arb, 0, T + 599, 40) == (100, OVERRIDE)
    assert settled(arb, 100000, T + 600, 40) == (40, SCHEDULE)
    assert arb.override is None


def test_override_without_expiry_holds_until_cleared():
    arb = Arbiter(40)
    arb.set_override(70)
    assert settled(arb, 0, T + 10 ** 7, 40)[0] == 70
    arb.clear_override()
    assert settled(arb, 100000, T + 10 ** 7, 40)[0] == 40


def test_bad_override_is_refused_and_changes_nothing():
    arb = Arbiter(40)
    arb.set_override(60, T + 60)
    for level, until in ((120, None), ("50", None), (50, "soon")):
        try:
            arb.set_override(level, until)
            raise AssertionError("accepted")
        except ValueError as e:
            assert "override" in str(e)
    assert arb.override == (60, T + 60, 1000)


def test_failsafe_follows_ambient_light_with_hysteresis():
    arb = Arbiter(80, safe_level=70, ambient=AmbientSwitch(on_lux=20, off_lux=50))
    assert settled(arb, 0, None, 0, lux=5) == (70, FAILSAFE)
    assert settled(arb, 100000, None, 0, lux=35)[0] == 70   # between thresholds: stays on
    assert settled(arb, 200000, None, 0, lux=60)[0] == 0    # daylight
    assert settled(arb, 300000, None, 0, lux=35)[0] == 0    # between thresholds: stays off
    assert settled(arb, 400000, None, 0, lux=10)[0] == 70


def test_failsafe_without_sensor_or_clock_fails_on():
    arb = Arbiter(80, safe_level=60, ambient=AmbientSwitch())
    assert settled(arb, 0, None, 0, lux=None) == (60, FAILSAFE)
    assert settled(Arbiter(80, safe_level=60), 0, None, 0, lux=3) == (60, FAILSAFE)  # no switch configured


def test_ambient_thresholds_must_leave_a_gap():
    try:
        AmbientSwitch(on_lux=50, off_lux=20)
        raise AssertionError("accepted")
    except ValueError as e:
        assert "on_lux" in str(e)


def test_clock_regained_fades_from_failsafe_to_the_program():
    arb = Arbiter(80, safe_level=80, switch_ms=2000)
    settled(arb, 0, None, 20)
    assert arb.update(100000, T, 20) == (80, SCHEDULE)
    assert arb.update(101000, T, 20)[0] == 50
    assert arb.update(102000, T, 20)[0] == 20


def test_boot_fades_from_the_boot_level_to_the_program():
    arb = Arbiter(80, follow_ms=1000)
    assert arb.update(0, T, 30)[0] == 80        # no jump at the handover from boot.py
    assert arb.update(500, T, 30)[0] == 55
    assert arb.update(1000, T, 30)[0] == 30


def test_presence_fades_in_and_back_without_a_jump_when_the_source_changes():
    arb = Arbiter(20, presence_in_ms=1000, presence_out_ms=10000)
    arb.update(0, T, 20)
    assert arb.update(1000, T, 20, 100) == (20, PRESENCE)
    assert arb.update(1500, T, 20, 100)[0] == 60
    # the hold ends mid fade-in: the fade back starts from 60, not from 100
    assert arb.update(1500, T, 20, None) == (60, SCHEDULE)
    assert arb.update(6500, T, 20, None)[0] == 40
    assert arb.update(11500, T, 20, None)[0] == 20


def test_output_never_jumps_across_source_changes():
    arb = Arbiter(0, follow_ms=1000, switch_ms=2000, presence_in_ms=800, presence_out_ms=4000)
    script = [(0, T, 30, None), (300, T, 30, 100), (700, T, 30, None), (900, None, 30, None),
              (1500, T, 60, None), (1700, T, 60, 90), (2100, T, 0, None)]
    last = arb.update(0, T, 30)[0]
    k = 0
    for now in range(0, 6000, 10):
        while k + 1 < len(script) and script[k + 1][0] <= now:
            k += 1
        _, utc, program, presence = script[k]
        level = arb.update(now, utc, program, presence)[0]
        assert abs(level - last) <= 100 * 10 / 800 + 1e-9  # no step bigger than the fastest fade allows
        last = level


def test_fade_is_monotonic_and_never_overshoots():
    f = Fade(10)
    f.to(90, 1000, 0)
    values = [f.at(t) for t in range(0, 1200, 7)]
    assert values == sorted(values) and max(values) == 90 and min(values) == 10
    f.to(90, 5000, 600)  # the same target again: the running fade continues
    assert f.at(1000) == 90


def test_limits_of_the_lamp():
    arb = Arbiter(50, min_level=20, max_level=90)
    assert settled(arb, 0, T, 100)[0] == 90
    assert settled(arb, 100000, T, 5)[0] == 20
    assert settled(arb, 200000, T, 0)[0] == 0   # off stays off
    arb.set_limits(0, 100)                      # a new program without limits
    assert settled(arb, 300000, T, 5)[0] == 5
    try:
        Arbiter(50, min_level=60, max_level=40)
        raise AssertionError("accepted")
    except ValueError as e:
        assert "min_level" in str(e)


def test_constant_light_output_raises_the_level_with_burn_hours():
    assert clo_factor(CURVE, 0) == 0.8
    assert abs(clo_factor(CURVE, 50000) - 0.8 / 0.9) < 1e-9
    assert abs(clo_factor(CURVE, 75000) - 0.8 / 0.85) < 1e-9
    assert clo_factor(CURVE, 150000) == 1.0
    assert clo_factor(None, 1000) == 1.0
    arb = Arbiter(100, clo_curve=CURVE)
    arb.set_burn_hours(0)
    assert abs(settled(arb, 0, T, 100)[0] - 80) < 1e-9       # a new lamp gives the end-of-life flux
    arb.set_burn_hours(100000)
    assert settled(arb, 100000, T, 100)[0] == 100


def test_constant_light_output_never_takes_a_lit_lamp_below_its_min_level():
    arb = Arbiter(50, min_level=20, max_level=90, clo_curve=CURVE)
    arb.set_burn_hours(0)                                     # a new lamp: dimmed to 80 % of its drive
    assert settled(arb, 0, T, 20)[0] == 20                     # not 16: below the program's minimum
    assert abs(settled(arb, 100000, T, 50)[0] - 40) < 1e-9      # above the minimum CLO still applies
    assert settled(arb, 200000, T, 0)[0] == 0                  # off stays off


def test_an_evening_on_the_street_end_to_end():
    # the modules wired as the app wires them: program -> presence -> arbiter
    from lampctl import solar
    from lampctl.presence import Presence
    from lampctl.program import Evaluator, Program
    from lampctl.tz import TZ, days_from_civil
    prog = Program({"id": "street", "min_level": 10, "steps": [
        {"at": "sunset", "level": 30}, {"at": "sunrise", "level": 0}]})
    ev = Evaluator(prog, TZ("CET-1CEST,M3.5.0,M10.5.0/3"), 52.52, 13.405)
    sunset = solar.event(solar.SUNSET, days_from_civil(2026, 11, 26), 52.52, 13.405)[0]
    pir = Presence(level=100, hold_ms=30000)
    arb = Arbiter(80, min_level=prog.min_level, max_level=prog.max_level, presence_in_ms=1000,
                  presence_out_ms=4000)

    def tick(ms, utc):
        program_level, _next = ev.level(utc)
        return arb.update(ms, utc, program_level, pir.level(ms, program_level))

    assert tick(0, sunset - 600)[0] == 80              # boot: no jump from boot.py's level
    pir.motion(5000)                                   # someone walks by in daylight
    assert tick(5000, sunset - 595) == (0, SCHEDULE)   # no boost: the program has the lamp off
    assert tick(610000, sunset + 5) == (0, SCHEDULE)   # sunset: the fade towards 30 starts
    assert tick(611000, sunset + 6) == (30, SCHEDULE)
    pir.motion(700000)
    assert tick(700000, sunset + 95) == (30, PRESENCE)
    assert tick(700500, sunset + 96)[0] == 65          # halfway up within the fade-in
    assert tick(701000, sunset + 96)[0] == 100
    assert tick(730000, sunset + 125) == (100, SCHEDULE)  # hold over: fade back over 4 s
    assert tick(732000, sunset + 127)[0] == 65
    assert tick(734000, sunset + 129)[0] == 30
