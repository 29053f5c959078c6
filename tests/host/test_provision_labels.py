"""Printable pole/board labels and reading a scanned one back."""
import struct
import zlib

import pytest

from host_tools.provision.labels import LabelError, label_text, parse_label, png, svg, write_label


def test_a_scanned_label_gives_back_site_pole_and_device():
    assert parse_label(label_text("metz", "MZ-00012", "240ac4a1b2c3")) == ("metz", "MZ-00012", "240ac4a1b2c3")
    assert parse_label("  pilotlight:metz/MZ-00012\n") == ("metz", "MZ-00012", None)


@pytest.mark.parametrize("text", ["MZ-00012", "pilotlight:metz", "pilotlight:metz//x", "http://x/y"])
def test_anything_else_scanned_is_refused_saying_what_a_label_looks_like(text):
    with pytest.raises(LabelError, match="pilotlight:"):
        parse_label(text)


def test_png_label_is_a_valid_greyscale_image_of_the_code():
    data = png("metz", "MZ-00012", "240ac4a1b2c3")
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert width == height and width % 8 == 0 and (depth, colour) == (8, 0)
    idat_len = struct.unpack(">I", data[33:37])[0]
    pixels = zlib.decompress(data[41:41 + idat_len])
    assert len(pixels) == height * (width + 1)
    assert set(pixels[1:width + 1]) == {0xFF}            # the quiet zone is white
    assert 0 in pixels                                     # and there is a code in it


def test_svg_label_shows_the_ids_in_text_and_files_are_named_by_pole(tmp_path):
    assert "pole MZ-00012" in svg("metz", "MZ-00012", "240ac4a1b2c3")
    path = write_label(tmp_path, "metz", "MZ-00012", "240ac4a1b2c3", "svg")
    assert path.name == "MZ-00012_240ac4a1b2c3.svg" and "device 240ac4a1b2c3" in path.read_text()
