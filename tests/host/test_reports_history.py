"""History, the energy report (kWh from the boards' own meters, the baseline
from the firmware's solar module, counter resets and replaced boards) and the
operations report (uptime, faults, lamps never seen, firmware versions)."""
import numpy as np
import pytest

from host_tools.inventory import boards, open_inventory
from host_tools.inventory.gis_csv import import_csv
from host_tools.paths import firmware_module
from host_tools.reports.energy import Money, energy_report
from host_tools.fleet.history import History
from host_tools.reports.operations import operations_report
from host_tools.reports.simulate import Incidents, simulate

solar = firmware_module("solar")
tz = firmware_module("tz")
CSV = "pole_id,site,district,street,position,lat,lon,rated_power_w,lamp_type\n" + "".join(
    f"G-{i},lyon,Centre,Rue Garibaldi,{i},45.76{i:02d},4.85{i:02d},{40 + 10 * (i % 2)},LED\n" for i in range(1, 6))
PROGRAM = {"id": "p", "steps": [{"at": "sunset", "level": 100}, {"at": "23:00", "level": 40, "fade": 600},
                                {"at": "05:30", "level": 80}, {"at": "sunrise", "level": 0}]}
TZ = "CET-1CEST,M3.5.0,M10.5.0/3"
DAY0 = tz.days_from_civil(2026, 11, 2)


@pytest.fixture
def inv(tmp_path):
    (tmp_path / "poles.csv").write_text(CSV)
    with open_inventory(tmp_path / "inv.sqlite", create=True) as inv:
        import_csv(inv, tmp_path / "poles.csv")
        for i in range(1, 6):
            chip = f"240ac40000{i:02d}"
            boards.register(inv, chip, "esp32-devkitc")
            boards.bind_pole(inv, chip, f"G-{i}")
        yield inv


def test_kwh_equal_the_meters_across_a_counter_reset_and_a_replaced_board(inv):
    incidents = Incidents(lamp_failed={0: (2, 4)}, meter_reset={1: 3}, replaced={2: 4}, offline={3: 2})
    run = simulate(inv, "lyon", PROGRAM, TZ, DAY0, 7, incidents=incidents)
    report = energy_report(inv, "lyon", DAY0 + 1, DAY0 + 6)
    for lamp in report.lamps:
        t, used = np.array(run["truth"][lamp.pole]).T
        a, b = [(d * 86400 + 43200 - round(lamp_lon(lamp) * 240)) for d in (DAY0 + 1, DAY0 + 6)]
        metered_kwh = (np.interp(b, t, used) - np.interp(a, t, used)) / 1000
        assert lamp.kwh == pytest.approx(metered_kwh, abs=0.002), lamp.pole
    replaced = next(r for r in report.lamps if r.pole == "G-3")
    assert inv.one("SELECT COUNT(*) FROM hist_sources WHERE pole_id = 'G-3'")[0] == 2
    assert replaced.kwh > 0.5 * max(r.kwh for r in report.lamps)          # both boards counted, once
    assert report.total.kwh == pytest.approx(sum(r.kwh for r in report.lamps))


def lamp_lon(lamp):
    return float(f"4.85{int(lamp.pole[2:]):02d}")


def test_baseline_is_rated_power_times_each_poles_dusk_to_dawn(inv):
    report = energy_report(inv, "lyon", DAY0, DAY0 + 3)
    pole = next(r for r in report.lamps if r.pole == "G-2")
    nights = sum(solar.event(solar.SUNRISE, d + 1, 45.7602, 4.8502)[0] - solar.event(solar.SUNSET, d, 45.7602, 4.8502)[0]
                 for d in range(DAY0, DAY0 + 3))
    assert pole.rated_w == 40                                             # from the GIS column
    assert pole.baseline_kwh == pytest.approx(40 * nights / 3600 / 1000, rel=1e-9)
    assert 3 * 14 < nights / 3600 < 3 * 16                               # November nights in Lyon


def test_savings_money_and_co2_follow_the_tariff_and_grid_factor(inv):
    simulate(inv, "lyon", PROGRAM, TZ, DAY0, 4)
    r = energy_report(inv, "lyon", DAY0 + 1, DAY0 + 3, Money(tariff=0.2, currency="EUR", grid_kg_per_kwh=0.05))
    assert 20 < r.total.savings_pct < 60                                  # dimmed to 40 % half the night
    assert r.total.savings_money == pytest.approx(r.total.savings_kwh * 0.2)
    assert r.total.savings_co2_kg == pytest.approx(r.total.savings_kwh * 0.05)
    assert [s.name for s in r.streets] == ["Centre / Rue Garibaldi"]


def test_a_resent_or_replayed_uplink_is_not_counted_twice(inv):
    h = History(inv)
    for t, wh in ((1000, 1.0), (4700, 5.0), (4700, 5.0), (8400, 6.0)):
        h.record("240ac4000001", "tele", {"energy_wh": wh, "ts": t}, t)
    again = History(inv)                                                   # a collector restarted
    again.record("240ac4000001", "tele", {"energy_wh": 6.0, "ts": 8400}, 8400)
    again.record("240ac4000001", "tele", {"energy_wh": 12.0, "ts": 12100}, 12100)
    rows = inv.query("SELECT t, mwh FROM hist_energy ORDER BY t")
    assert [(r["t"], r["mwh"]) for r in rows] == [(1000, 1000), (4700, 5000), (8400, 6000), (12100, 12000)]


def test_a_steady_counter_keeps_only_its_corners(inv):
    h = History(inv)
    for k in range(100):                                    # constant power: one straight line
        h.record("240ac4000001", "tele", {"energy_wh": 0.6 * k, "ts": 300 * k}, 300 * k)
    assert [r["t"] for r in inv.query("SELECT t FROM hist_energy")] == [0, 29700]


def test_a_report_while_the_collector_runs_reads_up_to_the_newest_reading(inv):
    # A failed lamp draws its standby for days: one straight line, no corner kept
    # since the first reading, the newest one still with the collector.
    h = History(inv)
    start = DAY0 * 86400
    for k in range(4 * 96):
        h.record("240ac4000001", "tele", {"energy_wh": 0.15 * k, "ts": start + 900 * k}, start + 900 * k)
    report = energy_report(inv, "lyon", DAY0 + 1, DAY0 + 3)                 # the collector runs on
    lamp = next(r for r in report.lamps if r.pole == "G-1")
    assert lamp.seen
    assert lamp.kwh == pytest.approx(2 * 24 * 0.6 / 1000, rel=0.01)       # 0.6 W for two days


def test_operations_report_uptime_faults_never_seen_and_firmware(inv):
    boards.unbind(inv, "240ac4000005")                                     # G-5 has no board: never seen
    incidents = Incidents(lamp_failed={0: (1, 3)}, offline={1: 2})
    simulate(inv, "lyon", PROGRAM, TZ, DAY0, 5, incidents=incidents)
    r = operations_report(inv, "lyon", DAY0 * 86400, (DAY0 + 5) * 86400)
    assert r.uptime["G-1"] == 1.0 and r.uptime["G-2"] == pytest.approx(4 / 5, abs=1e-6)
    assert r.uptime["G-5"] is None and r.never_seen == ["G-5"]
    assert r.street_uptime["Centre / Rue Garibaldi"] == pytest.approx((1 + 0.8 + 1 + 1) / 4)
    (failed,) = r.faults
    assert (failed.fault, failed.raised, failed.cleared, failed.open) == ("lamp_failed", 1, 1, 0)
    assert failed.median_detect_s == 7 and failed.median_clear_s == 2 * 86400
    assert r.firmware == {"0.1.0": 4}
