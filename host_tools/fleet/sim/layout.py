"""A made-up district for the simulator, tests and benches: a GIS CSV of poles
in the format `pilotlight inventory import` reads."""
from __future__ import annotations

from pathlib import Path

from .lamp import RATED_W


def district_csv(path: Path, site: str, lamps: int, districts: int = 2, street_len: int = 50,
                 lat: float = 48.85, lon: float = 2.30, prefix: str = "S") -> Path:
    """`lamps` poles, `street_len` per street, streets shared out over `districts`."""
    rows = ["pole_id,site,district,street,position,lat,lon,lamp_type,rated_power_w"]
    streets = max(1, -(-lamps // street_len))
    for i in range(lamps):
        street, pos = divmod(i, street_len)
        district = street * districts // streets
        rows.append(f"{prefix}{i:05d},{site},District {district + 1},Street {street + 1},{pos + 1},"
                    f"{lat + street * 0.002:.6f},{lon + pos * 0.0004:.6f},LED,{RATED_W:g}")
    path.write_text("\n".join(rows) + "\n")
    return path
