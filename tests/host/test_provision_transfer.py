"""The sync's encoding and its board-side code, run by the real MicroPython
interpreter (the unix port) in a folder that plays the board's flash."""
import hashlib
import os
import subprocess
import zlib

from host_tools.provision import transfer
from host_tools.provision.flow import load_firmware
from host_tools.vboard.board import micropython_binary


def on_board(flash, code: str) -> subprocess.CompletedProcess:
    script = flash.parent / "script.py"
    script.write_text(code)
    return subprocess.run([micropython_binary(), str(script)], cwd=flash, capture_output=True, text=True,
                          timeout=60)


def send_code(files: dict[str, bytes], stream: bytes | None = None) -> str:
    """What sync() runs on the board for these files, as one script."""
    stream = transfer.compress(list(files.values())) if stream is None else stream
    chunks = [c.decode() for c in transfer.encode_chunks(stream, size=1000)]
    return transfer._OPEN + "\n".join(chunks) + "\n" + transfer.unpack_code(files)


FILES = {
    "main.py": b"from lampctl import early\n" * 20,
    "lampctl/lamp.mpy": os.urandom(3000),
    "lampctl/drivers/ina219.mpy": b"M\x06\x00\x1f" + bytes(range(256)) * 8,
}


def test_files_land_exactly_with_their_folders_and_the_staging_file_goes(tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    run = on_board(flash, send_code(FILES))
    assert run.returncode == 0, run.stderr
    for path, data in FILES.items():
        assert (flash / path).read_bytes() == data
    assert sorted(p.name for p in flash.rglob("*") if p.is_file()) == ["ina219.mpy", "lamp.mpy", "main.py"]


def test_a_corrupted_stream_replaces_no_file(tmp_path):
    flash = tmp_path / "flash"
    (flash / "lampctl").mkdir(parents=True)
    (flash / "lampctl/lamp.mpy").write_bytes(b"old lamp")
    stream = bytearray(transfer.compress(list(FILES.values())))
    stream[len(stream) // 2] ^= 0xFF
    run = on_board(flash, send_code(FILES, bytes(stream)))
    assert run.returncode != 0
    assert (flash / "lampctl/lamp.mpy").read_bytes() == b"old lamp"
    assert not (flash / "main.py").exists()


def test_board_hashes_match_the_hosts_and_cover_the_owned_folders(tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    assert on_board(flash, send_code(FILES)).returncode == 0
    (flash / "crash.log").write_text("not ours")
    manifest = {p: hashlib.sha256(b).hexdigest() for p, b in FILES.items()}
    run = on_board(flash, transfer._hashes_code(manifest, summary=False))
    got = {line.split(" ")[1]: line.split(" ")[0] for line in run.stdout.split("\n") if line}
    assert got == manifest
    # the one-line summary the board sends when all is well is the host's digest of the same listing
    summary = on_board(flash, transfer._hashes_code(manifest, summary=True)).stdout.strip()
    assert summary == transfer.sha256("".join(transfer._listing(manifest)).encode())
    (flash / "lampctl/stray.mpy").write_bytes(b"left over")
    assert on_board(flash, transfer._hashes_code(manifest, summary=True)).stdout.strip() != summary


def test_plan_copies_what_differs_and_removes_only_under_owned_folders():
    manifest = {"main.py": "a", "lampctl/app.mpy": "b", "lampctl/lamp.mpy": "c"}
    on_board = {"main.py": "a", "lampctl/app.mpy": "old", "lampctl/gone.mpy": "x", "crash.log": "y"}
    assert transfer.plan(manifest, on_board) == (["lampctl/app.mpy", "lampctl/lamp.mpy"], ["lampctl/gone.mpy"])
    assert transfer.plan(manifest, dict(manifest)) == ([], [])


def test_the_firmware_bundle_goes_down_the_line_in_fewer_bytes_than_it_has():
    firmware, _ = load_firmware()
    raw = sum(len(b) for b in firmware.values())
    chunks = transfer.encode_chunks(transfer.compress(list(firmware.values())))
    sent = sum(len(c) for c in chunks)
    assert sent < 0.9 * raw
    # Only printable base64 goes down: no byte the REPL would take as Ctrl-C, Ctrl-D or Ctrl-E.
    assert all(b >= 0x20 for c in chunks for b in c)
    # and the host's stream is plain raw deflate with the window the board is told to use
    assert zlib.decompressobj(-transfer.WBITS).decompress(transfer.compress([b"abc", b"def"])) == b"abcdef"
