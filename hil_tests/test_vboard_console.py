"""A vboard's serial console behaves as a board on USB to mpremote."""
import time

import pytest
import serial

from hil_tests.support.firmware import mpremote


@pytest.mark.needs_power_cut
@pytest.mark.needs_flash
def test_copy_list_run_survive_soft_reset_and_power_cut(rig, tmp_path):
    (board,) = rig.start("con")
    src = tmp_path / "hello.py"
    src.write_text("GREETING = 'hello from flash'\n")
    mpremote(board.port, "fs", "cp", str(src), ":hello.py")
    assert "hello.py" in mpremote(board.port, "fs", "ls").stdout
    assert mpremote(board.port, "exec", "import hello; print(hello.GREETING)").stdout.strip() == "hello from flash"

    # mpremote without `resume` soft-resets first, as with a board on USB
    run = mpremote(board.port, "soft-reset", "exec", "import hello, machine; print(hello.GREETING, machine.reset_cause())")
    assert run.stdout.split() == ["hello", "from", "flash", "1"]

    with board.control() as c:
        c.power_cut()
        assert not c.status()["running"]
        c.power_on()
        c.wait_for(lambda s: s["running"], what="boot after power on")
    assert "hello.py" in mpremote(board.port, "fs", "ls").stdout
    assert board.read_flash("hello.py") == src.read_bytes()   # in the LittleFS image, as littlefs-python reads it


def test_run_a_script_and_board_identity(rig, tmp_path):
    a, b = rig.start("id", count=2)
    script = tmp_path / "ident.py"
    script.write_text("import machine, os\nprint(machine.unique_id().hex(), os.getcwd(), machine.freq())\n")
    ids = [mpremote(x.port, "run", str(script)).stdout.split() for x in (a, b)]
    assert ids[0][1:] == ["/", "160000000"]
    assert ids[0][0] != ids[1][0] and len(ids[0][0]) == 12  # six bytes, one per board


@pytest.mark.needs_reset
@pytest.mark.needs_flash
def test_boot_sequence_ctrl_c_and_watchdog(rig):
    (board,) = rig.start("boot", files={
        "boot.py": "print('boot.py ran')\n",
        "main.py": "import machine, time\n"
                   "print('main.py ran, cause', machine.reset_cause())\n"
                   "wdt = machine.WDT(timeout=1500)\n"
                   "while True:\n"
                   "    wdt.feed()\n"
                   "    time.sleep_ms(50)\n"})
    with serial.Serial(board.port, 115200, timeout=0.2) as line, board.control() as c:
        c.reset()  # the EN button: boot.py, then main.py
        out = _read_until(line, b"main.py ran, cause 2")
        assert out.index(b"boot.py ran") < out.index(b"main.py ran")
        line.write(b"\x03")  # Ctrl-C: main.py stops, the REPL answers
        out = _read_until(line, b">>> ")
        assert b"KeyboardInterrupt" in out
        line.write(b"print(6 * 7)\r")
        assert b"42" in _read_until(line, b"42")
        # main.py no longer feeds the watchdog: it resets the board
        out = _read_until(line, b"main.py ran, cause 3", timeout=5)
        assert b"WDT" in out
        assert c.status()["reset_cause"] == 3


def _read_until(line, marker: bytes, timeout: float = 5.0) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while marker not in got:
        assert time.monotonic() < deadline, f"no {marker!r} on the console; got {got[-400:]!r}"
        got += line.read(256)
    return got


@pytest.mark.needs_flash
def test_ctrl_c_in_the_middle_of_a_garbage_collection_leaves_a_working_repl(rig):
    """On the chip, Ctrl-C is raised between bytecodes. The unix port raised it
    from its signal handler, inside whatever C code ran: caught in a garbage
    collection, it left the heap locked for good ('heap is locked', then a
    crash), as one CI run saw when mpremote stopped a board's app."""
    import random
    (board,) = rig.start("gcint", files={
        "main.py": "import gc\nprint('collecting')\nwhile True:\n    gc.collect()\n    b = [bytearray(64) for _ in range(8)]\n"})
    rnd = random.Random(7)
    with serial.Serial(board.port, 115200, timeout=0.05) as line, board.control() as c:
        c.reset()
        for attempt in range(25):
            _read_until(line, b"collecting")
            time.sleep(rnd.uniform(0.02, 0.2))
            line.write(b"\x03")                        # Ctrl-C: main.py stops mid-collection, most likely
            out = _read_until(line, b">>> ")
            assert b"KeyboardInterrupt" in out, out[-400:]
            line.write(b"print(len(bytearray(100)) * 2)\r")
            out = _read_until(line, b"200")
            assert b"heap is locked" not in out and b"MemoryError" not in out, (attempt, out[-400:])
            line.write(b"\x04")                        # Ctrl-D: a soft reset runs main.py again
