"""SLIP framing (RFC 1055) as the ROM's serial loader uses it: 0xC0 ends a frame,
0xDB 0xDC stands for 0xC0 and 0xDB 0xDD for 0xDB."""
from __future__ import annotations

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD


def encode(packet: bytes) -> bytes:
    return b"\xc0" + packet.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


class Decoder:
    """Feed bytes as they arrive; get whole frames back. Bytes outside a frame
    (line noise, a terminal's keystrokes) are dropped, as the ROM drops them."""

    def __init__(self):
        self.frame: bytearray | None = None
        self.escaped = False

    def feed(self, data: bytes) -> list[bytes]:
        frames = []
        for b in data:
            if self.frame is None:
                if b == END:
                    self.frame = bytearray()
                continue
            if self.escaped:
                self.escaped = False
                if b == ESC_END:
                    self.frame.append(END)
                elif b == ESC_ESC:
                    self.frame.append(ESC)
                else:                      # a broken escape: the frame is garbage
                    self.frame = None
                continue
            if b == ESC:
                self.escaped = True
            elif b == END:
                if self.frame:
                    frames.append(bytes(self.frame))
                    self.frame = None
                # an empty frame is two ENDs back to back: the second starts the next frame
            else:
                self.frame.append(b)
        return frames
