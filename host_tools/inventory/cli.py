"""`pilotlight inventory ...`: the fleet inventory from the command line."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table

from ..cli_support import err, fail, open_db, out
from . import boards, groups, places
from .db import SCHEMA_VERSION, default_path
from .errors import InventoryError, NotFound
from .geojson import export_geojson
from .gis_csv import export_csv, import_csv, parse_mapping
from .model import STATES

EXIT_BAD_ROWS = 1     # import found bad rows (see the report)


def _emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), envvar="PILOTLIGHT_INVENTORY",
              default=None, help="Inventory file [$PILOTLIGHT_INVENTORY or ~/.pilotlight/inventory.sqlite].")
@click.pass_context
def inventory(ctx, db):
    """The fleet inventory: sites, streets, poles, boards and groups in one SQLite file.

    \b
    A first district, from the city's GIS export to a map:
      pilotlight inventory init --site lyon --name "Lyon" --tz "CET-1CEST,M3.5.0,M10.5.0/3"
      pilotlight inventory import poles.csv --site lyon --map pole_id=ASSET_NO --map lat=Y --map lon=X
      pilotlight inventory poles --street "Rue Garibaldi"
      pilotlight inventory export --format geojson -o poles.geojson     (open it in QGIS)

    Exit codes: 0 done, 1 bad rows in an import, 2 bad command line, 3 refused (nothing changed).
    """
    ctx.ensure_object(dict)
    ctx.obj["db"] = db or default_path()


@inventory.command()
@click.option("--site", help="Also create this site (its id is part of MQTT topics: lowercase, digits, '-').")
@click.option("--name", help="The site's display name.")
@click.option("--tz", help="The site's POSIX TZ string, e.g. CET-1CEST,M3.5.0,M10.5.0/3.")
@click.pass_context
def init(ctx, site, name, tz):
    """Create the inventory file (owner-only), or bring an old one to the current schema."""
    existed = Path(ctx.obj["db"]).exists()
    with open_db(ctx, create=True) as inv:
        if site:
            try:
                places.ensure_site(inv, site, name, tz)
            except InventoryError as e:
                fail(str(e))
    verb = "up to date" if existed else "created"
    out.print(f"inventory {inv.path} {verb} (schema {SCHEMA_VERSION})" + (f", site {site}" if site else ""),
              highlight=False)


@inventory.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--map", "mapping", multiple=True, metavar="OURS=THEIRS",
              help="Read our column OURS from the file's column THEIRS (repeatable). "
                   "Ours: pole_id, site, district, street, position, lat, lon.")
@click.option("--site", help="Site of every row, when the file has no site column.")
@click.option("--district", help="District of every row, when the file has no district column.")
@click.option("--delimiter", default=",", show_default=True, help="Field separator (';' for many European exports).")
@click.option("--allow-partial", is_flag=True, help="Import the good rows even when some are bad.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def import_cmd(ctx, csv_file, mapping, site, district, delimiter, allow_partial, as_json):
    """Import poles from a GIS export (CSV, UTF-8, one pole per row).

    Every row is checked (pole id, position along the street >= 1, lat/lon in range,
    no duplicates in the file or clash with the inventory). Each bad row is reported
    with its line number and reason, and nothing is imported unless --allow-partial.
    Re-importing a newer export updates poles in place; poles not in the file stay.
    Other columns of the file are kept and come back on export.
    """
    with open_db(ctx) as inv:
        try:
            report = import_csv(inv, csv_file, parse_mapping(mapping), site, district, delimiter, allow_partial)
        except InventoryError as e:
            fail(str(e))
    if as_json:
        _emit_json(report.to_dict())
    else:
        if report.bad:
            table = Table(title=f"{len(report.bad)} bad row(s) in {csv_file}")
            for col in ("line", "pole", "reason"):
                table.add_column(col, overflow="fold")
            for b in report.bad:
                table.add_row(str(b.line), b.pole_id, b.reason)
            out.print(table)
        if report.imported:
            out.print(f"{report.rows} rows: {report.added} added, {report.updated} updated, "
                      f"{report.unchanged} unchanged, {len(report.bad)} skipped", highlight=False)
        else:
            out.print(f"nothing imported: fix the rows above, or pass --allow-partial to import the "
                      f"{report.rows - len(report.bad)} good ones", highlight=False)
    sys.exit(EXIT_BAD_ROWS if report.bad else 0)


@inventory.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "geojson"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write [stdout].")
@click.option("--site", help="Only this site.")
@click.option("--map", "mapping", multiple=True, metavar="OURS=THEIRS",
              help="CSV: name our column OURS as THEIRS (the same --map as the import gives the GIS's names back).")
@click.option("--delimiter", default=",", show_default=True, help="CSV field separator.")
@click.pass_context
def export(ctx, fmt, output, site, mapping, delimiter):
    """Export poles as CSV (the import's layout) or GeoJSON (points with pole and board state)."""
    with open_db(ctx) as inv:
        try:
            names_map = parse_mapping(mapping)
            if output is None:
                count = _export(inv, fmt, sys.stdout, site, names_map, delimiter)
            else:
                with output.open("w", encoding="utf-8", newline="") as f:
                    count = _export(inv, fmt, f, site, names_map, delimiter)
        except InventoryError as e:
            fail(str(e))
    if output is not None:
        err.print(f"{count} poles written to {output}", highlight=False)


def _export(inv, fmt, stream, site, mapping, delimiter) -> int:
    if fmt == "geojson":
        return export_geojson(inv, stream, site)
    return export_csv(inv, stream, mapping, site, delimiter)


@inventory.command("poles")
@click.option("--site")
@click.option("--district")
@click.option("--street")
@click.option("--free/--taken", default=None, help="Only poles without / with a board.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def poles_cmd(ctx, site, district, street, free, as_json):
    """List poles in import order (position = order along the street)."""
    with open_db(ctx) as inv:
        poles = places.list_poles(inv, site, district, street, free)
    if as_json:
        _emit_json([p.to_dict() for p in poles])
        return
    table = Table(title=f"{len(poles)} poles")
    for col in ("pole", "site", "district", "street", "pos", "lat", "lon", "board"):
        table.add_column(col, justify="right" if col in ("pos", "lat", "lon") else "left")
    for p in poles:
        table.add_row(p.id, p.site, p.district, p.street, str(p.position), f"{p.lat:.6f}", f"{p.lon:.6f}",
                      p.board or "")
    out.print(table)


@inventory.command("boards")
@click.option("--state", type=click.Choice(STATES))
@click.option("--site")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def boards_cmd(ctx, state, site, as_json):
    """List boards with their state, pole and who last changed them."""
    with open_db(ctx) as inv:
        found = boards.list_boards(inv, state, site)
    if as_json:
        _emit_json([b.to_dict() for b in found])
        return
    table = Table(title=f"{len(found)} boards")
    for col in ("chip id", "type", "firmware", "state", "since", "by", "pole"):
        table.add_column(col)
    for b in found:
        table.add_row(b.chip_id, b.board_type, b.firmware_version or "", b.state, b.state_at, b.state_by,
                      b.pole_id or "")
    out.print(table)


@inventory.command()
@click.argument("ident")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx, ident, as_json):
    """Everything about one board (by chip id) or one pole (by pole id), history included."""
    with open_db(ctx) as inv:
        try:
            data = _describe(inv, ident)
        except InventoryError as e:
            fail(str(e))
    if as_json:
        _emit_json(data)
        return
    for key, value in data.items():
        if isinstance(value, list):
            out.print(f"[bold]{key}[/bold] ({len(value)})")
            for item in value:
                out.print("  " + "  ".join(f"{k}={v}" for k, v in item.items() if v not in (None, {}, "")),
                          highlight=False)
        else:
            out.print(f"[bold]{key}[/bold]: {value}", highlight=False)


def _describe(inv, ident: str) -> dict:
    try:
        pole = places.get_pole(inv, ident)
    except InventoryError:
        pole = None
    if pole is not None:
        data = {"kind": "pole", **pole.to_dict()}
        board = boards.on_pole(inv, pole.id)
        if board:
            data["board_state"] = board.state
        return data
    try:
        board = boards.get(inv, ident)
    except InventoryError:
        raise NotFound(f"{ident!r} is neither a pole id nor a board's chip id in the inventory") from None
    return {"kind": "board", **board.to_dict(), "groups": ", ".join(groups.for_board(inv, board.chip_id)),
            "events": [e.to_dict() for e in boards.events(inv, board.chip_id)],
            "attempts": [a.to_dict() for a in boards.attempts(inv, board.chip_id)]}


@inventory.command("set-state")
@click.argument("chip_id")
@click.argument("state", type=click.Choice(STATES))
@click.option("--reason", default="", help="Why, for the record.")
@click.pass_context
def set_state_cmd(ctx, chip_id, state, reason):
    """Move a board along new -> provisioned -> commissioned -> retired.

    \b
    Commission a board once its lamp is seen working on its pole:
      pilotlight inventory set-state 240ac4a1b2c3 commissioned
    Retiring frees its pole and revokes its broker account.
    """
    with open_db(ctx) as inv:
        try:
            board = boards.set_state(inv, chip_id, state, reason=reason)
        except InventoryError as e:
            fail(str(e))
        from ..audit import record
        record(inv, "retire" if state == "retired" else "inventory.state", f"board:{board.chip_id}", state,
               {"reason": reason})
    out.print(f"board {board.chip_id}: {board.state} (since {board.state_at}, by {board.state_by})", highlight=False)


@inventory.command("groups")
@click.argument("site")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def groups_cmd(ctx, site, as_json):
    """List a site's groups (each district, each street, and custom ones) with their board counts."""
    with open_db(ctx) as inv:
        found = groups.list_groups(inv, site)
    if as_json:
        _emit_json(found)
        return
    table = Table(title=f"groups of {site}")
    for col in ("group", "kind", "of", "boards"):
        table.add_column(col)
    for g in found:
        table.add_row(g["name"], g["kind"], g["of"], str(g["boards"]))
    out.print(table)
