"""What the same lamps would have used without dimming: full rated power from
sunset to sunrise at each pole's own sun times (the firmware's solar module,
so the fleet and the lamp agree on when night is)."""
from __future__ import annotations

import functools

from ..paths import firmware_module

solar = firmware_module("solar")
DAY = 86400


def night(day: int, lat: float, lon: float) -> tuple[int, int]:
    """UTC (sunset of `day`, sunrise of `day + 1`) at a pole. Coordinates are
    taken to 1e-4 degree (11 m), where sun times differ by under 0.05 s, so the
    poles of a street share their sums."""
    return _night(day, round(lat, 4), round(lon, 4))


@functools.lru_cache(maxsize=1 << 18)
def _night(day: int, lat: float, lon: float) -> tuple[int, int]:
    dusk, _ = solar.event(solar.SUNSET, day, lat, lon)
    dawn, _ = solar.event(solar.SUNRISE, day + 1, lat, lon)
    return dusk, max(dusk, dawn)


def noon(day: int, lon: float) -> int:
    """Mean solar noon (UTC) of `day` at a longitude: where one lighting day
    ends and the next begins, so a night is never split between two."""
    return day * DAY + 43200 - round(lon * 240)


def night_hours(day: int, lat: float, lon: float) -> float:
    dusk, dawn = night(day, lat, lon)
    return (dawn - dusk) / 3600


def baseline_kwh(rated_w: float, first_day: int, last_day: int, lat: float, lon: float) -> float:
    """Rated power x dusk-to-dawn hours, nights first_day .. last_day - 1."""
    return rated_w * sum(night_hours(d, lat, lon) for d in range(first_day, last_day)) / 1000
