"""The firmware's POSIX TZ code against Python's zoneinfo, every hour of
2026-2035, for real zones: the TZ string is the footer of the zone's own tzdata
file (the string a provisioning tool would put in a board's config)."""
import datetime as dt
import sys
import zoneinfo
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "firmware"))
from lampctl.tz import TZ  # noqa: E402

ZONES = [
    "Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Santiago",
    "Pacific/Auckland", "Asia/Kolkata", "America/St_Johns", "Asia/Jerusalem",
    "America/Nuuk", "Europe/Dublin", "Pacific/Chatham", "Asia/Tokyo",
    "America/Havana", "Australia/Lord_Howe", "Africa/Cairo", "Africa/Johannesburg",
]
START = int(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp())
END = int(dt.datetime(2036, 1, 1, tzinfo=dt.timezone.utc).timestamp())
EPOCH = dt.datetime(1970, 1, 1)


def posix_footer(zone):
    for root in zoneinfo.TZPATH:
        path = Path(root) / zone
        if path.exists():
            return path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[1].decode()
    pytest.skip(f"{zone}: no tzdata file")


@pytest.mark.parametrize("zone", ZONES)
def test_every_hour_matches_zoneinfo(zone):
    tz, zi = TZ(posix_footer(zone)), zoneinfo.ZoneInfo(zone)
    wrong_offsets, wrong_instants = [], []
    for u in range(START, END, 3600):
        want = int(dt.datetime.fromtimestamp(u, zi).utcoffset().total_seconds())
        if tz.offset(u) != want:
            wrong_offsets.append(u)
        # local -> UTC for every wall-clock hour and half hour, gaps and repeats
        # included: zoneinfo's fold=0 is the behaviour the firmware documents
        for local in (u, u + 1800):
            naive = EPOCH + dt.timedelta(seconds=local)
            if tz.to_utc(local) != int(naive.replace(tzinfo=zi).timestamp()):
                wrong_instants.append(local)
    assert not wrong_offsets and not wrong_instants, (zone, wrong_offsets[:3], wrong_instants[:3])


def test_the_set_covers_what_the_issue_asks_for():
    specs = {z: posix_footer(z) for z in ZONES}
    assert len(specs) >= 8
    assert any("," not in s for s in specs.values())                  # no DST
    assert "AEST-10AEDT,M10.1.0,M4.1.0/3" in specs.values()           # southern hemisphere
    assert any("/-" in s for s in specs.values())                     # negative rule time
    assert "IST-2IDT,M3.4.4/26,M10.5.0" in specs.values()             # extended rule time (26 h)
