"""The fleet inventory: sites, districts, streets, poles, boards and groups in one SQLite file.

    from host_tools.inventory import open_inventory, boards, places, groups
    with open_inventory(path) as inv:
        board = boards.register(inv, chip_id, "esp32-devkitc")
        board = boards.bind_next_free_pole(inv, board.chip_id, street="Main Street")
"""
from . import boards, groups, places
from .db import Inventory, default_actor, default_path, open_inventory
from .errors import Conflict, InvalidName, InventoryError, NotFound
from .model import STATES, TRANSITIONS, Attempt, Board, Event, Pole, Site

__all__ = ["boards", "groups", "places", "Inventory", "default_actor", "default_path", "open_inventory",
           "Conflict", "InvalidName", "InventoryError", "NotFound", "STATES", "TRANSITIONS",
           "Attempt", "Board", "Event", "Pole", "Site"]
