"""GIS CSV import (validation, report, all-or-nothing) and CSV/GeoJSON export (exact round trip)."""
import csv
import io
import json
import random

import pytest
from click.testing import CliRunner

from host_tools.cli import cli
from host_tools.inventory import open_inventory, places
from host_tools.inventory.geojson import export_geojson
from host_tools.inventory.gis_csv import export_csv, import_csv

HEADER = ["pole_id", "site", "district", "street", "position", "lat", "lon", "lamp_type", "height_m"]
STREETS = ["Rue de l'Église", "Königstraße", "Avenue Foch, Nord", "Quai \"Rambaud\"", "Rue Serpenoise"]


def good_rows(n=2000):
    rnd = random.Random(5)
    rows = []
    for i in range(n):
        district = f"District {i // 500 + 1}"
        street = f"{STREETS[(i // 50) % len(STREETS)]} {i // 50}"
        lat, lon = round(49.1 + rnd.uniform(-0.05, 0.05), 7), round(6.17 + rnd.uniform(-0.05, 0.05), 7)
        rows.append([f"MZ-{i:05d}", "metz", district, street, str(i % 50 + 1), repr(lat), repr(lon),
                     rnd.choice(["LED 40W", "LED 60W", "SHP 100W"]), rnd.choice(["6", "8", "10.5"])])
    return rows


def to_csv(rows, delimiter=","):
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter)
    writer.writerows(rows)
    return buf.getvalue()


def spoil(rows):
    """Five bad rows, each wrong in its own way; returns {line: reason fragment}."""
    bad = [list(r) for r in rows]
    bad[10][5] = "91.5"                      # line 12
    bad[250][0] = bad[249][0]                # line 252: duplicate id
    bad[700][4] = "4a"                       # line 702
    bad[1201][4] = bad[1200][4]              # line 1203: the position of line 1202, same street
    bad[1999] = bad[1999][:7]                # line 2001: columns missing
    return bad, {12: "lat '91.5' is outside", 252: "pole id MZ-00249 is also on line 251",
                 702: "position '4a' is not a whole number", 1203: "is also pole MZ-01200 on line 1202",
                 2001: "7 fields where the header has 9"}


@pytest.fixture
def inv(tmp_path):
    with open_inventory(tmp_path / "inv.sqlite", create=True) as inv:
        yield inv


def test_every_bad_row_is_reported_by_line_and_nothing_is_imported(inv, tmp_path):
    rows, expected = spoil(good_rows())
    path = tmp_path / "bad.csv"
    path.write_text(to_csv([HEADER] + rows), encoding="utf-8")
    report = import_csv(inv, path)
    assert not report.imported and report.rows == 2000
    assert [b.line for b in report.bad] == sorted(expected)
    for b in report.bad:
        assert expected[b.line] in b.reason
    assert places.list_poles(inv) == []


def test_the_fixed_file_imports_exactly_and_round_trips_through_export(inv, tmp_path):
    text = to_csv([HEADER] + good_rows())
    path = tmp_path / "poles.csv"
    path.write_bytes(text.encode())
    report = import_csv(inv, path)
    assert (report.imported, report.added, report.bad) == (True, 2000, [])
    out = io.StringIO(newline="")
    assert export_csv(inv, out) == 2000
    assert out.getvalue() == text
    again = import_csv(inv, path)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2000)


def test_geojson_is_a_feature_collection_of_points_at_the_poles(inv, tmp_path):
    rows = good_rows()
    (tmp_path / "poles.csv").write_text(to_csv([HEADER] + rows))
    import_csv(inv, tmp_path / "poles.csv")
    out = io.StringIO()
    export_geojson(inv, out)
    doc = json.loads(out.getvalue())
    assert doc["type"] == "FeatureCollection" and "crs" not in doc   # RFC 7946: WGS 84 implied
    assert len(doc["features"]) == 2000
    by_id = {f["id"]: f for f in doc["features"]}
    for row in rows:
        f = by_id[row[0]]
        assert f["type"] == "Feature" and f["geometry"]["type"] == "Point"
        assert f["geometry"]["coordinates"] == [float(row[6]), float(row[5])]       # lon, lat
        p = f["properties"]
        assert (p["street"], p["position"], p["lamp_type"], p["board_state"]) == (row[3], int(row[4]), row[7], "none")


def test_allow_partial_imports_the_good_rows_only(inv, tmp_path):
    rows, expected = spoil(good_rows(2000))
    (tmp_path / "bad.csv").write_text(to_csv([HEADER] + rows))
    report = import_csv(inv, tmp_path / "bad.csv", allow_partial=True)
    assert report.imported and report.added == 2000 - len(expected) and len(report.bad) == 5
    assert len(places.list_poles(inv)) == 1995


def test_a_gis_layout_maps_in_and_back_out_with_the_same_names(inv, tmp_path):
    gis_header = ["ASSET_NO", "site", "district", "RUE", "ORDRE", "Y", "X", "lamp_type", "height_m"]
    text = to_csv([gis_header] + good_rows(50), delimiter=";")
    (tmp_path / "gis.csv").write_text(text)
    mapping = ["pole_id=ASSET_NO", "street=RUE", "position=ORDRE", "lat=Y", "lon=X"]
    args = ["inventory", "--db", str(inv.path)]
    run = CliRunner().invoke
    result = run(cli, args + ["import", str(tmp_path / "gis.csv"), "--delimiter", ";"]
                 + [x for m in mapping for x in ("--map", m)])
    assert result.exit_code == 0, result.output
    result = run(cli, args + ["export", "-o", str(tmp_path / "back.csv"), "--delimiter", ";"]
                 + [x for m in mapping for x in ("--map", m)])
    assert result.exit_code == 0
    assert (tmp_path / "back.csv").read_bytes() == text.encode()


def test_a_missing_column_is_named_with_the_way_to_map_it(inv, tmp_path):
    (tmp_path / "p.csv").write_text("id,street,position,lat,lon\nP1,Main,1,45.1,4.1\n")
    result = CliRunner().invoke(cli, ["inventory", "--db", str(inv.path), "import", str(tmp_path / "p.csv")])
    assert result.exit_code == 3
    assert "missing pole_id (column 'pole_id'), site" in result.stderr and "--map" in result.stderr


def test_a_position_held_by_another_pole_in_the_inventory_is_a_bad_row(inv, tmp_path):
    (tmp_path / "a.csv").write_text("pole_id,site,district,street,position,lat,lon\nP1,metz,D,Main,1,49.1,6.1\n")
    import_csv(inv, tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("pole_id,site,district,street,position,lat,lon\nP2,metz,D,Main,1,49.2,6.2\n")
    report = import_csv(inv, tmp_path / "b.csv")
    assert [(b.line, b.pole_id) for b in report.bad] == [(2, "P2")]
    assert "is pole P1 in the inventory" in report.bad[0].reason
    assert [p.id for p in places.list_poles(inv)] == ["P1"]


def test_cli_report_names_each_bad_line_and_exits_1(inv, tmp_path):
    rows, expected = spoil(good_rows())
    (tmp_path / "bad.csv").write_text(to_csv([HEADER] + rows))
    run = CliRunner().invoke
    result = run(cli, ["inventory", "--db", str(inv.path), "import", str(tmp_path / "bad.csv"), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["imported"] is False and [b["line"] for b in report["bad"]] == sorted(expected)
    human = run(cli, ["inventory", "--db", str(inv.path), "import", str(tmp_path / "bad.csv")])
    assert human.exit_code == 1 and "nothing imported" in human.stdout
    for line in expected:
        assert f"│ {line} " in human.stdout
