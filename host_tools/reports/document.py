"""The scale-up case as one self-contained HTML document (jinja2, plots
embedded as data URIs) that prints well to PDF from a browser."""
from __future__ import annotations

import base64
from pathlib import Path

import jinja2

from ..inventory.db import Inventory
from ..paths import firmware_module
from . import plots
from .energy import EnergyReport
from .operations import OperationsReport
from .scaleup import ScaleUp

tz_mod = firmware_module("tz")
_ENV = jinja2.Environment(loader=jinja2.PackageLoader("host_tools.reports", "templates"),
                          autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)


def _date(day: int) -> str:
    y, m, d = tz_mod.civil_from_days(day)
    return f"{y}-{m:02d}-{d:02d}"


def _num(x, digits: int = 0) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


_ENV.filters.update(date=_date, num=_num)


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def render(inv: Inventory, site: str, case: ScaleUp, energy: EnergyReport, ops: OperationsReport,
           pilot_scope: dict) -> str:
    first, last = case.period
    figures = {
        "profile": _uri(plots.dimming_profile(inv, site, last - 2, **pilot_scope)),
        "nightly": _uri(plots.nightly_vs_baseline(energy)),
        "streets": _uri(plots.savings_by_street(energy)),
    }
    return _ENV.get_template("scaleup.html.j2").render(site=site, case=case, energy=energy, ops=ops,
                                                         figures=figures, first=first, last=last)


def write(path: Path, html: str) -> None:
    """Atomically: a half-written report is never left where the last good one was."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
