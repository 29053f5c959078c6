# ESP32 `flashbdev` for the vboard: the board's `vfs` flash partition (2 MB of
# 4096-byte erase blocks, as on a 4 MB ESP32 module) held in an image file that
# the supervisor keeps at full size, for vfs.VfsLfs2 to mount at / as the esp32
# port's _boot.py does. Erase fills a block with 0xFF and is reported to the
# supervisor, which counts flash wear.
import uos
import _vbus

BLOCK = 4096
BLOCKS = 512
_FF = b"\xff" * 64  # a constant: frozen, so it takes no heap


class FileFlash:
    def __init__(self, path):
        self._f = open(path, "r+b")

    def readblocks(self, n, buf, off=0):
        self._f.seek(n * BLOCK + off)
        self._f.readinto(buf)

    def writeblocks(self, n, buf, off=None):
        if off is None:  # the simple protocol: erase, then program whole blocks
            for i in range(len(buf) // BLOCK):
                self.ioctl(6, n + i)
            off = 0
        self._f.seek(n * BLOCK + off)
        self._f.write(buf)

    def ioctl(self, op, arg):
        if op == 3:  # sync: what is programmed is on the flash (the image file)
            self._f.flush()
        elif op == 4:
            return BLOCKS
        elif op == 5:
            return BLOCK
        elif op == 6:  # erase
            self._f.seek(arg * BLOCK)
            for _ in range(BLOCK // len(_FF)):
                self._f.write(_FF)
            _vbus.call("ERASE")
        return 0


bdev = FileFlash(uos.getenv("VBOARD_FLASH"))
