# ESP32 `flashbdev` for the vboard: the board's `vfs` flash partition (2 MB of
# 4096-byte erase blocks, as on a 4 MB ESP32 module) held in an image file that
# the supervisor keeps at full size, for vfs.VfsLfs2 to mount at / as the esp32
# port's _boot.py does. Erase fills a block with 0xFF and is reported to the
# supervisor, which counts flash wear.
#
# Each program and erase is first written to the chip's status file (what, where,
# and a program's bytes), and marked done after: when power is cut with one in
# progress, the supervisor leaves it part-done as a chip does
# (host_tools/vboard/flash_chip.py).
import uos
import ustruct
import _vbus

BLOCK = 4096
BLOCKS = 512
_FF = b"\xff" * 64  # a constant: frozen, so it takes no heap
_PROGRAM, _ERASE = 1, 2
_IDLE = b"\x00"


class FileFlash:
    def __init__(self, path, status):
        self._f = open(path, "r+b")
        self._s = open(status, "r+b")
        self._head = bytearray(12)  # kind, 3 bytes padding, address, length

    def _begin(self, kind, addr, length, data=None):
        s = self._s
        if data is not None:  # the bytes first: the status says "in progress" once they are there
            s.seek(12)
            s.write(data)
        ustruct.pack_into("<BxxxII", self._head, 0, kind, addr, length)
        s.seek(0)
        s.write(self._head)

    def _done(self):
        self._s.seek(0)
        self._s.write(_IDLE)

    def readblocks(self, n, buf, off=0):
        self._f.seek(n * BLOCK + off)
        self._f.readinto(buf)

    def writeblocks(self, n, buf, off=None):
        if off is None:  # the simple protocol: erase, then program whole blocks
            for i in range(len(buf) // BLOCK):
                self.ioctl(6, n + i)
            off = 0
        addr = n * BLOCK + off
        self._begin(_PROGRAM, addr, len(buf), buf)
        self._f.seek(addr)
        self._f.write(buf)
        self._done()

    def ioctl(self, op, arg):
        if op == 3:  # sync: what is programmed is on the flash (the image file)
            self._f.flush()
        elif op == 4:
            return BLOCKS
        elif op == 5:
            return BLOCK
        elif op == 6:  # erase: the chip is busy for a while (the supervisor counts it meanwhile)
            self._begin(_ERASE, arg * BLOCK, BLOCK)
            _vbus.call("ERASE")
            self._f.seek(arg * BLOCK)
            for _ in range(BLOCK // len(_FF)):
                self._f.write(_FF)
            self._done()
        return 0


bdev = FileFlash(uos.getenv("VBOARD_FLASH"), uos.getenv("VBOARD_FLASH_STATUS"))
