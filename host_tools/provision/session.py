"""A raw-REPL session with one board over its serial port.

The board may be anywhere when we plug in: running the firmware and logging,
rebooting, or sitting at the REPL. `Session.enter_maintenance()` gets it to
a quiet raw REPL in maintenance mode (the app not running, so neither its output
nor its watchdog can interrupt us), or raises NoAnswer with what the technician
should do. Code runs through raw-paste mode (flow-controlled by the board)."""
from __future__ import annotations

import struct
import time

import serial

RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"
CTRL_A, CTRL_C, CTRL_D, CTRL_E = b"\x01", b"\x03", b"\x04", b"\x05"
MAINTENANCE_FLAG = "maintenance"
# What the board prints once it is back at its REPL after a reset in maintenance mode.
BOOTED_MARKERS = (b"maintenance mode", b">>> ")

_WRITE_FLAG = "open(%r,'w').close()" % MAINTENANCE_FLAG
_PARK_MAIN = "import os\ntry:\n os.rename('main.py','main.py.pl-off')\nexcept OSError:\n pass"

# What a chip prints when its ROM or bootloader cannot start an app: blank flash, a broken
# image, or the ROM's loader waiting for esptool. No REPL is coming from such a board.
ROM_SIGNS = (b"invalid header: 0x", b"No bootable app", b"ets_main.c", b"waiting for download", b"user code done")
HELP_NO_ANSWER = ("the board on {port} does not answer. Check the USB cable is a data cable and seated, "
                  "then hold the board's BOOT/safe-mode button, press EN (reset), release BOOT, and run again")


class BoardError(Exception):
    """The board answered, but the code we ran failed there; the message is its traceback's last line."""


class NoAnswer(Exception):
    """The board did not reach a usable REPL; the message tells the technician what to do."""


class Session:
    def __init__(self, port: str, baud: int = 115200, timeout: float = 10.0):
        self.port = port
        self.timeout = timeout
        self.bytes_sent = 0
        line = serial.Serial()
        line.port, line.baudrate, line.timeout = port, baud, 0.02
        # ESP32 dev boards wire DTR/RTS to IO0/EN: opening with both asserted would
        # hold the chip in reset or send it to the bootloader.
        line.dtr = line.rts = False
        try:
            line.open()
        except (serial.SerialException, OSError) as e:
            raise NoAnswer(f"cannot open {port}: {e}. Is another program (a serial monitor) using it?") from None
        self.line = line
        self.buf = bytearray()
        self.heard = bytearray()     # the last bytes the board printed, for boot_failing()

    def close(self) -> None:
        try:
            self.line.close()
        except (serial.SerialException, OSError):
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- bytes on the line ----------------------------------------------------
    def write(self, data: bytes) -> None:
        self.line.write(data)
        self.bytes_sent += len(data)

    def _fill(self, wait: bool) -> bool:
        chunk = self.line.read(max(1, self.line.in_waiting) if wait else self.line.in_waiting)
        self.buf += chunk
        self.heard = (self.heard + chunk)[-2048:]
        return bool(chunk)

    def read_until(self, ending: bytes, timeout: float | None = None) -> bytes:
        """Bytes up to and including `ending`; what came after stays buffered for the next read."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while (at := self.buf.find(ending)) < 0:
            if time.monotonic() > deadline:   # checked even while bytes flow: a logging app never stops
                raise TimeoutError(f"{self.port}: waited for {ending!r}, got {bytes(self.buf[-80:])!r}")
            self._fill(True)
        got = bytes(self.buf[:at + len(ending)])
        del self.buf[:at + len(ending)]
        return got

    def _read_exact(self, n: int, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.port}: the board stopped answering")
            self._fill(True)
        got = bytes(self.buf[:n])
        del self.buf[:n]
        return got

    def pending(self) -> bool:
        return bool(self.buf) or self._fill(False)

    def discard_input(self) -> None:
        self.buf.clear()
        self.line.reset_input_buffer()

    def drain(self, quiet: float = 0.15, limit: float = 2.0) -> bytes:
        """Read until the line has been silent for `quiet` seconds (a logging app never is: bounded)."""
        end = time.monotonic() + limit
        last = time.monotonic()
        while time.monotonic() - last < quiet and time.monotonic() < end:
            if self._fill(True):
                last = time.monotonic()
        got = bytes(self.buf)
        self.buf.clear()
        return got

    # --- getting in -----------------------------------------------------------
    def boot_failing(self) -> bool:
        """The board printed its ROM or bootloader failing to start any app."""
        return any(sign in self.heard for sign in ROM_SIGNS)

    def _try_raw_repl(self, patience: float = 6.0) -> bool:
        """Interrupt whatever runs and enter the raw REPL, trying again for `patience` seconds:
        a board still booting, or busy printing its traceback, may miss the first try."""
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            # Ctrl-C in bursts: a busy app may be inside a blocking call, and the
            # first interrupt can land in an exception handler that logs and goes on.
            for _ in range(3):
                self.write(b"\r" + CTRL_C + CTRL_C)
                time.sleep(0.05)
            self.drain()
            if self.boot_failing():
                return False          # the ROM or bootloader is talking: no interpreter to interrupt
            self.discard_input()
            self.write(CTRL_A)
            try:
                self.read_until(RAW_PROMPT, timeout=1.5)
                return self.exec("print('pl-ok')", timeout=3).strip() == "pl-ok"
            except (TimeoutError, BoardError):
                if self.boot_failing():
                    return False      # no interpreter there to answer: waiting longer changes nothing
                continue
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

    def _wait_booted(self, timeout: float = 15.0) -> bool:
        """Wait for the boot to reach the REPL (or maintenance mode); False on timeout."""
        deadline = time.monotonic() + timeout
        while not any(m in self.buf for m in BOOTED_MARKERS):
            if time.monotonic() > deadline:
                return False
            self._fill(True)
        self.buf.clear()
        return True

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
                    self.write(CTRL_D)   # a soft reset leaves the REPL and re-runs what hung
                self._wait_booted(timeout=5)
            try:
                if not self._try_raw_repl():
                    continue
                self.exec(_WRITE_FLAG, timeout=3)
                if self.hard_reset() and self._try_raw_repl():
                    return
                if self._try_raw_repl():
                    self.exec(_PARK_MAIN, timeout=3)
                    if self.hard_reset() and self._try_raw_repl():
                        return
            except (TimeoutError, BoardError):
                continue
        raise NoAnswer(HELP_NO_ANSWER.format(port=self.port))

    def hard_reset(self) -> bool:
        """machine.reset() from the raw REPL; True once the board is back at its REPL with no app
        running (it printed the REPL prompt, or maintenance mode, by itself)."""
        self._paste(b"import machine\nmachine.reset()")
        return self._wait_booted(timeout=5)

    def soft_reset(self) -> None:
        """Ctrl-D at the raw REPL: a fresh interpreter that sees the new files (boot.py runs, main.py
        does not), back at the raw REPL."""
        self.write(CTRL_D)
        self.read_until(b"soft reboot", timeout=5)
        self.read_until(RAW_PROMPT, timeout=15)

    def leave(self) -> None:
        """Clear the maintenance flag and reset, so the app starts (and arms its watchdog)."""
        self.exec("import os\ntry:\n os.remove(%r)\nexcept OSError:\n pass" % MAINTENANCE_FLAG)
        self._paste(b"import machine\nmachine.reset()")

    # --- running code ---------------------------------------------------------
    def _paste(self, src: bytes) -> None:
        """Send code in raw-paste mode, within the board's flow-control window."""
        self.write(CTRL_E + b"A" + CTRL_A)
        head = self.read_until(b"R", timeout=2) + self._read_exact(1)
        if not head.endswith(b"R\x01"):
            raise BoardError(f"{self.port}: the board does not offer raw-paste mode (MicroPython >= 1.14 needed)")
        window = struct.unpack("<H", self._read_exact(2))[0]
        credit, i = window, 0
        while i < len(src):
            while credit == 0 or self.pending():
                c = self._read_exact(1)
                if c == b"\x01":
                    credit += window
                elif c == CTRL_D:   # the board gave up on the paste (out of memory, say)
                    self.write(CTRL_D)
                    self.read_until(b">", timeout=5)
                    raise BoardError(f"{self.port}: the board stopped the transfer")
            n = min(credit, len(src) - i)
            self.write(src[i:i + n])
            i, credit = i + n, credit - n
        self.write(CTRL_D)
        self.read_until(CTRL_D, timeout=5)   # the board has it all; it compiles and runs it now

    def exec(self, code: str | bytes, timeout: float | None = None) -> str:
        """Run code through raw-paste mode; its stdout, or BoardError with its traceback's last line."""
        self._paste(code.encode() if isinstance(code, str) else code)
        out = self.read_until(CTRL_D, timeout=timeout)[:-1]
        err = self.read_until(CTRL_D, timeout=timeout)[:-1]
        self.read_until(b">", timeout=timeout)
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
