"""The scale-up case: the pilot's measured figures carried onto a target, as
JSON and as an HTML document that a headless Chromium renders with its plots."""
import json
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from host_tools.cli import cli
from host_tools.inventory import boards, open_inventory
from host_tools.inventory.gis_csv import import_csv
from host_tools.paths import firmware_module
from host_tools.reports.simulate import Incidents, simulate

tz = firmware_module("tz")
PILOT = "".join(f"P-{i},lyon,Centre,Rue Garibaldi,{i},45.76{i:02d},4.8500,{60 if i % 2 else 40},LED\n"
                for i in range(1, 7))
TARGET = "".join(f"T-{i},lyon,Confluence,Street {i % 4},{i},45.74{i % 90:02d},4.8200,{(60, 40, 100)[i % 3]},LED\n"
                 for i in range(1, 41))
PROGRAM = {"id": "p", "steps": [{"at": "sunset", "level": 100}, {"at": "22:30", "level": 40, "fade": 600},
                                {"at": "sunrise", "level": 0}]}
DAY0 = tz.days_from_civil(2026, 11, 2)


@pytest.fixture
def site(tmp_path):
    path = tmp_path / "inv.sqlite"
    (tmp_path / "poles.csv").write_text("pole_id,site,district,street,position,lat,lon,rated_power_w,lamp_type\n"
                                        + PILOT + TARGET)
    with open_inventory(path, create=True) as inv:
        import_csv(inv, tmp_path / "poles.csv")
        for i in range(1, 7):
            boards.register(inv, f"240ac40001{i:02d}", "esp32-devkitc")
            boards.bind_pole(inv, f"240ac40001{i:02d}", f"P-{i}")
        simulate(inv, "lyon", PROGRAM, "CET-1CEST,M3.5.0,M10.5.0/3", DAY0, 8, street="Rue Garibaldi",
                 incidents=Incidents.typical(6))
    return path


def _scale_up(site, tmp_path, *extra):
    out = tmp_path / "case.html"
    run = CliRunner().invoke(cli, ["report", "scale-up", "--site", "lyon", "--inventory", str(site), "--pilot",
                                   "Rue Garibaldi", "--target", "Confluence", "--from", "2026-11-03", "--to",
                                   "2026-11-09", "--tariff", "0.2", "--grid-factor", "0.05", "--controller-cost",
                                   "80", "--install-cost", "40", "-o", str(out), "--json", *extra])
    assert run.exit_code == 0, run.output
    return json.loads(run.output), out


def test_projection_carries_each_lamp_types_measured_share_and_flags_the_rest(site, tmp_path):
    case, _ = _scale_up(site, tmp_path)
    measured = {m["rated_w"]: m for m in case["measured"]}
    assert set(measured) == {40.0, 60.0} and case["target_lamps"] == 40
    for p in case["projected"]:
        share = measured.get(p["rated_w"])
        if share:
            assert p["saved_kwh_year"] == pytest.approx(p["baseline_kwh_year"] * share["share_mean"])
            assert p["saved_kwh_year_low"] <= p["saved_kwh_year"] <= p["saved_kwh_year_high"]
            assert "pilot LED" in p["source"]
        else:                                                   # the 100 W lamps were never in the pilot
            assert p["rated_w"] == 100 and "not in the pilot" in p["source"]
    h = case["headline"]
    assert h["saved_kwh_year"] == pytest.approx(sum(p["saved_kwh_year"] for p in case["projected"]))
    assert h["investment"] == 40 * 120
    assert h["payback_years"] == pytest.approx(4800 / (h["saved_kwh_year"] * 0.2))
    assert 2500 < sum(p["baseline_kwh_year"] for p in case["projected"]) / 40 / 0.066 < 4800   # hours of night a year


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed (make setup)")
def test_the_document_renders_in_a_browser_with_its_plots_and_the_json_figures(site, tmp_path):
    case, out = _scale_up(site, tmp_path)
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          f"--user-data-dir={tmp_path / 'chrome'}", "--dump-dom", out.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    sizes = re.findall(r'data-rendered="(\d+)x(\d+)"', dom)
    assert len(sizes) == 3 and all(int(w) > 300 and int(h) > 100 for w, h in sizes), sizes
    shown = dict(re.findall(r'data-figure="(\w+)"><b>([^<]+)</b>', dom))
    h = case["headline"]
    assert shown["saved_kwh_year"] == f"{h['saved_kwh_year']:,.0f} kWh"
    assert shown["target_lamps"] == "40"
    assert shown["payback_years"] == f"{h['payback_years']:,.1f} years"
    assert shown["saved_co2_t_year"] == f"{h['saved_co2_t_year']:,.1f} t CO₂"
    assert shown["pilot_savings_pct"] == f"{h['pilot_savings_pct']:,.1f} %"


def test_a_target_that_is_neither_street_nor_district_nor_file_is_a_clear_error(site, tmp_path):
    run = CliRunner().invoke(cli, ["report", "scale-up", "--site", "lyon", "--inventory", str(site), "--pilot",
                                   "Rue Garibaldi", "--target", "Atlantis", "--from", "2026-11-03", "--to",
                                   "2026-11-09"])
    assert run.exit_code == 2 and "'Atlantis' is neither a street nor a district of site 'lyon'" in run.output


def test_a_target_from_a_gis_file_is_counted_by_kind_and_a_bad_row_is_named(site, tmp_path):
    target = tmp_path / "target.csv"
    target.write_text("pole_id,site,district,street,position,lat,lon,rated_power_w,lamp_type\n"
                      + "".join(f"N-{i},nancy,Nord,Rue {i % 3},{i},48.69,6.18,{(60, 40)[i % 2]},LED\n"
                                for i in range(1, 101)))
    case, _ = _scale_up(site, tmp_path, "--target", str(target))
    assert case["target_lamps"] == 100
    assert {p["rated_w"]: p["lamps"] for p in case["projected"]} == {40.0: 50, 60.0: 50}
    target.write_text(target.read_text().replace("N-7,nancy,Nord,Rue 1,7,48.69", "N-7,nancy,Nord,Rue 1,7,148.69"))
    run = CliRunner().invoke(cli, ["report", "scale-up", "--site", "lyon", "--inventory", str(site), "--pilot",
                                   "Rue Garibaldi", "--target", str(target), "--from", "2026-11-03", "--to",
                                   "2026-11-09"])
    assert run.exit_code == 2 and f"{target}: line 8:" in run.output
