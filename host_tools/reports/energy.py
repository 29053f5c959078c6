"""kWh from the boards' own meters against the full-power baseline, per lamp,
street and district, night by night.

Each source's counter samples become one cumulative curve of energy used
(a counter that went down was reset: it counts again from zero), linear
between samples; the energy in any window is the curve's rise across it.
A pole sums its sources, so a board replaced mid-period is counted once.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np

from ..inventory.db import Inventory
from . import baseline
from .scope import Lamp, lamps as lamps_in


@dataclass
class Money:
    tariff: float | None = None        # per kWh
    currency: str = "EUR"
    grid_kg_per_kwh: float | None = None


@dataclass
class LampEnergy:
    pole: str
    district: str
    street: str
    position: int
    lamp_type: str
    rated_w: float
    estimated: bool
    seen: bool                           # any meter reading in the period
    kwh: float
    baseline_kwh: float
    nightly_kwh: list[float] = field(repr=False)
    nightly_baseline_kwh: list[float] = field(repr=False)

    @property
    def savings_kwh(self) -> float:
        return self.baseline_kwh - self.kwh


@dataclass
class Totals:
    name: str
    lamps: int
    kwh: float
    baseline_kwh: float
    savings_kwh: float
    savings_pct: float | None
    savings_money: float | None
    savings_co2_kg: float | None
    estimated_lamps: int
    unseen_lamps: int


@dataclass
class EnergyReport:
    site: str
    first_day: int
    last_day: int                        # exclusive: nights first_day .. last_day - 1
    money: Money
    lamps: list[LampEnergy]
    streets: list[Totals]
    districts: list[Totals]
    total: Totals

    def to_dict(self) -> dict:
        d = asdict(self)
        for lamp, src in zip(d["lamps"], self.lamps):
            lamp["savings_kwh"] = src.savings_kwh
        return d


def energy_report(inv: Inventory, site: str, first_day: int, last_day: int, money: Money | None = None,
                  district: str | None = None, street: str | None = None) -> EnergyReport:
    money = money or Money()
    scope = lamps_in(inv, site, district, street)
    curves = _curves(inv, [s for lamp in scope for s in lamp.sources])
    rows = [_lamp_energy(lamp, curves, first_day, last_day) for lamp in scope]
    by_street, by_district = defaultdict(list), defaultdict(list)
    for r in rows:
        by_street[f"{r.district} / {r.street}"].append(r)
        by_district[r.district].append(r)
    return EnergyReport(site, first_day, last_day, money, rows,
                        [_totals(k, v, money) for k, v in by_street.items()],
                        [_totals(k, v, money) for k, v in by_district.items()],
                        _totals(site, rows, money))


def _curves(inv: Inventory, sources: list[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per source: sample times and cumulative Wh used up to each."""
    wanted = set(sources)
    count = inv.one("SELECT COUNT(*) FROM hist_energy")[0]
    if not count:
        return {}
    rows = inv.conn.cursor()
    rows.row_factory = None                            # plain tuples, straight into the array
    data = np.fromiter(rows.execute("SELECT src, t, mwh FROM hist_energy ORDER BY src, t"),
                       dtype=[("src", "i8"), ("t", "f8"), ("mwh", "f8")], count=count)
    out = {}
    bounds = np.flatnonzero(np.diff(data["src"])) + 1
    for lo, hi in zip(np.concatenate(([0], bounds)), np.concatenate((bounds, [count]))):
        src = int(data["src"][lo])
        if src not in wanted:
            continue
        wh = data["mwh"][lo:hi] / 1000
        step = np.diff(wh)
        step = np.where(step >= 0, step, wh[1:])       # a reset: the new counter's reading is all new use
        out[src] = (data["t"][lo:hi], np.concatenate(([0.0], np.cumsum(step))))
    return out


def _used(curve, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Wh used between a[i] and b[i] (no extrapolation beyond the samples)."""
    t, used = curve
    return np.interp(b, t, used) - np.interp(a, t, used)


def _lamp_energy(lamp: Lamp, curves, first_day: int, last_day: int) -> LampEnergy:
    days = np.arange(first_day, last_day + 1)
    edges = days * baseline.DAY + 43200 - round(lamp.lon * 240)   # baseline.noon, vectorised
    nightly = np.zeros(len(days) - 1)
    seen = False
    for src in lamp.sources:
        if src in curves:
            t = curves[src][0]
            seen |= bool(t[0] <= edges[-1] and t[-1] >= edges[0])   # read within, or on both sides of, the period
            nightly += _used(curves[src], edges[:-1], edges[1:])
    nightly_kwh = (nightly / 1000).tolist()
    base = [lamp.rated_w * baseline.night_hours(int(d), lamp.lat, lamp.lon) / 1000 for d in days[:-1]]
    return LampEnergy(lamp.pole, lamp.district, lamp.street, lamp.position, lamp.lamp_type, lamp.rated_w,
                      lamp.estimated, seen, sum(nightly_kwh), sum(base), nightly_kwh, base)


def _totals(name: str, rows: list[LampEnergy], money: Money) -> Totals:
    kwh = sum(r.kwh for r in rows if r.seen)
    base = sum(r.baseline_kwh for r in rows if r.seen)     # compare like with like: lamps that reported
    saved = base - kwh
    return Totals(name, len(rows), kwh, base, saved, 100 * saved / base if base else None,
                  saved * money.tariff if money.tariff is not None else None,
                  saved * money.grid_kg_per_kwh if money.grid_kg_per_kwh is not None else None,
                  sum(r.estimated for r in rows), sum(not r.seen for r in rows))
