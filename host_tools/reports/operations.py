"""Operations over a period: uptime per lamp and street (from status and the
Will), faults by kind with time to detect (board raised -> fleet heard) and
time to clear, lamps never seen, firmware versions in the field."""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass

from ..inventory.db import Inventory
from .scope import lamps as lamps_in


@dataclass
class FaultKind:
    fault: str
    raised: int
    cleared: int
    open: int
    median_detect_s: float | None
    median_clear_s: float | None


@dataclass
class OperationsReport:
    site: str
    start: int
    end: int
    uptime: dict[str, float | None]          # pole -> share of the period online (None: never seen)
    street_uptime: dict[str, float]
    faults: list[FaultKind]
    never_seen: list[str]
    firmware: dict[str, int]

    def to_dict(self) -> dict:
        return asdict(self)


def operations_report(inv: Inventory, site: str, start: int, end: int, district: str | None = None,
                      street: str | None = None) -> OperationsReport:
    scope = lamps_in(inv, site, district, street)
    uptime, by_street = {}, defaultdict(list)
    for lamp in scope:
        share = _uptime(inv, lamp.sources, start, end)
        uptime[lamp.pole] = share
        if share is not None:
            by_street[f"{lamp.district} / {lamp.street}"].append(share)
    sources = [s for lamp in scope for s in lamp.sources]
    return OperationsReport(site, start, end, uptime,
                            {k: sum(v) / len(v) for k, v in by_street.items()},
                            _faults(inv, sources, start, end),
                            [p for p, share in uptime.items() if share is None],
                            _firmware(inv, scope))


def _uptime(inv: Inventory, sources: list[int], start: int, end: int) -> float | None:
    """Share of [start, end) with one of the pole's boards online; None when none ever reported."""
    online_s, seen = 0, False
    for src in sources:
        rows = inv.query("SELECT t, online FROM hist_link WHERE src = ? AND t < ? ORDER BY t", (src, end))
        if not rows:
            continue
        seen = True
        state, since = 0, start
        for r in rows:
            t = max(r["t"], start)
            if state:
                online_s += t - since
            state, since = r["online"], t
        if state:
            online_s += end - since
    return min(1.0, online_s / (end - start)) if seen else None


def _faults(inv: Inventory, sources: list[int], start: int, end: int) -> list[FaultKind]:
    if not sources:
        return []
    marks = ",".join("?" * len(sources))
    rows = inv.query(f"SELECT src, t, fault, raised, seen FROM hist_fault WHERE src IN ({marks}) AND t < ? "
                     "ORDER BY src, fault, t", (*sources, end))
    kinds: dict[str, dict] = defaultdict(lambda: {"raised": 0, "cleared": 0, "open": 0, "detect": [], "clear": []})
    open_since: dict[tuple, int] = {}
    for r in rows:
        k, key = kinds[r["fault"]], (r["src"], r["fault"])
        if r["raised"]:
            open_since[key] = r["t"]
            if r["t"] >= start:
                k["raised"] += 1
                k["detect"].append(r["seen"] - r["t"])
        elif key in open_since:
            raised_at = open_since.pop(key)
            if r["t"] >= start:
                k["cleared"] += 1
                k["clear"].append(r["t"] - raised_at)
    for src, fault in open_since:
        kinds[fault]["open"] += 1
    med = lambda xs: statistics.median(xs) if xs else None   # noqa: E731
    return [FaultKind(f, k["raised"], k["cleared"], k["open"], med(k["detect"]), med(k["clear"]))
            for f, k in sorted(kinds.items())]


def _firmware(inv: Inventory, scope) -> dict[str, int]:
    """Per version, the poles whose newest board last reported it."""
    out: Counter = Counter()
    for lamp in scope:
        if lamp.sources:
            fw = inv.one("SELECT fw FROM hist_sources WHERE id = ?", (max(lamp.sources),))["fw"]
            out[fw or "unknown"] += 1
    return dict(out)
