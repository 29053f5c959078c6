"""Printable labels: a QR code and, beside it, the pole id, the street and the chip id
in letters a technician reads from a ladder (the pole id about 1 cm tall).

The QR code holds `pilotlight:<site>/<pole>[/<device>]`; scanning a pole's label
into `provision --pole-label` binds the board on the bench to that pole. Both
formats are 100 x 40 mm; the PNG at 300 dpi, its text drawn by Pillow."""
from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

import qrcode
from PIL import Image, ImageDraw, ImageFont

SCHEME = "pilotlight:"
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


WIDTH_MM, HEIGHT_MM, MARGIN_MM = 100.0, 40.0, 2.0
DPI = 300
# Each text line: the largest size (mm, cap-to-descender) it may take; long names shrink to fit.
LINES = (("pole", 13.0), ("street", 6.5), ("chip", 5.0), ("site", 3.5))


def _lines(site: str, pole: str, street: str | None, device: str | None) -> list[tuple[str, float]]:
    text = {"pole": pole, "street": street or "", "chip": f"chip {device}" if device else "", "site": f"site {site}"}
    return [(text[k], size) for k, size in LINES if text[k]]


def svg(site: str, pole: str, device: str | None = None, street: str | None = None) -> str:
    m = _matrix(label_text(site, pole, device))
    n = len(m)
    qr_mm = HEIGHT_MM - 2 * MARGIN_MM
    cell = qr_mm / n
    cells = "".join(f'<rect x="{MARGIN_MM + x * cell:.3f}" y="{MARGIN_MM + y * cell:.3f}" width="{cell:.3f}" '
                    f'height="{cell:.3f}"/>' for y, row in enumerate(m) for x, dark in enumerate(row) if dark)
    left = MARGIN_MM * 2 + qr_mm
    room = WIDTH_MM - left - MARGIN_MM
    y, text = MARGIN_MM + 2.0, ""
    for line, size in _lines(site, pole, street, device):
        size = min(size, room / (0.6 * len(line)))        # a monospace glyph is 0.6 em wide
        y += size
        text += (f'<text x="{left:.2f}" y="{y:.2f}" font-size="{size:.2f}" font-family="DejaVu Sans Mono,monospace" '
                 f'font-weight="bold">{escape(line)}</text>')
        y += size * 0.35
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH_MM} {HEIGHT_MM}" width="{WIDTH_MM}mm" '
            f'height="{HEIGHT_MM}mm"><rect width="{WIDTH_MM}" height="{HEIGHT_MM}" fill="white"/>'
            f'<g fill="black">{cells}</g>{text}</svg>\n')


def _px(mm: float) -> int:
    return round(mm * DPI / 25.4)


def png(site: str, pole: str, device: str | None = None, street: str | None = None) -> bytes:
    """The label as an 8-bit greyscale PNG at 300 dpi."""
    m = _matrix(label_text(site, pole, device))
    qr_px = _px(HEIGHT_MM - 2 * MARGIN_MM) // len(m) * len(m)
    module = qr_px // len(m)
    img = Image.new("L", (_px(WIDTH_MM), _px(HEIGHT_MM)), 255)
    draw = ImageDraw.Draw(img)
    margin = _px(MARGIN_MM)
    for y, row in enumerate(m):
        for x, dark in enumerate(row):
            if dark:
                draw.rectangle([margin + x * module, margin + y * module,
                                margin + (x + 1) * module - 1, margin + (y + 1) * module - 1], fill=0)
    left = 2 * margin + qr_px
    room = img.width - left - margin
    y = margin + _px(1.0)
    for line, size_mm in _lines(site, pole, street, device):
        size = _px(size_mm)
        font = ImageFont.load_default(size)
        while font.getlength(line) > room and size > 12:
            size = int(size * 0.92)
            font = ImageFont.load_default(size)
        draw.text((left, y), line, font=font, fill=0)
        y += round(size * 1.25)
    out = io.BytesIO()
    img.save(out, format="PNG", dpi=(DPI, DPI), optimize=True)
    return out.getvalue()


def write_label(directory: Path, site: str, pole: str, device: str | None, fmt: str = "svg",
                street: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{pole}_{device}" if device else pole
    path = directory / f"{name}.{fmt}"
    if fmt == "svg":
        path.write_text(svg(site, pole, device, street))
    elif fmt == "png":
        path.write_bytes(png(site, pole, device, street))
    else:
        raise LabelError(f"label format {fmt!r}: svg or png")
    return path
