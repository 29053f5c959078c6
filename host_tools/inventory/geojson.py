"""Poles as GeoJSON (RFC 7946): a FeatureCollection of Points, WGS 84 lon/lat,
one feature per line so the file diffs well. QGIS opens it as a point layer."""
from __future__ import annotations

import io
import json

from . import boards, places
from .db import Inventory


def pole_features(inv: Inventory, site: str | None = None) -> list[dict]:
    states = {b.chip_id: b for b in boards.list_boards(inv, site=site)}
    features = []
    for p in places.list_poles(inv, site=site):
        board = states.get(p.board) if p.board else None
        properties = {"pole_id": p.id, "site": p.site, "district": p.district, "street": p.street,
                      "position": p.position, "street_group": p.street_group,
                      "device_id": board.device_id if board else None,
                      "board_state": board.state if board else "none"}
        properties.update((k, v) for k, v in p.attrs.items() if k not in properties)
        features.append({"type": "Feature", "id": p.id,
                         "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
                         "properties": properties})
    return features


def export_geojson(inv: Inventory, out: io.TextIOBase, site: str | None = None) -> int:
    features = pole_features(inv, site)
    out.write('{"type": "FeatureCollection", "features": [\n')
    out.write(",\n".join(json.dumps(f, ensure_ascii=False) for f in features))
    out.write("\n]}\n")
    return len(features)
