"""The app slot's copy in the ROMFS partition, made by the loader (firmware/slotrom.py)."""
import random
import time

import pytest
from mpremote.romfs import make_romfs

from hil_tests.support.firmware import bundle_files, firmware_bundle, mpremote
from hil_tests.support.lamp import lamp_config
from host_tools.vboard.flash import ROMFS_BYTES, FlashImage

pytestmark = [pytest.mark.needs_board_spawn, pytest.mark.needs_flash, pytest.mark.needs_power_cut]

HEADER = b"\xd2\xcd\x31"
BLOCK = 4096   # the partition's erase block


def fresh_partition(board):
    """An erased ROMFS partition, and the loader's note of a finished copy gone with it
    (a cut can land between that note and the reset that mounts the copy)."""
    (board.flash.parent / "flash.romfs").write_bytes(b"\xff" * ROMFS_BYTES)
    with FlashImage(board.flash) as flash:
        if flash.exists("rom.copied"):
            flash.remove("rom.copied")


def wait_programmed(partition, block, blocks, timeout=20.0):
    """Until the copy has programmed `block` of the image (the last, `blocks`, is its header)."""
    deadline = time.monotonic() + timeout
    while True:
        image = partition.read_bytes()   # the partition is a file the board maps, as the chip its flash
        if image.startswith(HEADER) or (block < blocks and image[block * BLOCK:(block + 1) * BLOCK] != b"\xff" * BLOCK):
            return
        assert time.monotonic() < deadline, f"the copy never programmed block {block}"
        time.sleep(0.0005)


def test_a_power_cut_during_the_romfs_copy_never_leaves_a_torn_image_and_the_board_copies_again(rig, tmp_path):
    # The loader copies the slot into an erased partition at boot; the supply
    # is cut at random points of that copy. After each cut the partition holds
    # no ROMFS at all (its header is programmed last) or the whole copy,
    # byte for byte what mpremote's own ROMFS builder makes of the slot; and
    # the board, powered on, copies again and runs its app from /rom.
    bundle = firmware_bundle(tmp_path, lamp_config("240ac4000000", 1))   # no broker: the app runs offline
    files = bundle_files(bundle)
    expected = make_romfs(str(bundle / "app" / "a"), mpy_cross=False)
    (board,) = rig.start("romcut", files=files)   # the firmware with ROMFS, its partition erased
    partition = board.flash.parent / "flash.romfs"
    blocks = -(-len(expected) // BLOCK)
    rng = random.Random(11)
    # each cut once the copy has programmed a random block of its image, or once it is whole:
    # by the copy's progress, not by time, which a loaded host stretches
    targets = [rng.randrange(1, blocks) for _ in range(10)] + [blocks, blocks]
    seen = set()
    with board.control() as c:
        c.wait_for(lambda s: s["running"], what="boot")
        for target in targets:
            c.power_cut()
            fresh_partition(board)   # the next boot copies
            _, since = c.console()
            c.power_on()
            c.wait_console("copying app", since)
            wait_programmed(partition, target, blocks)
            c.power_cut()
            image = partition.read_bytes()
            if image.startswith(HEADER):
                assert image[:len(expected)] == expected, "a ROMFS image that differs from the slot's"
                seen.add("whole")
            else:
                assert image[:BLOCK] == b"\xff" * BLOCK, "the first block was programmed before the copy ended"
                seen.add("part")
        c.power_on()
        c.wait_for(lambda s: s["running"], what="boot")
    assert seen == {"part", "whole"}, f"the cuts did not land both inside and after the copy: {seen}"
    out = mpremote(board.port, "exec", "import lampctl; print(lampctl.__file__)").stdout.split()
    assert out == ["/rom/lampctl/__init__.mpy"]
    assert partition.read_bytes()[:len(expected)] == expected
