"""The MicroPython release each board type runs: pinned in board_configs/micropython/,
fetched once into a cache, checked before it goes near a board."""
