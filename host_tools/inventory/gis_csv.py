"""Poles in and out as the CSV a city's GIS exports.

Import checks every row and reports each bad one by line number and reason;
nothing is written when any row is bad, unless the caller allows a partial
import. Export writes the same layout back, in import order, so a file that
came in goes out identical (numbers in their shortest exact form)."""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import names, places
from .db import Inventory, default_actor, now
from .errors import InvalidName, InventoryError

COLUMNS = ("pole_id", "site", "district", "street", "position", "lat", "lon")
REQUIRED = ("pole_id", "street", "position", "lat", "lon")


@dataclass
class BadRow:
    line: int
    pole_id: str
    reason: str


@dataclass
class ImportReport:
    source: str
    rows: int = 0             # data rows read (blank rows not counted)
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: list[BadRow] = field(default_factory=list)
    imported: bool = False    # False: the inventory was not touched

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Row:
    line: int
    pole_id: str
    site: str
    district: str
    street: str
    position: int
    lat: float
    lon: float
    attrs: dict


class CsvLayoutError(InventoryError):
    """The file as a whole cannot be read (header, encoding): no row was looked at."""


def parse_mapping(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """['pole_id=ASSET_NO', 'lat=Y'] -> {'pole_id': 'ASSET_NO', 'lat': 'Y'} (ours = theirs)."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        ours, sep, theirs = pair.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or not theirs:
            raise CsvLayoutError(f"column mapping {pair!r}: write it as OURS=THEIRS, like pole_id=ASSET_NO")
        if ours not in COLUMNS:
            raise CsvLayoutError(f"column mapping {pair!r}: {ours!r} is not one of {', '.join(COLUMNS)}")
        mapping[ours] = theirs
    if len(set(mapping.values())) != len(mapping):
        raise CsvLayoutError("column mapping: two of our columns are mapped to the same column of the file")
    return mapping


def _number(text: str, what: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number" + (" (decimal comma?)" if "," in text else "")) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{what} {text!r} is outside [{low:g}, {high:g}]")
    return value


def _check_row(values: dict[str, str], line: int, attrs: dict) -> _Row:
    problems, parsed = [], {}
    def attempt(key, fn):
        try:
            parsed[key] = fn()
        except (ValueError, InvalidName) as e:
            problems.append(str(e))
    attempt("pole_id", lambda: names.pole_id(values["pole_id"]))
    attempt("site", lambda: names.site_id(values["site"]))
    for key in ("district", "street"):
        attempt(key, lambda key=key: values[key] or _missing(key))
    attempt("position", lambda: _position(values["position"]))
    attempt("lat", lambda: _number(values["lat"], "lat", -90, 90))
    attempt("lon", lambda: _number(values["lon"], "lon", -180, 180))
    if parsed.get("lat") == 0 and parsed.get("lon") == 0:
        problems.append("lat/lon is 0,0: coordinates missing in the GIS?")
    if problems:
        raise ValueError("; ".join(problems))
    return _Row(line=line, attrs=attrs, **parsed)


def _missing(key: str):
    raise ValueError(f"{key} is empty")


def _position(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"position {text!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"position {value} must be 1 or more (1 = first pole of the street)")
    return value


def read_rows(text: str, mapping: dict[str, str], defaults: dict[str, str],
              delimiter: str = ",") -> tuple[list[_Row], list[BadRow], int]:
    """Parse and check every row: (good rows, bad rows, data rows read). Touches no inventory."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvLayoutError("the file is empty: expected a header line") from None
    except csv.Error as e:
        raise CsvLayoutError(f"line 1: {e}") from None
    column_of = {ours: mapping.get(ours, ours) for ours in COLUMNS}
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise CsvLayoutError(f"line 1: the header repeats {', '.join(dup)}")
    missing = [f"{ours} (column {column_of[ours]!r})" for ours in COLUMNS
               if column_of[ours] not in header and ours not in defaults]
    if missing:
        raise CsvLayoutError("line 1: missing " + ", ".join(missing) +
                             "; map columns with --map OURS=THEIRS, or give --site/--district for the whole file")
    index = {ours: header.index(col) for ours, col in column_of.items() if col in header}
    extra = [i for i, h in enumerate(header) if i not in index.values()]

    good: list[_Row] = []
    bad: list[BadRow] = []
    seen_ids: dict[str, int] = {}
    seen_places: dict[tuple, tuple[str, int]] = {}
    rows, last_line = 0, 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            bad.append(BadRow(reader.line_num, "", f"unreadable CSV: {e}"))
            break
        line, last_line = last_line + 1, reader.line_num
        if not any(f.strip() for f in fields):
            continue
        rows += 1
        pole = fields[index["pole_id"]].strip() if len(fields) > index["pole_id"] else ""
        if len(fields) != len(header):
            bad.append(BadRow(line, pole, f"{len(fields)} fields where the header has {len(header)}"))
            continue
        values = {ours: fields[i].strip() for ours, i in index.items()}
        for ours, value in defaults.items():
            values.setdefault(ours, value)
        try:
            row = _check_row(values, line, {header[i]: fields[i] for i in extra})
        except ValueError as e:
            bad.append(BadRow(line, pole, str(e)))
            continue
        if row.pole_id in seen_ids:
            bad.append(BadRow(line, pole, f"pole id {row.pole_id} is also on line {seen_ids[row.pole_id]}"))
            continue
        place = (row.site, row.district, row.street, row.position)
        if place in seen_places:
            other, other_line = seen_places[place]
            bad.append(BadRow(line, pole, f"position {row.position} of {row.street!r} is also pole {other} "
                                          f"on line {other_line}"))
            continue
        seen_ids[row.pole_id] = line
        seen_places[place] = (row.pole_id, line)
        good.append(row)
    return good, bad, rows


def _conflicts_with_inventory(inv: Inventory, rows: list[_Row]) -> tuple[list[_Row], list[BadRow]]:
    """Rows whose street position is held in the inventory by a pole this file does not mention."""
    in_file = {r.pole_id for r in rows}
    held = {(p.site, p.district, p.street, p.position): p.id for p in places.list_poles(inv)}
    ok, bad = [], []
    for r in rows:
        holder = held.get((r.site, r.district, r.street, r.position))
        if holder and holder != r.pole_id and holder not in in_file:
            bad.append(BadRow(r.line, r.pole_id, f"position {r.position} of {r.street!r} is pole {holder} "
                                                  "in the inventory (not in this file)"))
        else:
            ok.append(r)
    return ok, bad


def import_csv(inv: Inventory, path: Path, mapping: dict[str, str] | None = None,
               site: str | None = None, district: str | None = None, delimiter: str = ",",
               allow_partial: bool = False, actor: str | None = None) -> ImportReport:
    """Import poles; on any bad row nothing is written unless allow_partial (then good rows are)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise CsvLayoutError(f"{path}: not UTF-8 text (byte {e.start}); export the file as UTF-8") from None
    defaults = {k: v for k, v in (("site", site), ("district", district)) if v is not None}
    good, bad, rows = read_rows(text, mapping or {}, defaults, delimiter)
    report = ImportReport(source=str(path), rows=rows)
    good, clashes = _conflicts_with_inventory(inv, good)
    report.bad = sorted(bad + clashes, key=lambda b: b.line)
    if report.bad and not allow_partial:
        return report
    with inv.transaction():
        for r in good:
            _upsert(inv, r, report)
        inv.conn.execute("INSERT INTO imports (at, actor, source, added, updated, skipped) VALUES (?, ?, ?, ?, ?, ?)",
                         (now(), actor or default_actor(), str(path), report.added, report.updated, len(report.bad)))
    report.imported = True
    return report


def _upsert(inv: Inventory, r: _Row, report: ImportReport) -> None:
    places.ensure_site(inv, r.site)
    street_id = places.ensure_street(inv, places.ensure_district(inv, r.site, r.district), r.street)
    attrs = json.dumps(r.attrs, ensure_ascii=False)
    old = inv.one("SELECT street_id, position, lat, lon, attrs FROM poles WHERE id = ?", (r.pole_id,))
    if old is None:
        inv.conn.execute("INSERT INTO poles (id, street_id, position, lat, lon, attrs) VALUES (?, ?, ?, ?, ?, ?)",
                         (r.pole_id, street_id, r.position, r.lat, r.lon, attrs))
        report.added += 1
    elif tuple(old) == (street_id, r.position, r.lat, r.lon, attrs):
        report.unchanged += 1
    else:
        inv.conn.execute("UPDATE poles SET street_id = ?, position = ?, lat = ?, lon = ?, attrs = ? WHERE id = ?",
                         (street_id, r.position, r.lat, r.lon, attrs, r.pole_id))
        report.updated += 1


def export_csv(inv: Inventory, out: io.TextIOBase, mapping: dict[str, str] | None = None,
               site: str | None = None, delimiter: str = ",") -> int:
    """Write poles (import order) with our columns named as in `mapping`, then the GIS's own columns."""
    poles = places.list_poles(inv, site=site)
    extra: dict[str, None] = {}
    for p in poles:
        extra.update(dict.fromkeys(p.attrs))
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow([(mapping or {}).get(c, c) for c in COLUMNS] + list(extra))
    for p in poles:
        writer.writerow([p.id, p.site, p.district, p.street, p.position, repr(p.lat), repr(p.lon)] +
                        [p.attrs.get(k, "") for k in extra])
    return len(poles)
