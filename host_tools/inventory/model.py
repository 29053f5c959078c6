"""What the inventory holds, as plain records, and the board life cycle."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

STATES = ("new", "provisioned", "commissioned", "retired")

# new -> provisioned -> commissioned -> retired. A board whose flash is being
# rewritten goes back to `new` until the new bundle is verified; a retired board
# can be reinstated (it starts again as `new`, with fresh credentials).
TRANSITIONS = {
    "new": {"provisioned", "retired"},
    "provisioned": {"new", "commissioned", "retired"},
    "commissioned": {"new", "provisioned", "retired"},
    "retired": {"new"},
}


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    tz: str | None


@dataclass(frozen=True)
class Pole:
    id: str
    site: str
    district: str
    street: str
    position: int
    lat: float
    lon: float
    attrs: dict = field(default_factory=dict)
    street_group: str = ""
    district_group: str = ""
    board: str | None = None   # chip id of the board on it, if any

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Board:
    chip_id: str
    device_id: str
    board_type: str
    firmware_version: str | None
    state: str
    pole_id: str | None
    site: str | None
    created_at: str
    created_by: str
    state_at: str
    state_by: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Event:
    at: str
    actor: str
    kind: str
    detail: dict

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Attempt:
    id: int
    chip_id: str
    started_at: str
    actor: str
    port: str | None
    finished_at: str | None
    ok: bool | None
    step: str | None
    detail: dict

    def to_dict(self) -> dict:
        return asdict(self)
