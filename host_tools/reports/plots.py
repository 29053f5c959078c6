"""The reports' pictures (matplotlib, no screen needed): PNG bytes."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..inventory.db import Inventory  # noqa: E402
from ..paths import firmware_module  # noqa: E402
from .energy import EnergyReport  # noqa: E402
from .scope import lamps as lamps_in  # noqa: E402

tz_mod = firmware_module("tz")
STEP_S = 300


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def dimming_profile(inv: Inventory, site: str, day: int, district: str | None = None, street: str | None = None
                    ) -> bytes:
    """Mean level of each street's lamps through the night after `day` (18:00 to 08:00 UTC)."""
    t = np.arange(day * 86400 + 16 * 3600, day * 86400 + 32 * 3600, STEP_S)
    streets: dict[str, list[np.ndarray]] = {}
    for lamp in lamps_in(inv, site, district, street):
        for src in lamp.sources:
            rows = inv.query("SELECT t, level FROM hist_level WHERE src = ? AND t < ? ORDER BY t", (src, int(t[-1])))
            if rows:
                times = np.array([r["t"] for r in rows])
                levels = np.array([r["level"] / 10 for r in rows])
                k = np.searchsorted(times, t, side="right") - 1
                streets.setdefault(lamp.street, []).append(np.where(k >= 0, levels[np.maximum(k, 0)], 0))
    fig, ax = plt.subplots(figsize=(8, 3.2))
    hours = (t - day * 86400) / 3600
    for name, series in sorted(streets.items()):
        ax.step(hours, np.mean(series, axis=0), where="post", label=f"{name} ({len(series)} boards)")
    y, m, d = tz_mod.civil_from_days(day)
    ax.set(title=f"Dimming profile, night of {y}-{m:02d}-{d:02d}", xlabel="hours from midnight UTC",
           ylabel="mean level %", ylim=(0, 105))
    ax.grid(alpha=0.3)
    if streets:
        ax.legend(fontsize=8)
    return _png(fig)


def nightly_vs_baseline(report: EnergyReport) -> bytes:
    seen = [r for r in report.lamps if r.seen]
    used = np.sum([r.nightly_kwh for r in seen], axis=0) if seen else np.zeros(report.last_day - report.first_day)
    base = np.sum([r.nightly_baseline_kwh for r in seen], axis=0) if seen else used
    x = np.arange(len(used))
    fig, ax = plt.subplots(figsize=(8, 3.2))
    labels = ["%02d-%02d" % tz_mod.civil_from_days(report.first_day + i)[1:] for i in x]
    ax.set_xticks(x, labels, rotation=90 if len(x) > 10 else 0, fontsize=8)
    ax.bar(x, used, color="#2b6cb0", label="measured (boards' meters)")
    ax.plot(x, base, color="#c05621", marker=".", label="baseline: full power dusk to dawn")
    ax.set(title="Energy per night", xlabel="night starting (month-day)", ylabel="kWh")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return _png(fig)


def savings_by_street(report: EnergyReport) -> bytes:
    rows = sorted(report.streets, key=lambda s: s.savings_kwh)
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.4 * max(len(rows), 2)))
    ax.barh([s.name for s in rows], [s.savings_kwh for s in rows], color="#2f855a")
    for i, s in enumerate(rows):
        if s.savings_pct is not None:
            ax.annotate(f" {s.savings_pct:.0f} %", (s.savings_kwh, i), va="center", fontsize=8)
    ax.set(title="Savings by street", xlabel="kWh saved over the period")
    ax.grid(alpha=0.3, axis="x")
    return _png(fig)
