# Sunrise, sunset and twilight for the pole's latitude/longitude, offline.
#
# Low-precision solar coordinates (Meeus, "Astronomical Algorithms", ch. 25)
# with the equation of time, good to a few seconds for 1950-2050.
# An ESP32 computes in single precision (24-bit mantissa): a Julian date of
# 2.46e6 in a float resolves only a quarter of a day. So every quantity is kept
# small: days since J2000 are an int, reduced modulo 360 in integer arithmetic
# before any float is formed; times are minutes from the day's UTC midnight.
#
# Results are UTC seconds since 1970-01-01. `day` is a day number since
# 1970-01-01 (tz.days_from_civil gives it); the events of day D are those around
# the sun's transit (solar noon) that falls on D at that longitude, i.e. the
# events of local date D for any time zone close to the longitude's own.
import math

# Event codes: even = morning (sun rising through the threshold), odd = evening.
EVENTS = ("sunrise", "sunset", "dawn", "dusk", "nautical_dawn", "nautical_dusk")
SUNRISE, SUNSET, DAWN, DUSK, NAUTICAL_DAWN, NAUTICAL_DUSK = 0, 1, 2, 3, 4, 5

# Zenith distance of the sun's centre at each threshold, in degrees: upper limb
# on the horizon (radius 16') and civil (6 deg) / nautical (12 deg) depression,
# each with the atmospheric refraction of the astral library's model, so both
# agree on what "sunrise" means.
_ZENITH = (90.78910713534157, 96.0549031686589, 102.02714832941508)

NORMAL = 0
POLAR_DAY = 1     # the sun stays above the threshold all day (white night)
POLAR_NIGHT = -1  # the sun never climbs above the threshold

_J2000_DAY = 10957  # day number of 2000-01-01
_RAD = math.pi / 180.0

# Converts an int to a float; the float32 tests swap it for numpy.float32.
_float = float


def _sun(d, f):
    """Declination (radians) and equation of time (minutes) at J2000 day d (int)
    plus fraction f (small float, days)."""
    t = (_float(d) + f) / 36525.0  # Julian centuries: only slow terms use it
    # Mean longitude and anomaly: the whole turns of d are removed exactly first.
    lon = (280.46646 + _float(d % 360) - 0.014352643 * _float(d) + 0.985647357 * f) % 360.0
    anom = (357.52911 + _float(d % 360) - 0.01439972 * _float(d) + 0.98560028 * f) % 360.0
    node = (125.04 - 0.052953805 * _float(d) - 0.052953805 * f) * _RAD
    m = anom * _RAD
    centre = ((1.914602 - 0.004817 * t) * math.sin(m) + (0.019993 - 0.000101 * t) * math.sin(2.0 * m)
              + 0.000289 * math.sin(3.0 * m))
    apparent = (lon + centre - 0.00569 - 0.00478 * math.sin(node)) * _RAD
    obliquity = (23.439291 - 0.0130042 * t + 0.00256 * math.cos(node)) * _RAD
    sin_decl = math.sin(obliquity) * math.sin(apparent)
    e = 0.016708634 - 0.000042037 * t
    y = math.tan(obliquity / 2.0)
    y = y * y
    l2 = 2.0 * lon * _RAD
    eot = (y * math.sin(l2) - 2.0 * e * math.sin(m) + 4.0 * e * y * math.sin(m) * math.cos(l2)
           - 0.5 * y * y * math.sin(2.0 * l2) - 1.25 * e * e * math.sin(2.0 * m))
    return math.asin(sin_decl), eot * 4.0 / _RAD


def _round(x):
    return int(x + 0.5) if x >= 0 else -int(0.5 - x)


def event(code, day, lat, lon):
    """(UTC seconds, polar state) of event `code` on day number `day`.

    When the sun does not cross the threshold that day the time is still
    defined, so schedules keep their order: POLAR_DAY (sun always above) puts
    both the morning and the evening event at solar midnight (a night of zero
    length); POLAR_NIGHT (sun always below) puts both at solar noon (a day of
    zero length)."""
    lat = max(-89.8, min(89.8, lat))
    phi = lat * _RAD
    cos_z = math.cos(_ZENITH[code >> 1] * _RAD)
    sign = 1.0 if code & 1 else -1.0
    d = day - _J2000_DAY
    minutes = 720.0 - 4.0 * lon  # first guess: the transit, mean sun
    state = NORMAL
    for _ in range(3):  # the sun's position at the event's own time
        decl, eot = _sun(d, minutes / 1440.0 - 0.5)
        cos_h = (cos_z - math.sin(phi) * math.sin(decl)) / (math.cos(phi) * math.cos(decl))
        if cos_h > 1.0:
            state, hour_angle = POLAR_NIGHT, 0.0
        elif cos_h < -1.0:
            state, hour_angle = POLAR_DAY, 180.0
        else:
            state, hour_angle = NORMAL, math.acos(cos_h) / _RAD
        minutes = 720.0 - 4.0 * lon - eot + sign * 4.0 * hour_angle
    return day * 86400 + _round(minutes * 60.0), state
