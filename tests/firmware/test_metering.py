# Energy, burn hours and cycles integrated on the board; estimates without a
# monitor; counters that survive a reboot; and the flash-write policy.
import json
import os

from lampctl.metering import (SAVE_INTERVAL_MS, WRITES_PER_DAY_MAX, Meter, expected_power_w, load,
                              max_loss_wh)

DEVKIT_LAMP = {"min_driver_level": 0.05, "gamma": 2.2, "rated_power_w": 60.0, "standby_power_w": 0.6}
HOUR = 3600 * 1000
WRAP = 1 << 30  # time.ticks_ms() on an ESP32


def _tmp(name):
    return "/tmp/pilotlight-test-%s-%d.json" % (name, os.getpid() if hasattr(os, "getpid") else 0)


def test_constant_power_for_an_hour_is_exactly_that_many_wh():
    m = Meter(DEVKIT_LAMP)
    for t in range(0, 3601):
        m.sample(t * 1000, 80, 48.0)
    assert abs(m.energy_wh() - 48.0) < 1e-6
    assert m.estimated_wh() == 0 and not m.estimated


def test_a_ramp_sampled_irregularly_with_a_long_gap_integrates_exactly():
    # Power rises linearly 10 -> 50 W over 2 h; samples every 0.7 s, then none for 20 min.
    m = Meter(DEVKIT_LAMP)
    times = [int(i * 700) for i in range(0, 4000)] + [int(i * 700) for i in range(5715, 10286)]
    for t in times:
        m.sample(t, 50, 10.0 + 40.0 * t / (2 * HOUR))
    end = times[-1] / HOUR
    exact = 10.0 * end + 20.0 * end * end / 2  # integral of 10 + 20 t (W, t in h)
    assert abs(m.energy_wh() - exact) < 1e-3


def test_a_lifetime_total_still_counts_every_one_second_sample():
    # In a float32 (an ESP32's float) 100000 Wh + 0.0167 Wh rounds away; the counters are integers.
    m = Meter(DEVKIT_LAMP, {"v": 1, "wh": 100000, "mj": 0, "est_wh": 0, "est_mj": 0, "burn_s": 0, "cycles": 0})
    for t in range(0, 3601):
        m.sample(t * 1000, 100, 60.0)
    assert m.counters()["wh"] == 100060 and m.counters()["mj"] == 0


def test_samples_across_the_tick_counter_wrap_and_repeated_timestamps():
    m = Meter(DEVKIT_LAMP)
    t = WRAP - 30 * 60 * 1000
    for _ in range(3600):
        m.sample(t, 100, 40.0)
        m.sample(t, 100, 40.0)  # the same instant twice adds nothing
        t = (t + 1000) % WRAP
    assert abs(m.energy_wh() - 40.0 * 3599 / 3600) < 1e-6


def test_without_a_monitor_energy_is_estimated_from_level_and_rated_power_and_flagged():
    m = Meter(DEVKIT_LAMP)
    for t in range(0, 3601):
        m.sample(t * 1000, 100 if t < 1800 else 0)
    assert m.estimated
    assert abs(m.energy_wh() - (60.0 * 0.5 + 0.6 * 0.5)) < 0.02  # ends at standby
    assert m.estimated_wh() == m.energy_wh()


def test_only_the_estimated_stretch_counts_as_estimated():
    m = Meter(DEVKIT_LAMP)
    for t in range(0, 3601):
        m.sample(t * 1000, 100, None if 1200 <= t < 2400 else 60.0)  # the monitor failed for 20 min
    assert abs(m.energy_wh() - 60.0) < 1e-3
    assert abs(m.estimated_wh() - 20.0) < 0.05


def test_expected_power_follows_the_driver_curve():
    assert expected_power_w(0, DEVKIT_LAMP) == 0.6
    assert expected_power_w(100, DEVKIT_LAMP) == 60.0
    drive = 0.05 + 0.95 * 0.5 ** 2.2
    assert abs(expected_power_w(50, DEVKIT_LAMP) - (0.6 + 59.4 * drive)) < 1e-9
    assert expected_power_w(1, DEVKIT_LAMP) > 0.6 + 59.4 * 0.05 - 1e-9  # never below the driver's minimum


def test_burn_hours_count_lit_time_and_cycles_count_each_switch_on():
    m = Meter(DEVKIT_LAMP)
    levels = [80] * 1800 + [0] * 600 + [30] * 1200 + [0] * 10 + [100] * 600
    for i, level in enumerate(levels):
        m.sample(i * 1000, level, expected_power_w(level, DEVKIT_LAMP))
    assert m.cycles == 3
    assert m.burn_s == 1800 + 1200 + 599
    assert abs(m.burn_hours() - 3599 / 3600) < 1e-9


def test_counters_survive_a_save_and_a_reboot():
    path = _tmp("counters")
    m = Meter(DEVKIT_LAMP)
    for t in range(0, 7201):
        m.sample(t * 1000, 100 if t < 3600 else 50, None if t > 7000 else 55.5)
    m.save(7200 * 1000, path)
    counters, problem = load(path)
    assert problem is None
    again = Meter(DEVKIT_LAMP, counters)
    assert again.counters() == m.counters()
    assert abs(again.energy_wh() - m.energy_wh()) < 0.001 and again.cycles == 1 and again.burn_s == 7200
    assert abs(again.estimated_wh() - m.estimated_wh()) < 0.001
    os.remove(path)


def test_a_missing_file_is_a_new_board_and_a_corrupt_one_is_reported_with_zeros():
    path = _tmp("bad")
    assert load(path) == (Meter(DEVKIT_LAMP).counters(), None)
    for text, words in (("{not json", path), ('{"v": 1, "wh": -5}', "counters.wh"),
                        ('{"v": 7, "wh": 5}', "counters.v"), ("[1, 2]", "expected an object")):
        with open(path, "w") as f:
            f.write(text)
        counters, problem = load(path)
        assert counters["wh"] == 0 and words in problem and "counting from zero" in problem, problem
    os.remove(path)


def _night(meter, day_ms, sample_ms, save, start_ms=0):
    """One day of samples: lit at 80 % from 18:00 to 06:00, standby by day."""
    worst = 0.0
    for t in range(0, day_ms, sample_ms):
        hour = t // HOUR
        level = 80 if hour >= 18 or hour < 6 else 0
        now = (start_ms + t) % WRAP
        meter.sample(now, level, expected_power_w(level, DEVKIT_LAMP))
        if meter.save_due(now):
            save(meter, now)
        worst = max(worst, meter.unsaved_wh())
    return worst


def test_a_day_of_samples_writes_flash_at_most_96_times_and_never_risks_more_than_the_bound():
    writes = []
    meter = Meter(DEVKIT_LAMP)
    worst = _night(meter, 24 * HOUR, 1000, lambda m, now: (writes.append(now), m.saved(now)))
    assert 40 <= len(writes) <= WRITES_PER_DAY_MAX == 96
    gaps = [b - a for a, b in zip(writes, writes[1:])]
    assert min(gaps) >= SAVE_INTERVAL_MS
    assert worst <= max_loss_wh(DEVKIT_LAMP, 1000) == 60.0 * (SAVE_INTERVAL_MS + 1000) / HOUR


def test_after_a_power_cut_the_counters_resume_within_the_bound():
    path = _tmp("cut")
    meter = Meter(DEVKIT_LAMP)
    _night(meter, 20 * HOUR + 7 * 60 * 1000, 1000, lambda m, now: m.save(now, path))
    counters, _ = load(path)  # the cut: whatever was last written is all that remains
    resumed = Meter(DEVKIT_LAMP, counters)
    lost = meter.energy_wh() - resumed.energy_wh()
    assert 0 <= lost <= max_loss_wh(DEVKIT_LAMP, 1000)
    assert meter.burn_s - resumed.burn_s <= SAVE_INTERVAL_MS // 1000 + 1
    with open(path) as f:
        assert json.loads(f.read())["v"] == 1
    os.remove(path)


def test_a_replaced_lamp_starts_its_burn_hours_and_cycles_again_and_keeps_them():
    path = _tmp("replaced")
    meter = Meter(DEVKIT_LAMP)
    for t in range(0, 7200 * 1000 + 1, 1000):
        meter.sample(t, 80 if t < 3600 * 1000 else (0 if t < 5400 * 1000 else 50))
    assert meter.cycles == 2 and abs(meter.burn_hours() - 1.5) < 0.01
    wh = meter.energy_wh()
    meter.replace_lamp(7200 * 1000, burn_s=1800, path=path)
    assert meter.burn_hours() == 0.5 and meter.cycles == 0 and meter.energy_wh() == wh
    counters, problem = load(path)
    assert problem is None and counters["burn_s"] == 1800 and counters["cycles"] == 0
    meter.sample(7201 * 1000, 50)
    assert meter.burn_s == 1801                       # the new lamp burns on from there


def test_a_lamp_replacement_that_cannot_be_saved_changes_nothing():
    meter = Meter(DEVKIT_LAMP, {"v": 1, "burn_s": 3600, "cycles": 4})
    try:
        meter.replace_lamp(0, path="no-such-dir/meter.json")
        raise AssertionError("saved into a missing directory")
    except OSError:
        pass
    assert meter.burn_s == 3600 and meter.cycles == 4
