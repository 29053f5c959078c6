"""The vboard's flash chip with an operation in progress when the interpreter
stops: a reset lets it finish, a power cut leaves it part-done as a NOR chip
does (a program only clears bits, an erase only sets them)."""
from __future__ import annotations

import random

from host_tools.vboard.flash_chip import ERASE, HEAD, IDLE, PROGRAM, new_status, settle


def _chip(tmp_path, image: bytes, kind: int, addr: int, data: bytes = b"", length: int | None = None):
    img, status = tmp_path / "flash.img", tmp_path / "flash.status"
    img.write_bytes(image)
    new_status(status)
    raw = bytearray(status.read_bytes())
    HEAD.pack_into(raw, 0, kind, addr, len(data) if length is None else length)
    raw[HEAD.size:HEAD.size + len(data)] = data
    status.write_bytes(raw)
    return img, status


def test_a_power_cut_leaves_a_program_part_done_and_never_sets_a_bit(tmp_path):
    old = bytes([0xFF] * 96 + [0x0F] * 32)
    data = bytes(range(128))
    img, status = _chip(tmp_path, b"\x00" * 64 + old + b"\x00" * 64, PROGRAM, 64, data)
    assert settle(img, status, powered=False, rng=random.Random(3)) == "program"
    got = img.read_bytes()[64:192]
    assert got not in (old, data)
    for o, d, g in zip(old, data, got):
        assert g & ~o == 0               # no bit goes from 0 to 1
        assert (g ^ o) & d == 0          # only the bits the program clears may change
    assert status.read_bytes()[0] == IDLE
    assert settle(img, status, powered=False) is None   # settled once


def test_a_power_cut_leaves_an_erase_part_done_and_never_clears_a_bit(tmp_path):
    old = bytes(random.Random(1).randbytes(4096))
    img, status = _chip(tmp_path, bytes(4096) + old, ERASE, 4096, length=4096)
    assert settle(img, status, powered=False, rng=random.Random(5)) == "erase"
    got = img.read_bytes()[4096:]
    assert got not in (old, b"\xff" * 4096)
    assert all(g | o == g for o, g in zip(old, got))    # bits only go from 0 to 1
    assert img.read_bytes()[:4096] == bytes(4096)       # the other block is untouched


def test_a_reset_lets_the_chip_finish_and_a_finished_program_stays(tmp_path):
    img, status = _chip(tmp_path, bytes(8192), ERASE, 4096, length=4096)
    assert settle(img, status, powered=True) is None
    assert img.read_bytes()[4096:] == b"\xff" * 4096
    img, status = _chip(tmp_path, b"\xff" * 4096, PROGRAM, 32, b"ab" * 16)
    assert settle(img, status, powered=True) is None
    assert img.read_bytes()[32:64] == b"ab" * 16
    # a cut after the driver wrote the program but before it marked it done
    img, status = _chip(tmp_path, b"\xff" * 32 + b"ab" * 16 + b"\xff" * 4032, PROGRAM, 32, b"ab" * 16)
    assert settle(img, status, powered=False) is None
    assert img.read_bytes()[32:64] == b"ab" * 16
