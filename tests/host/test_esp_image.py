"""The ESP32 image checks the vboard's boot and `firmware fetch` share: what esptool
calls a valid image passes, and each way an image can be broken is named."""
from __future__ import annotations

import hashlib

import pytest
from esptool.bin_image import LoadFirmwareImage

from host_tools.esp_image import app, firmware, partitions

APP_AT = firmware.APP_OFFSET - firmware.WRITE_OFFSET


def test_built_images_are_valid_for_esptool_and_carry_the_version():
    image = firmware.build(version="v1.28.0", app_bytes=8192)
    for start in (0, APP_AT):                  # the bootloader, then the app
        loaded = LoadFirmwareImage("esp32", image[start:])
        assert loaded.checksum == loaded.calculate_checksum()
        assert loaded.stored_digest == loaded.calc_digest
    fw = firmware.inspect_file(image)
    assert (fw.project, fw.version, fw.app_offset) == ("micropython", "v1.28.0", firmware.APP_OFFSET)


def _broken(at: int, value: int) -> bytes:
    image = bytearray(firmware.build(app_bytes=8192))
    image[at] = value
    return bytes(image)


@pytest.mark.parametrize("what, image, message", [
    ("no bootloader", b"\xff" * 0x10000, "invalid magic byte 0xff"),
    ("app magic", _broken(APP_AT, 0x00), "image at 0x10000 has invalid magic byte 0x00"),
    ("app code", _broken(APP_AT + 0x100, 0x5A), "image at 0x10000: checksum failed"),
    ("segment count", _broken(APP_AT + 1, 0x30), "image at 0x10000: 48 segments"),
    ("partition table", _broken(partitions.OFFSET - firmware.WRITE_OFFSET + 4, 0x77), "MD5 does not match"),
    ("truncated", firmware.build(app_bytes=8192)[:-40], "image at 0x10000"),
])
def test_each_kind_of_broken_image_is_refused_saying_what_and_where(what, image, message):
    with pytest.raises((app.ImageError, partitions.PartitionError), match=message):
        firmware.inspect_file(image)


def test_a_segment_outside_the_chips_memory_is_refused():
    bad = app.build([(0x3F400020, app.app_desc("micropython", "v1.28.0")), (0x20000000, b"\0" * 64)], entry=0)
    with pytest.raises(app.ImageError, match="outside the ESP32's memory"):
        app.parse(bad, 0x10000)


def test_the_hash_catches_what_the_checksum_cannot():
    body = bytearray(firmware.build(app_bytes=8192)[APP_AT:])
    i = next(i for i in range(0x200, 0x400) if body[i] != body[i + 1])
    body[i], body[i + 1] = body[i + 1], body[i]      # two code bytes swapped: their XOR, the checksum, stays
    with pytest.raises(app.ImageError, match="SHA-256"):
        app.parse(bytes(body), 0x10000)


def test_versions_with_and_without_v_are_one_release():
    assert firmware.same_version("v1.28.0", "1.28.0") and not firmware.same_version("v1.27.0", "1.28.0")
    assert hashlib.sha256(firmware.build()).hexdigest() == firmware.sha256(firmware.build())   # deterministic
