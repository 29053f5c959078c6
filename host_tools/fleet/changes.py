"""What a roll-out changes, as a plug-in: each kind says which command carries
it to a board, how a board's reported state shows it took it, what to record
of the board beforehand, and how to put that back.

    register("firmware", FirmwareChange)    # e.g. OTA campaigns, from their own module

A kind's `to_dict()` is what the roll-out keeps in the database; `from_dict`
makes it again when a roll-out is resumed."""
from __future__ import annotations

from ..inventory.db import Inventory
from . import programs
from .board_view import BoardView

KINDS: dict[str, type] = {}


def register(kind: str, cls: type) -> None:
    KINDS[kind] = cls


def from_dict(d: dict):
    if d.get("kind") == "firmware":
        from ..release import campaign  # noqa: F401 (registers the OTA kind)
    cls = KINDS.get(d.get("kind"))
    if cls is None:
        raise ValueError(f"change kind {d.get('kind')!r}: one of {', '.join(sorted(KINDS))}")
    return cls.from_dict(d)


class ProgramChange:
    kind = "program"

    def __init__(self, doc: dict):
        self.doc = programs.check(doc)
        self.hash = programs.digest(doc)

    @classmethod
    def from_dict(cls, d: dict) -> "ProgramChange":
        return cls(d["program"])

    def to_dict(self) -> dict:
        return {"kind": self.kind, "program": self.doc}

    def describe(self) -> str:
        return f"program {self.doc['id']} ({self.hash})"

    def prepare(self, inv: Inventory) -> None:
        programs.remember(inv, self.doc)

    def command(self) -> tuple[str, dict]:
        return "program", {"program": self.doc}

    def taken(self, view: BoardView | None) -> bool | None:
        """True/False when the board's reported state tells; None when it cannot."""
        if view is None or view.state_at is None:
            return None
        return view.program_hash == self.hash

    def previous(self, view: BoardView | None, settings: dict) -> dict:
        return {"program": view.program if view else None, "program_hash": view.program_hash if view else None}

    def revert(self, inv: Inventory, previous: dict) -> tuple[str, dict] | str:
        """The command that puts `previous` back, or why it cannot be done."""
        h = previous.get("program_hash")
        if not h:
            return "it ran no program before, and no command removes one"
        doc = programs.get(inv, h)
        if doc is None:
            return f"its previous program {previous.get('program')} ({h}) is not in the fleet's library"
        return "program", {"program": doc}

    def reverted(self, view: BoardView | None, previous: dict) -> bool | None:
        if view is None or view.state_at is None:
            return None
        return view.program_hash == previous.get("program_hash")


class ConfigChange:
    """Settings (commands.CONFIG_KEYS). What a board had before is taken from
    its desired settings (the board reports only a digest of them)."""
    kind = "config"

    def __init__(self, settings: dict):
        from .desired import check_value
        if not settings:
            raise ValueError("set: no settings given")
        for k, v in settings.items():
            check_value(k, v)
        self.settings = settings

    @classmethod
    def from_dict(cls, d: dict) -> "ConfigChange":
        return cls(d["set"])

    def to_dict(self) -> dict:
        return {"kind": self.kind, "set": self.settings}

    def describe(self) -> str:
        return "settings " + ", ".join(f"{k}={v}" for k, v in self.settings.items())

    def prepare(self, inv: Inventory) -> None:
        pass

    def command(self) -> tuple[str, dict]:
        return "config", {"set": self.settings}

    def taken(self, view: BoardView | None) -> bool | None:
        return None   # a digest of all settings: the ack says it

    def previous(self, view: BoardView | None, settings: dict) -> dict:
        return {"set": {k: settings.get(k) for k in self.settings if settings.get(k) is not None},
                "config_hash": view.config_hash if view else None}

    def revert(self, inv: Inventory, previous: dict) -> tuple[str, dict] | str:
        if not previous.get("set"):
            return "its previous settings are not known"
        return "config", {"set": previous["set"]}

    def reverted(self, view: BoardView | None, previous: dict) -> bool | None:
        if view is None or view.state_at is None or not previous.get("config_hash"):
            return None
        return view.config_hash == previous["config_hash"]


register("program", ProgramChange)
register("config", ConfigChange)
