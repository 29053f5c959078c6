# Under CPython, firmware modules import as on the board: firmware/ on the path.
import sys
from pathlib import Path

FIRMWARE = str(Path(__file__).resolve().parents[2] / "firmware")
if FIRMWARE not in sys.path:
    sys.path.insert(0, FIRMWARE)
