"""The vboard is ESP32-shaped where the firmware can tell: word size, small-int
range, float format, platform, a GC heap of exactly the size asked for, the
ESP32 modules frozen in (no heap for their code), and a LittleFS flash."""
import pytest

from hil_tests.support.firmware import mpremote

pytestmark = pytest.mark.needs_board_spawn   # boards of a chosen heap

SHAPE = "import sys, gc\nprint(sys.maxsize, 1/3, sys.platform, gc.mem_free() + gc.mem_alloc())"


@pytest.mark.parametrize("heap, total", [("96k", 96 * 1024), ("64k", 64 * 1024), ("200k", 200 * 1024)])
def test_word_size_floats_platform_and_heap_as_on_the_chip(rig, heap, total):
    (board,) = rig.start("shape", heap=heap)
    out = mpremote(board.port, "exec", SHAPE).stdout.split()
    assert out == ["2147483647", "0.33333334", "esp32", str(total)]


def test_a_unix_time_is_a_big_int_and_a_float_of_it_loses_seconds(rig):
    (board,) = rig.start("bigint", heap="96k")
    code = ("import gc\nt = 1795800000\ngc.collect(); gc.disable(); a = gc.mem_alloc()\n"
            "u = t + 1\nprint(gc.mem_alloc() - a > 0, float(t) == float(t + 1), int(float(t)) - t)")
    # 1795800000 is 1795800064 in a 32-bit float
    # above 2^30 an int is heap-allocated, and a single-precision float resolves 128 s there
    assert mpremote(board.port, "exec", code).stdout.split() == ["True", "True", "64"]


def test_esp32_modules_are_frozen_in_and_override_the_unix_ones(rig):
    (board,) = rig.start("frozen", heap="96k")
    code = ("import machine, network, esp32, time, os\n"
            "print(machine.__file__, hasattr(machine, 'WDT'), network.WLAN().config('mac').hex()[:6], os.listdir('/'))")
    out = mpremote(board.port, "exec", code).stdout.split()
    assert out[:3] == ["shims/machine.py", "True", "240ac4"]   # a frozen module
    assert out[3] == "[]"   # nothing of the vboard's own on the board's flash


def test_a_romfs_partition_is_written_as_flash_and_refuses_what_flash_would(rig):
    # A firmware with a `romfs` partition: as on the chip, vfs.rom_ioctl(2, 0)
    # is the partition, written through its block-device methods (the ROMFS
    # write ioctls are refused); an erase sets whole blocks to 0xff, a program
    # can only clear bits, and nothing lands outside the partition
    # (mpremote romfs deploy and the loader's ROMFS build rely on all of it).
    (board,) = rig.start("rom", heap="96k", romfs=b"")
    code = ("import vfs\nd = vfs.rom_ioctl(2, 0)\n"
            "print(vfs.rom_ioctl(1), len(memoryview(d)), d.ioctl(4, 0), d.ioctl(5, 0), vfs.rom_ioctl(3, 0, 4096))\n"
            "d.ioctl(6, 0); d.writeblocks(0, b'\\xf0\\x0f\\xff\\xff', 0); d.writeblocks(0, b'\\x0f\\xff\\xff\\xff', 0)\n"
            "print(bytes(memoryview(d)[:4]).hex())\n"
            "def refused(f, *a):\n"
            " try:\n  f(*a)\n except OSError as e:\n  return e.errno\n"
            "print(refused(d.writeblocks, 31, b'abcd', 4094), refused(d.ioctl, 6, 32), refused(d.writeblocks, 0, b'ab'))\n"
            "d.writeblocks(0, bytes(4096)); d.ioctl(6, 0); print(bytes(memoryview(d)[:4]).hex())")
    out = mpremote(board.port, "exec", code).stdout.split()
    assert out[:5] == ["1", str(128 * 1024), "32", "4096", "-22"]   # one 128 KB partition of 4 KB blocks; no write ioctl
    assert out[5] == "000fffff"                                    # programmed twice: only cleared bits stay
    assert out[6:9] == ["22", "22", "22"]                          # past its end; an erase past it, or not of whole blocks
    assert out[9] == "ffffffff"                                    # erased again
