"""A session with one board over its serial port, through mpremote's serial transport.

mpremote's `SerialTransport` speaks the raw REPL and raw-paste mode (flow-controlled
by the board). What it lacks is ours: the board may be anywhere when we plug in
(running the firmware and logging, its watchdog armed, rebooting, or its ROM failing
to start anything), and `Session.enter_maintenance()` gets it to a quiet raw REPL in
maintenance mode (the app not running, so neither its output nor its watchdog can
interrupt us), or raises NoAnswer with what the technician should do."""
from __future__ import annotations

import contextlib
import logging
import struct
import time

import serial
from mpremote import transport_serial
from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
CTRL_C, CTRL_D = b"\x03", b"\x04"
MAINTENANCE_FLAG = "maintenance"
# What the board prints once it is back at its REPL after a reset in maintenance mode.
BOOTED_MARKERS = (b"maintenance mode", b">>> ")
# How long a fixed-size read (raw-paste's header, its flow-control credit) waits for a busy board.
LINE_TIMEOUT = 5.0

_PARK_MAIN = "import os\ntry:\n os.rename('main.py','main.py.pl-off')\nexcept OSError:\n pass"

# What a chip prints when its ROM or bootloader cannot start an app: blank flash, a broken
# image, or the ROM's loader waiting for esptool. No REPL is coming from such a board.
ROM_SIGNS = (b"invalid header: 0x", b"No bootable app", b"ets_main.c", b"waiting for download", b"user code done")
HELP_NO_ANSWER = ("the board on {port} does not answer. Check the USB cable is a data cable and seated, "
                  "then hold the board's BOOT/safe-mode button, press EN (reset), release BOOT, and run again")

_log = logging.getLogger(__name__)
# mpremote prints what it got to stdout when the raw REPL fails it, then raises: there it
# would land inside `--json` output. Our errors say what went wrong; the bytes go to the log.
transport_serial.print = lambda *args, **kw: _log.debug(" ".join(map(str, args)))


class BoardError(Exception):
    """The board answered, but the code we ran failed there; the message is its traceback's last line."""


class NoAnswer(Exception):
    """The board did not reach a usable REPL; the message tells the technician what to do."""


class _Line(serial.Serial):
    """The port, counting what goes down it and keeping the last bytes that came up
    (boot_failing() looks for the ROM's complaints in them)."""

    def __init__(self):
        self.bytes_sent = 0
        self.heard = bytearray()
        super().__init__()

    def write(self, data) -> int | None:
        self.bytes_sent += len(data)
        return super().write(data)

    def read(self, size: int = 1) -> bytes:
        data = super().read(size)
        self.heard += data
        if len(self.heard) > 4096:
            del self.heard[:-2048]
        return data


class _Transport(SerialTransport):
    """mpremote's transport on a line we opened ourselves: ESP32 dev boards wire DTR/RTS
    to IO0/EN, and opening with both asserted (pyserial's default, which mpremote keeps)
    would hold the chip in reset or send it to its bootloader."""

    def __init__(self, line: _Line):
        self.in_raw_repl = False
        self.use_raw_paste = True
        self.device_name = line.port
        self.mounted = False
        self.serial = line
        # mpremote reads a /dev/pts port with blocking reads, which stretch its overall timeouts
        # by the line's (5 s): polled as a USB port is, a vboard's pty is read as a board's port.
        self.is_pty = False


class Session:
    def __init__(self, port: str, baud: int = 115200, timeout: float = 10.0):
        self.port = port
        self.timeout = timeout
        line = _Line()
        line.port, line.baudrate, line.timeout = port, baud, LINE_TIMEOUT
        line.dtr = line.rts = False
        try:
            line.open()
        except (serial.SerialException, OSError) as e:
            raise NoAnswer(f"cannot open {port}: {e}. Is another program (a serial monitor) using it?") from None
        self.line = line
        self.transport = _Transport(line)

    @property
    def bytes_sent(self) -> int:
        """Every byte sent down the line to the board, the REPL's own traffic included."""
        return self.line.bytes_sent

    def close(self) -> None:
        try:
            self.transport.close()   # lowers DTR/RTS first, then closes
        except (serial.SerialException, OSError):
            self.line.close()        # a port without those lines (a pty) is closed all the same

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextlib.contextmanager
    def _talking(self, doing: str):
        """mpremote's errors as ours: the board failed the code (BoardError), or stopped answering."""
        try:
            yield
        except TransportExecError as e:
            lines = e.error_output.strip().splitlines()
            raise BoardError(f"{self.port}: {lines[-1] if lines else 'error'}") from None
        except (TransportError, struct.error) as e:
            raise TimeoutError(f"{self.port}: the board stopped answering while {doing} ({e}); "
                               f"it last printed {bytes(self.line.heard[-80:])!r}") from None

    # --- the line, while no REPL is there to frame the board's output ---------
    def _take(self) -> bytes:
        waiting = self.line.in_waiting
        return self.line.read(waiting) if waiting else b""

    def drain(self, quiet: float = 0.15, limit: float = 2.0) -> bytes:
        """Read until the line has been silent for `quiet` seconds (a logging app never is: bounded)."""
        got = bytearray()
        end = last = time.monotonic()
        end += limit
        while time.monotonic() - last < quiet and time.monotonic() < end:
            chunk = self._take()
            if chunk:
                got += chunk
                last = time.monotonic()
            else:
                time.sleep(0.01)
        return bytes(got)

    def _wait_booted(self, timeout: float = 15.0) -> bool:
        """Wait for the boot to reach the REPL (or maintenance mode); False on timeout."""
        deadline = time.monotonic() + timeout
        seen = b""
        while not any(m in seen for m in BOOTED_MARKERS):
            if time.monotonic() > deadline:
                return False
            chunk = self._take()
            if chunk:
                seen = (seen + chunk)[-256:]
            else:
                time.sleep(0.01)
        return True

    # --- getting in -----------------------------------------------------------
    def boot_failing(self) -> bool:
        """The board printed its ROM or bootloader failing to start any app."""
        return any(sign in self.line.heard for sign in ROM_SIGNS)

    def _try_raw_repl(self, patience: float = 6.0) -> bool:
        """Interrupt whatever runs and enter the raw REPL, trying again for `patience` seconds:
        a board still booting, or busy printing its traceback, may miss the first try."""
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            # Ctrl-C in bursts: a busy app may be inside a blocking call, and the
            # first interrupt can land in an exception handler that logs and goes on.
            for _ in range(3):
                self.line.write(b"\r" + CTRL_C + CTRL_C)
                time.sleep(0.05)
            self.drain()
            if self.boot_failing():
                return False          # the ROM or bootloader is talking: no interpreter to interrupt
            try:
                self.transport.enter_raw_repl(soft_reset=False, timeout_overall=1.5)
                return self.exec("print('pl-ok')", timeout=3).strip() == "pl-ok"
            except (TransportError, TimeoutError, BoardError):
                if self.boot_failing():
                    return False      # no interpreter there to answer: waiting longer changes nothing
        return False

    def pulse_reset(self) -> bool:
        """Reset through the RTS->EN wiring of dev boards; False where the port has no such lines."""
        try:
            self.line.dtr = False
            self.line.rts = True
            time.sleep(0.1)
            self.line.rts = False
            return True
        except (serial.SerialException, OSError):
            return False

    def enter_maintenance(self, attempts: int = 3) -> None:
        """A quiet raw REPL with the app stopped for good: the maintenance flag is written and the
        board reset into maintenance mode (only a hard reset stops an ESP32's watchdog, which the
        app may have armed). If the app comes back anyway, its main.py does not know the flag (not
        our firmware, or too old): it is parked as main.py.pl-off and ours replaces it in the sync."""
        for attempt in range(attempts):
            if self.boot_failing():
                break
            if attempt:
                if not self.pulse_reset():
                    self.line.write(CTRL_D)   # a soft reset leaves the REPL and re-runs what hung
                self._wait_booted(timeout=10)
            try:
                if not self._try_raw_repl():
                    continue
                self.mark_maintenance()
                if self.hard_reset() and self._try_raw_repl():
                    return
                if self._try_raw_repl():
                    self.exec(_PARK_MAIN, timeout=3)
                    if self.hard_reset() and self._try_raw_repl():
                        return
            except (TimeoutError, BoardError, OSError):
                continue
        raise NoAnswer(HELP_NO_ANSWER.format(port=self.port) + f" (it last printed {bytes(self.line.heard[-120:])!r})")

    def _reset_machine(self) -> None:
        """machine.reset() from the raw REPL: the board answers nothing, it restarts."""
        with self._talking("resetting"):
            self.transport.exec_raw_no_follow("import machine\nmachine.reset()")
        self.transport.in_raw_repl = False

    def hard_reset(self) -> bool:
        """machine.reset(); True once the board is back at its REPL with no app running
        (it printed the REPL prompt, or maintenance mode, by itself)."""
        self._reset_machine()
        return self._wait_booted(timeout=10)   # a chip boots in about 1 s; a busy host's vboard can take 5

    def mark_maintenance(self) -> None:
        """The maintenance flag on flash, without a reset: the boots that follow leave the app off."""
        with self._talking("writing the maintenance flag"):
            self.transport.fs_touchfile(MAINTENANCE_FLAG)

    def soft_reset(self) -> None:
        """A fresh interpreter that sees the new files (boot.py runs, main.py does not),
        back at the raw REPL."""
        with self._talking("soft-resetting"):
            self.transport.enter_raw_repl(soft_reset=True, timeout_overall=15)

    def leave(self) -> None:
        """Clear the maintenance flag and reset, so the app starts (and arms its watchdog)."""
        try:
            with self._talking("clearing the maintenance flag"):
                self.transport.fs_rmfile(MAINTENANCE_FLAG)
        except FileNotFoundError:
            pass
        self._reset_machine()

    # --- running code ---------------------------------------------------------
    def exec(self, code: str | bytes, timeout: float | None = None) -> str:
        """Run code through raw-paste mode; its stdout, or BoardError with its traceback's last line.
        `timeout`: the longest the board may stay silent while it runs."""
        with self._talking("running code"):
            out, err = self.transport.exec_raw(code, timeout=self.timeout if timeout is None else timeout)
        if err:
            lines = err.decode(errors="replace").strip().splitlines()
            raise BoardError(f"{self.port}: {lines[-1] if lines else 'error'}")
        return out.decode(errors="replace")

    def micropython_version(self) -> str:
        """The MicroPython release the board runs, as os.uname() says it (e.g. '1.28.0')."""
        return self.exec("import os\nprint(os.uname().release)").strip()

    def chip_id(self) -> str:
        """The chip's unique id (the ESP32's base MAC) in hex: the key of every record."""
        return self.exec("import machine,binascii\nprint(binascii.hexlify(machine.unique_id()).decode())").strip()

    def set_clock(self, unix: float) -> None:
        """Set the board's RTC from the laptop's UTC clock, so the self-test and first boot have a date."""
        t = time.gmtime(unix)
        self.exec("import machine\nmachine.RTC().datetime((%d,%d,%d,%d,%d,%d,%d,0))"
                  % (t.tm_year, t.tm_mon, t.tm_mday, t.tm_wday, t.tm_hour, t.tm_min, t.tm_sec))
