# Faults raised once and cleared once, with debounce, from what the board
# measures: lamp failure, driver fault, day-burner, sensor fault,
# over-temperature and repeated watchdog resets.
from lampctl import ConfigError
from lampctl.diagnostics import Diagnostics, check_settings
from lampctl.metering import expected_power_w

LAMP = {"min_driver_level": 0.05, "gamma": 2.2, "rated_power_w": 60.0, "standby_power_w": 0.6}
FAST = {"raise_s": 10, "clear_s": 10, "day_burner_s": 60}


def run(diag, start_s, end_s, **reading):
    """Update once a second; return the events, each with the second it came."""
    out = []
    for t in range(start_s, end_s):
        for e in diag.update(t * 1000, **reading):
            e["at"] = t
            out.append(e)
    return out


def states(events):
    return [(e["fault"], e["state"]) for e in events]


def healthy(level):
    return {"level": level, "power_w": expected_power_w(level, LAMP), "lux": 2.0, "temp_c": 45.0}


def test_a_failed_lamp_is_raised_once_after_the_debounce_and_cleared_once_when_fixed():
    d = Diagnostics(LAMP, FAST)
    events = run(d, 0, 60, **healthy(80))
    events += run(d, 60, 300, level=80, power_w=0.6, lux=2.0, temp_c=45.0)
    events += run(d, 300, 600, **healthy(80))
    assert states(events) == [("lamp_failed", "raised"), ("lamp_failed", "cleared")]
    assert [e["at"] for e in events] == [70, 310]
    assert events[0]["detail"] == "on at 80%: drawing 0.6 W, expected 38.1 W"


def test_a_blip_shorter_than_the_debounce_raises_nothing():
    d = Diagnostics(LAMP, FAST)
    events = run(d, 0, 9, level=100, power_w=0.6)
    events += run(d, 9, 100, **healthy(100))
    events += run(d, 100, 105, level=100, power_w=0.6)
    assert events == []


def test_a_driver_off_its_curve_is_a_fault_both_ways_and_when_commanded_off():
    for level, watts in ((20, 40.0), (100, 30.0), (0, 25.0)):
        d = Diagnostics(LAMP, FAST)
        events = run(d, 0, 100, level=level, power_w=watts)
        events += run(d, 100, 200, **healthy(level))
        assert states(events) == [("driver_fault", "raised"), ("driver_fault", "cleared")], (level, watts)


def test_power_within_the_configured_tolerance_is_no_fault_and_the_tolerance_is_the_configs():
    d = Diagnostics(LAMP, FAST)  # default: +/- 20 % of 60 W
    assert run(d, 0, 100, level=100, power_w=50.0) == []
    strict = Diagnostics(LAMP, {"raise_s": 10, "power_tolerance": 0.1})
    assert states(run(strict, 0, 100, level=100, power_w=50.0)) == [("driver_fault", "raised")]


def test_a_failed_lamp_is_not_also_a_driver_fault():
    d = Diagnostics(LAMP, FAST)
    assert states(run(d, 0, 100, level=100, power_w=0.6)) == [("lamp_failed", "raised")]


def test_a_lost_power_reading_holds_the_fault_rather_than_clearing_it():
    d = Diagnostics(LAMP, FAST)
    events = run(d, 0, 100, level=80, power_w=0.6)
    events += run(d, 100, 1000, level=80, power_w=None)
    assert states(events) == [("lamp_failed", "raised")]
    assert [f["fault"] for f in d.active()] == ["lamp_failed"]


def test_a_lamp_on_in_daylight_is_a_day_burner():
    d = Diagnostics(LAMP, FAST)
    events = run(d, 0, 200, level=80, lux=5.0)        # dusk: rightly on
    events += run(d, 200, 400, level=80, lux=3000.0)  # noon and still on
    events += run(d, 400, 600, level=0, lux=3000.0)   # switched off
    assert states(events) == [("day_burner", "raised"), ("day_burner", "cleared")]
    assert events[0]["at"] == 260 and events[0]["detail"] == "on at 80% in 3000 lx of daylight"


def test_without_a_light_reading_there_is_no_day_burner_verdict():
    d = Diagnostics(LAMP, FAST)
    assert run(d, 0, 600, level=80, lux=None) == []


def test_each_failing_sensor_is_its_own_fault():
    d = Diagnostics(LAMP, FAST)
    gone = [("bh1750@0x23", "bh1750@0x23: no answer on the I2C bus (19)")]
    both = gone + [("ina219@0x40", "ina219@0x40: calibration reads 0x0000, not 0x1054 (chip reset?)")]
    events = run(d, 0, 50, level=0, sensor_errors=gone)
    events += run(d, 50, 100, level=0, sensor_errors=both)
    events += run(d, 100, 200, level=0, sensor_errors=both[1:])
    events += run(d, 200, 300, level=0, sensor_errors=())
    assert [(e["where"], e["state"]) for e in events] == [
        ("bh1750@0x23", "raised"), ("ina219@0x40", "raised"), ("bh1750@0x23", "cleared"), ("ina219@0x40", "cleared")]
    assert all(e["fault"] == "sensor_fault" for e in events)
    assert events[0]["detail"] == gone[0][1]


def test_over_temperature_has_hysteresis():
    d = Diagnostics(LAMP, FAST)
    events = run(d, 0, 50, level=50, temp_c=85.0)
    events += run(d, 50, 100, level=50, temp_c=75.0)  # cooler, but not cool enough
    events += run(d, 100, 150, level=50, temp_c=65.0)
    assert states(events) == [("over_temperature", "raised"), ("over_temperature", "cleared")]
    assert events[1]["at"] == 110


def test_repeated_watchdog_resets_are_raised_at_boot_and_cleared_after_an_hour_of_running():
    d = Diagnostics(LAMP, FAST, watchdog_resets=3, now_ms=5000)
    events = run(d, 5, 4000, level=80)
    assert states(events) == [("watchdog_resets", "raised"), ("watchdog_resets", "cleared")]
    assert [e["at"] for e in events] == [5, 3605]
    assert events[0]["detail"] == "3 watchdog resets in a row"
    assert run(Diagnostics(LAMP, FAST, watchdog_resets=2), 0, 10, level=80) == []


def test_active_faults_are_listed_for_state():
    d = Diagnostics(LAMP, FAST)
    run(d, 0, 100, level=80, power_w=0.6, lux=3000.0, sensor_errors=[("bh1750@0x23", "gone")])
    listed = sorted((f["fault"], f.get("where")) for f in d.active())
    assert listed == [("day_burner", None), ("lamp_failed", None), ("sensor_fault", "bh1750@0x23")]


def test_bad_settings_are_refused_naming_the_key():
    for bad, words in (({"power_tolerence": 0.1}, "diagnostics.power_tolerence: unknown"),
                       ({"day_lux": -1}, "diagnostics.day_lux: expected a non-negative number"),
                       ({"raise_s": "30"}, "diagnostics.raise_s"),
                       ({"temp_max_c": 60}, "diagnostics.temp_clear_c: 70 is above temp_max_c 60"),
                       ([1], "diagnostics: expected an object")):
        try:
            check_settings(bad)
        except ConfigError as e:
            assert words in str(e), (bad, str(e))
        else:
            raise AssertionError("accepted %r" % (bad,))
    assert check_settings(None)["power_tolerance"] == 0.2
