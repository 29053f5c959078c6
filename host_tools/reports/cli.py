"""`pilotlight report ...`: energy, operations and the scale-up case."""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ..inventory import open_inventory
from ..inventory.errors import InventoryError
from ..paths import firmware_module
from . import settings
# The report modules (numpy, matplotlib) load in the commands that use them:
# every `pilotlight ...` run imports this group, and matplotlib alone takes half a second.

tz_mod = firmware_module("tz")
console = Console()


def _day(ctx, param, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        y, m, d = (int(x) for x in value.split("-"))
        if not (1 <= m <= 12 and 1 <= d <= tz_mod.month_days(y, m)):
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None
    return tz_mod.days_from_civil(y, m, d)


def _period(options):
    options = [
        click.option("--site", required=True, help="the site (as in the inventory)"),
        click.option("--from", "first", required=True, callback=_day, help="first night, YYYY-MM-DD"),
        click.option("--to", "last", required=True, callback=_day, help="day after the last night, YYYY-MM-DD"),
        click.option("--inventory", type=click.Path(dir_okay=False), help="inventory file (default: ~/.pilotlight)"),
    ] + options
    def wrap(f):
        for opt in reversed(options):
            f = opt(f)
        return f
    return wrap


def _money(inv, site, tariff, currency, grid):
    from .energy import Money
    kept = settings.get(inv, site)
    return Money(tariff if tariff is not None else kept.get("tariff"),
                 currency or kept.get("currency") or "EUR",
                 grid if grid is not None else kept.get("grid_kg_per_kwh"))


def _fail(e: Exception):
    click.echo(f"error: {e}", err=True)
    sys.exit(2)


MONEY = [click.option("--tariff", type=float, help="price per kWh (default: the site's setting)"),
         click.option("--currency", help="currency of the tariff (default: the site's, else EUR)"),
         click.option("--grid-factor", "grid", type=float, help="kg CO2 per kWh (default: the site's setting)")]


@click.group()
def report():
    """Energy, operations and the scale-up case, from the fleet's history.

    \b
    The collector keeps each board's meters, levels, faults and status in the
    inventory; these reports read them:
      pilotlight report energy --site lyon --from 2026-11-01 --to 2026-12-01
      pilotlight report operations --site lyon --from 2026-11-01 --to 2026-12-01 --json
      pilotlight report scale-up --site lyon --pilot "Rue Garibaldi" --target Centre \\
          --from 2026-11-01 --to 2026-12-01 --tariff 0.21 --controller-cost 80 -o case.html
      pilotlight report settings --site lyon --tariff 0.21 --grid-factor 0.056
    """


@report.command()
@_period([click.option("--district"), click.option("--street"), *MONEY,
          click.option("--json", "as_json", is_flag=True, help="the whole report as JSON"),
          click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="per-lamp rows to a CSV file"),
          click.option("--plots", "plots_dir", type=click.Path(file_okay=False),
                       help="write the PNG plots into this folder")])
def energy(site, first, last, inventory, district, street, tariff, currency, grid, as_json, csv_path, plots_dir):
    """kWh per lamp, street and district from the boards' own meters, against
    full rated power from dusk to dawn at each pole; savings in kWh, %, money, CO2.

    Lamps whose energy is estimated from their rating (no power monitor) are
    flagged; lamps with no reading in the period are counted but left out of
    the totals, so measured and baseline cover the same lamps."""
    from . import plots
    from .energy import energy_report
    try:
        with open_inventory(inventory) as inv:
            r = energy_report(inv, site, first, last, _money(inv, site, tariff, currency, grid), district, street)
            if plots_dir:
                out = Path(plots_dir)
                out.mkdir(parents=True, exist_ok=True)
                (out / "dimming-profile.png").write_bytes(plots.dimming_profile(inv, site, last - 1, district, street))
                (out / "nightly-vs-baseline.png").write_bytes(plots.nightly_vs_baseline(r))
                (out / "savings-by-street.png").write_bytes(plots.savings_by_street(r))
    except InventoryError as e:
        _fail(e)
    if csv_path:
        _write_csv(Path(csv_path), r)
    if as_json:
        click.echo(json.dumps(r.to_dict(), indent=1))
        return
    t = Table(title=f"Energy, {site}: {len(r.lamps)} lamps, {last - first} nights")
    for col in ("street", "lamps", "kWh", "baseline kWh", "saved kWh", "saved %", "money", "CO2 kg", "estimated",
                "no reading"):
        t.add_column(col, justify="left" if col == "street" else "right")
    for s in [*r.streets, r.total]:
        t.add_row(s.name, str(s.lamps), f"{s.kwh:.1f}", f"{s.baseline_kwh:.1f}", f"{s.savings_kwh:.1f}",
                  _f(s.savings_pct, 1), _f(s.savings_money, 2), _f(s.savings_co2_kg, 1), str(s.estimated_lamps),
                  str(s.unseen_lamps), style="bold" if s is r.total else None)
    console.print(t)


def _f(x, digits):
    return "–" if x is None else f"{x:.{digits}f}"


def _write_csv(path: Path, r) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["pole_id", "district", "street", "position", "lamp_type", "rated_w", "estimated", "seen", "kwh",
                    "baseline_kwh", "savings_kwh"])
        for x in r.lamps:
            w.writerow([x.pole, x.district, x.street, x.position, x.lamp_type, x.rated_w, int(x.estimated),
                        int(x.seen), f"{x.kwh:.4f}", f"{x.baseline_kwh:.4f}", f"{x.savings_kwh:.4f}"])
    tmp.replace(path)


@report.command()
@_period([click.option("--district"), click.option("--street"),
          click.option("--json", "as_json", is_flag=True, help="the whole report as JSON")])
def operations(site, first, last, inventory, district, street, as_json):
    """Uptime per lamp and street, faults by kind (time to detect, time to
    clear), lamps never seen and firmware versions in the field."""
    from . import baseline
    from .operations import operations_report
    try:
        with open_inventory(inventory) as inv:
            r = operations_report(inv, site, baseline.noon(first, 0), baseline.noon(last, 0), district, street)
    except InventoryError as e:
        _fail(e)
    if as_json:
        click.echo(json.dumps(r.to_dict(), indent=1))
        return
    t = Table(title=f"Uptime, {site}")
    t.add_column("street")
    t.add_column("uptime %", justify="right")
    for name, share in sorted(r.street_uptime.items()):
        t.add_row(name, f"{100 * share:.2f}")
    console.print(t)
    f = Table(title="Faults")
    for col in ("fault", "raised", "cleared", "still open", "median detect s", "median clear h"):
        f.add_column(col, justify="left" if col == "fault" else "right")
    for k in r.faults:
        f.add_row(k.fault, str(k.raised), str(k.cleared), str(k.open), _f(k.median_detect_s, 0),
                  _f(k.median_clear_s / 3600 if k.median_clear_s is not None else None, 1))
    console.print(f)
    console.print(f"never seen: {', '.join(r.never_seen) or 'none'}")
    console.print("firmware: " + ", ".join(f"{v} on {n}" for v, n in sorted(r.firmware.items())))


@report.command("scale-up")
@_period([click.option("--pilot", required=True, help="the pilot: a street or district of the site"),
          click.option("--target", required=True, help="a district of the site, or a GIS CSV of the target's poles "
                       "(columns lamp_type and rated_power_w where known)"),
          *MONEY,
          click.option("--controller-cost", type=float, default=0.0, show_default=True, help="per lamp"),
          click.option("--install-cost", type=float, default=0.0, show_default=True, help="per lamp"),
          click.option("--fixed-cost", type=float, default=0.0, show_default=True, help="once: broker, tools"),
          click.option("-o", "--output", type=click.Path(dir_okay=False), default="scale-up.html", show_default=True,
                       help="the HTML document"),
          click.option("--json", "as_json", is_flag=True, help="print the figures as JSON too")])
def scale_up_cmd(site, first, last, inventory, pilot, target, tariff, currency, grid, controller_cost, install_cost,
                 fixed_cost, output, as_json):
    """The pilot's measured savings, uptime and faults carried onto a target
    district: kWh, cost and CO2 a year, controllers and broker capacity, and
    the payback, each beside the measured figure it came from. Writes one
    self-contained HTML document that prints to PDF from any browser."""
    from . import document, scaleup
    try:
        with open_inventory(inventory) as inv:
            money = _money(inv, site, tariff, currency, grid)
            case, energy_r, ops = scaleup.scale_up(inv, site, pilot, target, first, last, money,
                                                   scaleup.Costs(controller_cost, install_cost, fixed_cost))
            html = document.render(inv, site, case, energy_r, ops, scaleup._scope_args(inv, site, pilot))
    except InventoryError as e:
        _fail(e)
    document.write(Path(output), html)
    if as_json:
        click.echo(json.dumps(case.to_dict(), indent=1))
    else:
        h = case.headline
        console.print(f"[bold]{output}[/]: {h['saved_kwh_year']:,.0f} kWh a year saved "
                      f"({h['saved_kwh_year_low']:,.0f}–{h['saved_kwh_year_high']:,.0f}) on {case.target_lamps} lamps")


@report.command("settings")
@click.option("--site", required=True)
@click.option("--inventory", type=click.Path(dir_okay=False))
@click.option("--tariff", type=float, help="price per kWh")
@click.option("--currency")
@click.option("--grid-factor", type=float, help="kg CO2 per kWh of the site's grid")
def settings_cmd(site, inventory, tariff, currency, grid_factor):
    """Keep a site's tariff, currency and grid factor, so reports need no options."""
    try:
        with open_inventory(inventory) as inv:
            kept = settings.put(inv, site, tariff=tariff, currency=currency, grid_kg_per_kwh=grid_factor)
    except InventoryError as e:
        _fail(e)
    click.echo(json.dumps(kept))


DEFAULT_PROGRAM = {"id": "pilot", "steps": [{"at": "sunset", "level": 100, "fade": 60},
                                           {"at": "22:30", "level": 50, "fade": 300},
                                           {"at": "00:30", "level": 30, "fade": 300},
                                           {"at": "05:30", "level": 70, "fade": 300},
                                           {"at": "sunrise", "level": 0, "fade": 60}]}


@report.command()
@click.option("--site", required=True)
@click.option("--district")
@click.option("--street")
@click.option("--from", "first", required=True, callback=_day, help="first day, YYYY-MM-DD")
@click.option("--days", type=click.IntRange(1, 400), default=30, show_default=True)
@click.option("--program", "program_file", type=click.Path(exists=True, dir_okay=False),
              help="a dimming program (JSON, docs/programs.md); default: a typical district program")
@click.option("--motions-per-night", type=click.FloatRange(0, 1000), default=20.0, show_default=True,
              help="street activity: motions a lamp sees in a night")
@click.option("--incidents/--no-incidents", default=True, show_default=True,
              help="a failed lamp, a meter reset, a replaced board and a lamp offline for a day")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--inventory", type=click.Path(dir_okay=False))
def simulate(site, district, street, first, days, program_file, motions_per_night, incidents, seed, inventory):
    """Fill the history with simulated days of the boards on these poles, to try
    the reports: the same uplinks a board sends, through the collector's path.

    \b
      pilotlight report simulate --site demo --street "Main Street" --from 2026-11-01 --days 30
    """
    from rich.progress import Progress

    from .scope import lamps as lamps_in
    from .simulate import Incidents, simulate as run
    doc = json.loads(Path(program_file).read_text()) if program_file else DEFAULT_PROGRAM
    try:
        with open_inventory(inventory) as inv, Progress(console=console, transient=True) as bar:
            site_row = inv.one("SELECT tz FROM sites WHERE id = ?", (site,))
            if site_row is None:
                raise InventoryError(f"no site {site!r} in the inventory")
            count = len(lamps_in(inv, site, district, street))
            task = bar.add_task("simulating", total=count)
            done = run(inv, site, doc, site_row["tz"] or "UTC0", first, days, district, street, motions_per_night,
                       incidents=Incidents.typical(count) if incidents else None, seed=seed,
                       progress=lambda k, n: bar.update(task, completed=k, total=n))
    except (InventoryError, ValueError) as e:
        _fail(e)
    console.print(f"{done['lamps']} lamps, {days} days, {done['uplinks']:,} uplinks recorded")
