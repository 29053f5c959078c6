"""Printable labels: a QR code with the pole id and device id, and the same in text.

The QR code holds `pilotlight:<site>/<pole>[/<device>]`; scanning a pole's label
into `provision --pole-label` binds the board on the bench to that pole.
SVG labels carry the text under the code; PNG labels (no font renderer is
installed) carry the code alone, with the ids in the file name."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path
from xml.sax.saxutils import escape

import qrcode

SCHEME = "pilotlight:"
MODULE_PX = 8      # pixels per QR module in PNG: ~2 mm modules at 100 dpi, scans from a phone
QUIET = 4          # modules of white border the QR standard asks for


class LabelError(ValueError):
    pass


def label_text(site: str, pole: str, device: str | None = None) -> str:
    return SCHEME + "/".join(x for x in (site, pole, device) if x)


def parse_label(text: str) -> tuple[str, str, str | None]:
    """(site, pole, device or None) from a scanned label."""
    body = text.strip()
    if not body.startswith(SCHEME):
        raise LabelError(f"{text!r} is not a Pilotlight label (it should start with {SCHEME!r})")
    parts = body[len(SCHEME):].split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise LabelError(f"{text!r}: expected {SCHEME}SITE/POLE or {SCHEME}SITE/POLE/DEVICE")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def _matrix(text: str) -> list[list[bool]]:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.get_matrix()


def svg(site: str, pole: str, device: str | None = None) -> str:
    m = _matrix(label_text(site, pole, device))
    n = len(m)
    cells = "".join(f'<rect x="{x}" y="{y}" width="1" height="1"/>'
                    for y, row in enumerate(m) for x, dark in enumerate(row) if dark)
    lines = [f"pole {pole}", f"site {site}"] + ([f"device {device}"] if device else [])
    text = "".join(f'<text x="{n / 2}" y="{n + 2.2 + 2.4 * i}" font-size="2" text-anchor="middle" '
                   f'font-family="monospace">{escape(line)}</text>' for i, line in enumerate(lines))
    height = n + 1 + 2.4 * len(lines)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {height}" width="{n * 2}mm" '
            f'height="{height * 2}mm"><rect width="{n}" height="{height}" fill="white"/>'
            f'<g fill="black">{cells}</g>{text}</svg>\n')


def png(site: str, pole: str, device: str | None = None) -> bytes:
    """The QR code as an 8-bit greyscale PNG, written with zlib (no imaging library needed)."""
    m = _matrix(label_text(site, pole, device))
    rows = []
    for row in m:
        line = b"".join((b"\x00" if dark else b"\xff") * MODULE_PX for dark in row)
        rows += [b"\x00" + line] * MODULE_PX          # filter byte 0 (None) on every scanline
    size = len(m) * MODULE_PX

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


def write_label(directory: Path, site: str, pole: str, device: str | None, fmt: str = "svg") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{pole}_{device}" if device else pole
    path = directory / f"{name}.{fmt}"
    if fmt == "svg":
        path.write_text(svg(site, pole, device))
    elif fmt == "png":
        path.write_bytes(png(site, pole, device))
    else:
        raise LabelError(f"label format {fmt!r}: svg or png")
    return path
