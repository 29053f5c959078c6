"""The firmware's sun calculator against the astral library for latitudes
-65..65 over five years, in double precision and again in emulated single
precision (an ESP32's MicroPython floats): numpy.float32 inputs, a math module
whose functions return float32, and float32 for the module's int->float
conversions. Prints the maximum error.

Near the edges of polar day/night the sun grazes the threshold and the event
time becomes ill-conditioned (0.001 deg of declination moves it by minutes);
there, and for some events just after 00:00 UTC, astral's two-step iteration
misses the threshold it aims at (by up to 0.26 deg, tried). So an event more
than a minute from astral's is judged by the sun's position: at the firmware's
time astral's own position model must put the sun's centre within 0.01 deg of
the threshold, and nearer to it than at astral's time. So must the firmware's
time where the two disagree on whether the sun crosses at all (the edge of
polar day/night)."""
import datetime as dt
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from astral import Observer, sun

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "firmware"))
from lampctl import solar  # noqa: E402

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
LATS = range(-65, 66, 5)
LONS = (-157.86, -73.94, -3.19, 13.4, 77.2, 151.21, 179.9)
YEARS = range(2026, 2031)
ASTRAL = {
    solar.NAUTICAL_DAWN: lambda o, d, z: sun.dawn(o, d, depression=12, tzinfo=z),
    solar.DAWN: lambda o, d, z: sun.dawn(o, d, tzinfo=z),
    solar.SUNRISE: lambda o, d, z: sun.sunrise(o, d, tzinfo=z),
    solar.SUNSET: lambda o, d, z: sun.sunset(o, d, tzinfo=z),
    solar.DUSK: lambda o, d, z: sun.dusk(o, d, tzinfo=z),
    solar.NAUTICAL_DUSK: lambda o, d, z: sun.dusk(o, d, depression=12, tzinfo=z),
}
THRESHOLD_DEG = 0.01


class Math32:
    """The math module as a single-precision board computes it."""
    pi = np.float32(math.pi)

    def __getattr__(self, name):
        fn = getattr(math, name)
        return lambda *args: np.float32(fn(*(float(a) for a in args)))


@pytest.fixture
def single_precision(monkeypatch):
    monkeypatch.setattr(solar, "math", Math32())
    monkeypatch.setattr(solar, "_float", np.float32)
    monkeypatch.setattr(solar, "_RAD", np.float32(math.pi / 180.0))
    decl, eot = solar._sun(9800, np.float32(0.25))
    assert type(decl) is np.float32 and type(eot) is np.float32  # the emulation reaches the arithmetic


def zenith_at(observer, t):
    return sun.zenith(observer, EPOCH + dt.timedelta(seconds=int(t)), with_refraction=False)


def compare(day_step, to_float):
    errors, n, graze, polar_edge = [], 0, 0, 0
    for lat in LATS:
        for lon in LONS:
            obs = Observer(lat, lon)
            local = dt.timezone(dt.timedelta(hours=round(lon / 15)))  # a zone near the longitude's own
            for year in YEARS:
                first = dt.date(year, 1, 1)
                for k in range(0, 365, day_step):
                    date = first + dt.timedelta(days=k + (lat + 65) % day_step)
                    day = (date - dt.date(1970, 1, 1)).days
                    for code, ref_fn in ASTRAL.items():
                        t, state = solar.event(code, day, to_float(lat), to_float(lon))
                        target = solar._ZENITH[code >> 1]
                        try:
                            ref = (ref_fn(obs, date, local) - EPOCH).total_seconds()
                        except ValueError:
                            ref = None
                        n += 1
                        if ref is None and state != solar.NORMAL:
                            continue  # both agree: the sun does not cross that day
                        if ref is not None and state == solar.NORMAL and abs(t - ref) <= 60:
                            errors.append(abs(t - ref))
                            continue
                        # a grazing sun, or the edge of polar day/night: judge by position
                        z = zenith_at(obs, t)
                        assert abs(z - target) <= THRESHOLD_DEG, (lat, lon, date, solar.EVENTS[code], state, t, ref, z)
                        if state == solar.NORMAL and ref is not None:
                            # the times part only where astral's answer is the one off the threshold
                            miss = abs(zenith_at(obs, ref) - target)
                            assert miss > abs(z - target), (lat, lon, date, solar.EVENTS[code], t - ref, miss, z)
                            graze += 1
                        else:
                            polar_edge += 1
    return sorted(errors), n, graze, polar_edge


def report(label, result):
    errors, n, graze, polar_edge = result
    worst = errors[-1]
    print(f"\n{label}: {n} events, max error vs astral {worst:.0f} s "
          f"(median {errors[len(errors) // 2]:.0f} s, p99.9 {errors[len(errors) * 999 // 1000]:.0f} s); "
          f"{graze} events more than 60 s apart where astral misses its threshold, {polar_edge} at the polar edge "
          f"(all within {THRESHOLD_DEG} deg of the threshold)")
    assert worst <= 60
    assert graze + polar_edge <= n // 200  # the exceptions stay exceptions


def test_double_precision_within_a_minute_of_astral():
    report("double precision", compare(5, float))


def test_single_precision_within_a_minute_of_astral(single_precision):
    report("float32 emulation", compare(17, np.float32))


def test_polar_states_agree_with_astral_away_from_the_edge():
    # Tromso and Longyearbyen: where astral says the sun never crosses, so do we
    for lat, lon in ((69.65, 18.96), (78.22, 15.65), (-77.85, 166.67)):
        obs = Observer(lat, lon)
        for month in (1, 6, 12):
            date = dt.date(2027, month, 21)
            day = (date - dt.date(1970, 1, 1)).days
            for code, ref_fn in ASTRAL.items():
                t, state = solar.event(code, day, lat, lon)
                try:
                    ref_fn(obs, date, dt.timezone.utc)
                    crosses = True
                except ValueError:
                    crosses = False
                assert crosses == (state == solar.NORMAL), (lat, date, solar.EVENTS[code])
