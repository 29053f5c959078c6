"""The scale-up case: the pilot's measured results carried onto a target's
inventory, every projected figure beside the measured figure it came from.

Savings are carried as the share of the baseline each pilot lamp saved (by
lamp type and rating), applied to the target's own baseline (its lamps'
rated power x a year of its own nights), because a month's savings per night
would carry that month's night length into the year."""
from __future__ import annotations

import re
import statistics
import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..inventory import open_inventory
from ..inventory.db import Inventory
from ..inventory.errors import InventoryError
from ..inventory.gis_csv import import_csv
from ..paths import REPO
from . import baseline
from .energy import EnergyReport, Money, energy_report
from .operations import OperationsReport, operations_report
from .scope import lamps as lamps_in

YEAR_DAY0 = 20454          # 2026-01-01: the year whose nights make "a year" of baseline


@dataclass
class Costs:
    controller: float = 0.0          # per lamp
    install: float = 0.0             # per lamp
    fixed: float = 0.0               # once (broker, tools, training)


@dataclass
class Measured:
    """What the pilot showed for one kind of lamp."""
    lamp_type: str
    rated_w: float
    lamps: int
    kwh_saved_per_lamp_night: float
    share_mean: float
    share_p10: float
    share_p90: float


@dataclass
class Projected:
    lamp_type: str
    rated_w: float
    lamps: int
    baseline_kwh_year: float
    saved_kwh_year: float
    saved_kwh_year_low: float
    saved_kwh_year_high: float
    source: str                       # which measured figure it came from


@dataclass
class ScaleUp:
    pilot: str
    target: str
    period: tuple[int, int]
    money: Money
    costs: Costs
    pilot_lamps: int
    pilot_lamp_nights: int
    measured: list[Measured]
    pilot_savings_pct: float | None
    pilot_uptime_mean: float | None
    pilot_faults_per_1000_lamp_nights: float
    target_lamps: int
    projected: list[Projected]
    headline: dict = field(default_factory=dict)
    broker: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def scale_up(inv: Inventory, site: str, pilot: str, target: str, first_day: int, last_day: int,
             money: Money, costs: Costs) -> tuple[ScaleUp, EnergyReport, OperationsReport]:
    pilot_scope = _scope_args(inv, site, pilot)
    energy = energy_report(inv, site, first_day, last_day, money, **pilot_scope)
    ops = operations_report(inv, site, baseline.noon(first_day, 0), baseline.noon(last_day, 0), **pilot_scope)
    measured, overall = _measured(energy)
    if not measured:
        raise InventoryError(f"the pilot {pilot!r} has no meter readings between the dates given")
    target_lamps = _target_lamps(inv, site, target)
    projected = _project(target_lamps, measured, overall)
    nights = (last_day - first_day) * sum(1 for r in energy.lamps if r.seen)
    faults = sum(k.raised for k in ops.faults)
    up = [u for u in ops.uptime.values() if u is not None]
    report = ScaleUp(pilot, target, (first_day, last_day), money, costs, sum(1 for r in energy.lamps if r.seen),
                     nights, list(measured.values()), energy.total.savings_pct,
                     sum(up) / len(up) if up else None, 1000 * faults / nights if nights else 0.0,
                     len(target_lamps), projected)
    report.headline = _headline(report)
    report.broker = _broker(len(target_lamps))
    return report, energy, ops


def _scope_args(inv: Inventory, site: str, name: str) -> dict:
    """A pilot or target named by street or district."""
    if inv.one("SELECT 1 FROM streets s JOIN districts d ON d.id = s.district_id WHERE d.site_id = ? AND s.name = ?",
               (site, name)):
        return {"street": name}
    if inv.one("SELECT 1 FROM districts WHERE site_id = ? AND name = ?", (site, name)):
        return {"district": name}
    raise InventoryError(f"{name!r} is neither a street nor a district of site {site!r}")


def _measured(energy: EnergyReport) -> tuple[dict, Measured]:
    groups: dict[tuple, list] = defaultdict(list)
    nights = energy.last_day - energy.first_day
    for r in energy.lamps:
        if r.seen and r.baseline_kwh > 0:
            groups[(r.lamp_type, r.rated_w)].append(r)
    out = {key: _stats(key[0], key[1], rows, nights) for key, rows in groups.items()}
    every = [r for rows in groups.values() for r in rows]
    return out, (_stats("all pilot lamps", 0.0, every, nights) if every else None)


def _stats(lamp_type: str, rated: float, rows: list, nights: int) -> Measured:
    shares = sorted(r.savings_kwh / r.baseline_kwh for r in rows)
    pick = lambda q: shares[min(len(shares) - 1, int(q * len(shares)))]   # noqa: E731
    return Measured(lamp_type, rated, len(rows), statistics.fmean(r.savings_kwh for r in rows) / nights,
                    statistics.fmean(shares), pick(0.1), pick(0.9))


def _target_lamps(inv: Inventory, site: str, target: str) -> list:
    path = Path(target)
    if path.suffix.lower() == ".csv":
        if not path.is_file():
            raise InventoryError(f"{target}: no such inventory file")
        with tempfile.TemporaryDirectory() as tmp, open_inventory(Path(tmp) / "target.sqlite", create=True) as t:
            report = import_csv(t, path)
            if not report.imported:
                bad = report.bad[0]
                raise InventoryError(f"{target}: line {bad.line}: {bad.reason}")
            return [lamp for s in t.query("SELECT id FROM sites") for lamp in lamps_in(t, s["id"])]
    return lamps_in(inv, site, **_scope_args(inv, site, target))


def _year_hours(lat: float, lon: float, cache: dict) -> float:
    """Dusk-to-dawn hours in a year, per ~10 km cell (nights differ by seconds within it)."""
    key = (round(lat, 1), round(lon, 1))
    if key not in cache:
        cache[key] = sum(baseline.night_hours(d, key[0], key[1]) for d in range(YEAR_DAY0, YEAR_DAY0 + 365))
    return cache[key]


def _project(target: list, measured: dict, overall: Measured) -> list[Projected]:
    cache: dict = {}
    kinds: dict[tuple, list] = defaultdict(list)
    for lamp in target:
        kinds[(lamp.lamp_type, lamp.rated_w)].append(lamp)
    out = []
    for (lamp_type, rated), lamps in sorted(kinds.items()):
        base = sum(rated * _year_hours(lp.lat, lp.lon, cache) for lp in lamps) / 1000
        m = measured.get((lamp_type, rated))
        source = (f"pilot {lamp_type} {rated:g} W: {m.lamps} lamps" if m else
                  f"not in the pilot: the pilot-wide share ({overall.lamps} lamps)")
        m = m or overall
        out.append(Projected(lamp_type, rated, len(lamps), base, base * m.share_mean, base * m.share_p10,
                             base * m.share_p90, source))
    return out


def _headline(r: ScaleUp) -> dict:
    saved = sum(p.saved_kwh_year for p in r.projected)
    low = sum(p.saved_kwh_year_low for p in r.projected)
    high = sum(p.saved_kwh_year_high for p in r.projected)
    h = {"target_lamps": r.target_lamps, "saved_kwh_year": saved, "saved_kwh_year_low": low,
         "saved_kwh_year_high": high, "pilot_savings_pct": r.pilot_savings_pct}
    if r.money.tariff is not None:
        h["saved_money_year"] = saved * r.money.tariff
        capex = r.target_lamps * (r.costs.controller + r.costs.install) + r.costs.fixed
        h["investment"] = capex
        h["payback_years"] = capex / h["saved_money_year"] if h["saved_money_year"] > 0 else None
    if r.money.grid_kg_per_kwh is not None:
        h["saved_co2_t_year"] = saved * r.money.grid_kg_per_kwh / 1000
    return h


_SCALE_LINE = re.compile(r"^\s*[-*]?\s*`?(broker memory per 1000 lamps|broker cpu per 1000 lamps at default "
                         r"telemetry): ([0-9.]+) (MiB|%)`?", re.M)


def _broker(lamps: int) -> dict:
    """Broker capacity for the target from the per-lamp costs measured in docs/scale.md."""
    doc = REPO / "docs" / "scale.md"
    found = dict((m[0], float(m[1])) for m in _SCALE_LINE.findall(doc.read_text())) if doc.exists() else {}
    out = {"controllers": lamps, "source": "docs/scale.md" if found else "not measured (docs/scale.md has no figures)"}
    if "broker memory per 1000 lamps" in found:
        out["memory_mib"] = found["broker memory per 1000 lamps"] * lamps / 1000
    if "broker cpu per 1000 lamps at default telemetry" in found:
        out["cpu_pct_of_a_core"] = found["broker cpu per 1000 lamps at default telemetry"] * lamps / 1000
    return out

