# Sun events for a lamp's place: checked against the astral library's answers
# (computed once on the host, tests/host/test_solar_reference.py sweeps years),
# and the polar cases every high-latitude town meets in summer or winter.
from lampctl import solar
from lampctl.tz import days_from_civil

# (place, lat, lon, day number, [nautical dawn, dawn, sunrise, sunset, dusk,
#  nautical dusk] in UTC seconds from astral 3.2 for that local date)
ASTRAL = (
    ("berlin", 52.52, 13.405, 20625, [1782001728, 1782006734, 1782009808, 1782070374, 1782073448, 1782078454]),
    ("berlin", 52.52, 13.405, 20808, [1797832117, 1797834767, 1797837316, 1797864815, 1797867364, 1797870014]),
    ("sydney", -33.87, 151.21, 20833, [1799949366, 1799951435, 1799953169, 1800004129, 1800005859, 1800007922]),
    ("quito", -0.18, -78.47, 21263, [1837161184, 1837162617, 1837163880, 1837207450, 1837208713, 1837210146]),
    ("reykjavik", 64.15, -21.94, 21904, [1892537622, 1892541745, 1892546599, 1892561319, 1892566174, 1892570297]),
    ("anchorage", 61.22, -149.9, 22158, [1914498161, 1914501873, 1914504753, 1914555883, 1914558739, 1914562402]),
    ("auckland", -36.85, 174.76, 22464, [1940869986, 1940871917, 1940873679, 1940908564, 1940910326, 1940912258]),
)
ORDER = (solar.NAUTICAL_DAWN, solar.DAWN, solar.SUNRISE, solar.SUNSET, solar.DUSK, solar.NAUTICAL_DUSK)
TROMSO = (69.65, 18.96)


def test_events_within_a_minute_of_astral():
    for place, lat, lon, day, ref in ASTRAL:
        for code, want in zip(ORDER, ref):
            got, state = solar.event(code, day, lat, lon)
            assert state == solar.NORMAL, (place, code)
            assert abs(got - want) <= 60, (place, solar.EVENTS[code], got - want)


def test_events_come_in_the_order_of_a_day():
    for _place, lat, lon, day, _ref in ASTRAL:
        times = [solar.event(code, day, lat, lon)[0] for code in ORDER]
        assert times == sorted(times)


def test_day_is_the_local_date_far_east_and_far_west():
    # Auckland (UTC+12): 4 July's sunrise is in the UTC evening of 3 July
    day = days_from_civil(2031, 7, 4)
    rise = solar.event(solar.SUNRISE, day, -36.85, 174.76)[0]
    assert (rise + 12 * 3600) // 86400 == day
    # Anchorage (UTC-9 in summer): 1 September's sunset is early on 2 September UTC
    day = days_from_civil(2030, 9, 1)
    sset = solar.event(solar.SUNSET, day, 61.22, -149.9)[0]
    assert sset // 86400 == day + 1 and (sset - 8 * 3600) // 86400 == day


def test_midsummer_in_tromso_has_no_night():
    day = days_from_civil(2026, 6, 21)
    sunset, state = solar.event(solar.SUNSET, day, *TROMSO)
    assert state == solar.POLAR_DAY
    sunrise, state = solar.event(solar.SUNRISE, day + 1, *TROMSO)
    assert state == solar.POLAR_DAY
    # both at solar midnight: a night of zero length, the lamp stays off
    assert abs(sunrise - sunset) <= 60
    solar_midnight = (day + 1) * 86400 - 18.96 * 240  # 4 min per degree east
    assert abs(sunset - solar_midnight) <= 15 * 60


def test_midwinter_in_tromso_has_no_day():
    day = days_from_civil(2026, 12, 21)
    sunrise, state = solar.event(solar.SUNRISE, day, *TROMSO)
    assert state == solar.POLAR_NIGHT
    sunset, _ = solar.event(solar.SUNSET, day, *TROMSO)
    assert sunrise == sunset  # a day of zero length at solar noon
    noon_utc = day * 86400 + 12 * 3600 - 18.96 * 240
    assert abs(sunrise - noon_utc) <= 15 * 60
    # yet the sun does pass 6 deg below the horizon: civil dawn and dusk exist
    dawn, state = solar.event(solar.DAWN, day, *TROMSO)
    assert state == solar.NORMAL and dawn < sunrise


def test_white_nights_have_no_nautical_dusk_in_edinburgh():
    day = days_from_civil(2027, 6, 21)
    _t, state = solar.event(solar.NAUTICAL_DUSK, day, 55.95, -3.19)
    assert state == solar.POLAR_DAY
    _t, state = solar.event(solar.SUNSET, day, 55.95, -3.19)
    assert state == solar.NORMAL


def test_poles_do_not_crash():
    for lat in (90.0, -90.0, 89.99):
        for day in (days_from_civil(2026, 3, 20), days_from_civil(2026, 6, 21), days_from_civil(2026, 12, 21)):
            for code in ORDER:
                t, state = solar.event(code, day, lat, 0.0)
                assert state in (solar.NORMAL, solar.POLAR_DAY, solar.POLAR_NIGHT)
                assert abs(t - day * 86400) < 2 * 86400
