"""Printable pole/board labels and reading a scanned one back."""
import io

from PIL import Image

import pytest

from host_tools.provision.labels import LabelError, label_text, parse_label, png, svg, write_label


def test_a_scanned_label_gives_back_site_pole_and_device():
    assert parse_label(label_text("metz", "MZ-00012", "240ac4a1b2c3")) == ("metz", "MZ-00012", "240ac4a1b2c3")
    assert parse_label("  pilotlight:metz/MZ-00012\n") == ("metz", "MZ-00012", None)


@pytest.mark.parametrize("text", ["MZ-00012", "pilotlight:metz", "pilotlight:metz//x", "http://x/y"])
def test_anything_else_scanned_is_refused_saying_what_a_label_looks_like(text):
    with pytest.raises(LabelError, match="pilotlight:"):
        parse_label(text)


def _dark_columns(img, x0, x1):
    return [x for x in range(x0, x1) if min(img.getpixel((x, y)) for y in range(img.height)) < 128]


def test_png_label_is_a_300_dpi_greyscale_image_with_the_code_and_big_text_beside_it():
    img = Image.open(io.BytesIO(png("metz", "MZ-00012", "240ac4a1b2c3", "Rue Serpenoise")))
    assert img.mode == "L" and img.size == (1181, 472) and round(img.info["dpi"][0]) == 300
    assert all(img.getpixel((x, 0)) == 255 for x in range(img.width))      # white edge: the quiet zone
    assert _dark_columns(img, 0, 472)                                        # the code, on the left
    text = _dark_columns(img, 472, img.width)
    assert text and max(text) - min(text) > 500                              # the text beside it, wide
    rows = [y for y in range(img.height) if min(img.getpixel((x, y)) for x in range(480, img.width)) < 128]
    first_line = [y for y in rows if y < rows[0] + 200]
    tall = max(y for y in first_line if all(r in rows for r in range(rows[0], y + 1))) - rows[0]
    assert tall >= 100          # the pole id: capitals about 1 cm tall at 300 dpi (118 px)


def test_a_long_street_name_shrinks_to_fit_the_label():
    long = png("metz", "MZ-00012", "240ac4a1b2c3", "Boulevard de la Reine Marguerite de Lorraine")
    img = Image.open(io.BytesIO(long))
    assert img.size == (1181, 472)
    assert all(img.getpixel((img.width - 3, y)) == 255 for y in range(img.height))   # nothing cut at the edge


def test_svg_label_shows_pole_street_and_chip_in_text_and_files_are_named_by_pole(tmp_path):
    text = svg("metz", "MZ-00012", "240ac4a1b2c3", "Rue Serpenoise")
    assert ">MZ-00012</text>" in text and ">Rue Serpenoise</text>" in text and ">chip 240ac4a1b2c3</text>" in text
    path = write_label(tmp_path, "metz", "MZ-00012", "240ac4a1b2c3", "svg", street="Rue Serpenoise")
    assert path.name == "MZ-00012_240ac4a1b2c3.svg" and "Rue Serpenoise" in path.read_text()
    png_path = write_label(tmp_path, "metz", "MZ-00012", "240ac4a1b2c3", "png", street="Rue Serpenoise")
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
