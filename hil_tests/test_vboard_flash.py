"""The board's flash is a LittleFS image, as on the chip: what the board, mpremote
and the host write is found by littlefs-python, and power cuts in the middle of
writes leave a filesystem that mounts."""
import random
import time

import pytest

from hil_tests.support.firmware import mpremote
from hil_tests.rig.virtual import write_flash
from host_tools.vboard.flash import FlashError, FlashImage

pytestmark = [pytest.mark.needs_board_spawn, pytest.mark.needs_flash, pytest.mark.needs_power_cut]

WRITER = """\
import os
try:
    with open("state.txt") as f:   # go on where the last boot was cut,
        n = int(f.read(8).split()[0])
    with open("log.txt", "a") as f:   # the log ending at that state
        f.write("%d\\n" % n)
except OSError:
    n = 0
print("writing from", n)
while True:
    n += 1
    with open("state.tmp", "w") as f:
        f.write(("%d " % n) * 300)
    os.rename("state.tmp", "state.txt")
    with open("log.txt", "a") as f:
        f.write("%d\\n" % n)
    if n % 50 == 0:
        os.remove("log.txt")
"""


def test_what_the_board_and_mpremote_write_is_in_the_littlefs_image(rig, tmp_path):
    (board,) = rig.start("fs", heap="96k")
    src = tmp_path / "notes.txt"
    src.write_bytes(bytes(range(256)) * 20)
    mpremote(board.port, "fs", "mkdir", ":data")
    mpremote(board.port, "fs", "cp", str(src), ":data/notes.txt")
    mpremote(board.port, "exec", "import os\nwith open('a.tmp', 'w') as f:\n    f.write('{\"level\": 40}')\nos.rename('/a.tmp', '/state.json')\n"
             "f = open('log.txt', 'a'); f.write('one\\n'); f.close()\nf = open('log.txt', 'a'); f.write('two\\n'); f.close()")
    with FlashImage(board.flash) as flash:
        assert flash.files() == {"data/notes.txt": 5120, "state.json": 13, "log.txt": 8}
        assert flash.read("data/notes.txt") == src.read_bytes()
        assert flash.read("log.txt") == b"one\ntwo\n"


def test_the_host_writes_the_flash_only_while_the_board_is_off(rig):
    (board,) = rig.start("prog", heap="96k")
    with pytest.raises(FlashError, match="in use by a running vboard"):
        write_flash(board.flash, {"x.py": "X = 1"})
    board.rewrite_flash({"x.py": "X = 42\n"})
    assert mpremote(board.port, "exec", "import x; print(x.X)").stdout.strip() == "42"


# Rewrites a small file (inline in its directory's metadata) until one rewrite
# is the last commit of a metadata block, its data within the block's last 64
# bytes: the lengths alternate so the commits land at every 32-byte offset.
AT_BLOCK_END = """\
from flashbdev import bdev
tail = bytearray(64)
for i in range(2000):
    data = b"%04d" % i * (9 if i % 3 else 5)
    with open("small.txt", "wb") as f:
        f.write(data)
    if len(data) > 32 and any(bdev.readblocks(b, tail, 4096 - 64) or bytes(tail).find(data) > 0 for b in (0, 1)):
        print("at", i)
        break
"""


def test_a_small_file_the_board_wrote_at_a_metadata_block_end_reads_on_the_host(rig):
    """The host reads with the board's littlefs configuration: with a smaller
    cache than the board's, this read failed with LFS_ERR_CORRUPT."""
    (board,) = rig.start("tail", heap="96k")
    out = mpremote(board.port, "exec", AT_BLOCK_END).stdout.split()
    assert out[:1] == ["at"], "no rewrite ended a metadata block"
    with FlashImage(board.flash) as flash:
        assert flash.read("small.txt") == b"%04d" % int(out[1]) * 9


def test_power_cuts_in_the_middle_of_writes_leave_a_mountable_flash(rig):
    (board,) = rig.start("cut", heap="96k", files={"main.py": WRITER})
    rng = random.Random(7)
    seen = set()
    with board.control() as c:
        since = 0
        for i in range(25):
            c.wait_console("writing from", since)   # a loaded host boots slower: wait for the writer
            time.sleep(rng.uniform(0.02, 0.2))
            if i % 2:   # while the chip erases a block: where a cut most often lands on a chip
                assert c.power_cut(during="erase") == "erase"
            else:       # anywhere, a program part-done included
                c.power_cut()
            with FlashImage(board.flash) as flash:   # raises if littlefs cannot mount it
                state = flash.read("state.txt").split()
                assert len(state) == 300 and len(set(state)) == 1, "a half-written state survived the cut"
                seen.add(state[0])
                _check_log(flash.read("log.txt") if flash.exists("log.txt") else b"", int(state[0]))
            _, since = c.console()
            c.power_on()
    assert len(seen) > 10   # the cuts did land at different points of the writing (it goes on from each)


def _check_log(log: bytes, state: int) -> None:
    """The log holds whole lines, the last one for the state on flash or the
    one before (each state is renamed into place, then logged). It is empty only
    where the writer had just removed it: an append that creates the file
    commits the empty file first, as littlefs does on the chip."""
    if not log:
        assert state % 50 in (0, 1), f"log.txt lost its lines at state {state}"
        return
    assert log.endswith(b"\n"), "a half-written line survived the cut"
    last = int(log.split()[-1])
    assert last in (state - 1, state) or state == 1, f"log.txt ends at {last} with state {state} on flash"
