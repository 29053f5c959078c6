"""One virtual board: the real MicroPython interpreter, ESP32-shaped, running
boot.py and main.py from its flash (a LittleFS image), behind a serial console
on a pty, with the ESP32 shims talking to the simulated hardware here.

The supervisor plays what a real board does around the interpreter: the boot
sequence, soft reset (Ctrl-D), hard resets with their reset cause, the
watchdog, the RTC that survives resets but not power cuts, and power cuts.
"""
from __future__ import annotations

import asyncio
import binascii
import fcntl
import hashlib
import json
import os
import signal
import stat
import termios
import time
import tty
from dataclasses import dataclass
from pathlib import Path

from .console import Line
from .flash import IMAGE_BYTES, ROMFS_BYTES
from .flash_chip import new_status, settle
from .hardware import Hardware
from .rom.chip import Interrupted, RomChip
from .interpreter import interpreter

SHIMS = Path(__file__).resolve().parent / "shims"
EPOCH_2000 = 946684800
PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
# What the ESP32 ROM prints after a reset, by reset cause.
ROM_RESET = {
    PWRON_RESET: "0x1 (POWERON_RESET)",
    HARD_RESET: "0x1 (POWERON_RESET)",
    WDT_RESET: "0x7 (TG0WDT_SYS_RESET)",
    DEEPSLEEP_RESET: "0x5 (DEEPSLEEP_RESET)",
    SOFT_RESET: "0xc (SW_CPU_RESET)",
}
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
# The firmware's GC heap budget (docs/vboard.md says why 96 KB): the whole app
# runs in it on a firmware with a ROMFS partition (`--romfs`), its code in place.
DEFAULT_HEAP = 96 * 1024
CONSOLE_KEEP = 64 * 1024  # console output kept for the rig (a failed test's report)


def gc_pool(heap: int, word_bytes: int = 4) -> int:
    """The GC pool a heap request gives: whole 4-block units (64 bytes on a 32-bit build)."""
    unit = 4 * 4 * word_bytes
    return heap // unit * unit


def heapsize_arg(heap: int, word_bytes: int = 4) -> int:
    """The `-X heapsize` whose GC pool, what gc.mem_free() + gc.mem_alloc()
    report, is exactly `heap` (rounded down to whole 4-block units). The unix
    port carves its allocation and finaliser tables out of the area it is
    given, and aligns the area's end down to a block."""
    block = 4 * word_bytes
    atb = gc_pool(heap, word_bytes) // (4 * block)    # one table byte per 4 blocks
    bits_per_atb_byte = 8 + 4 + 4 * block * 8         # its own 8 bits, the finaliser's 4, the pool's
    return -(-atb * bits_per_atb_byte // 8) + 1 + block


class VBoardError(Exception):
    """A vboard cannot start as asked; the message says why, on one line."""


def micropython_binary() -> str:
    """The interpreter firmware tests run on: the vboard's."""
    return interpreter().path


def unique_id_for(name: str) -> str:
    # An Espressif OUI, then three bytes from the name: stable across restarts.
    return "240ac4" + hashlib.sha256(name.encode()).hexdigest()[:6]


@dataclass
class Exit:
    """Why the interpreter is being stopped, set before it is killed."""
    kind: str          # soft | hard | off | deepsleep | stop
    cause: int = SOFT_RESET
    sleep_ms: int = 0


class VirtualBoard:
    def __init__(self, name: str, board: dict, *, home: Path, heap: int = DEFAULT_HEAP,
                 baud: int | None = None, port: Path | None = None, flash: Path | None = None,
                 blank: bool = False, auto_reset: bool = True, romfs: bool = False):
        self.name = name
        self.board = board
        self.dir = home / "vboards" / name
        self.flash = Path(flash) if flash else self.dir / "flash.img"
        self.romfs = self.flash.with_name(self.flash.stem + ".romfs") if romfs else None   # its ROMFS partition
        self.port = Path(port) if port else self.dir / "tty"
        self.heap = heap
        self.baud = baud
        self.uid = unique_id_for(name)
        # what this chip's internal sensor reads above its die temperature (20-40 C, as ESP32s do)
        self.chip_temp_error_c = 20 + int(self.uid[-2:], 16) % 21
        self.hw = Hardware(board)
        self.bus_name = f"\0pilotlight-vboard-{os.getpid()}-{name}"
        self.control_name = f"\0pilotlight-vboard-ctl-{os.getpid()}-{name}"
        self.proc: asyncio.subprocess.Process | None = None
        self.exit: Exit | None = None
        self.powered = asyncio.Event()
        self.booted = asyncio.Event()
        self.raw_repl = False
        self.tail = b""
        self.console_log = bytearray()  # the last CONSOLE_KEEP bytes the board printed, for the rig
        self.console_total = 0          # bytes printed since the vboard started
        self.events: asyncio.StreamWriter | None = None
        self.skip_done: asyncio.Future | None = None   # the board took a jump of its time (time_skip.py)
        self.clock_offset_ns = 0     # the board's RTC, from the host clock
        self.world_offset_ns = 0     # the world's time (what NTP answers), from the host clock
        self.rtc_memory = b""
        self.reset_cause = PWRON_RESET
        self.resets = 0
        self.wdt_timeout_ms = 0
        self.wdt_deadline = 0.0
        self.wdt_timer: asyncio.TimerHandle | None = None
        self.timers: dict[int, asyncio.TimerHandle] = {}   # machine.Timer, by id
        self.net_up = True
        self.rssi = -61
        self.wifi: tuple[str, str] | None = None   # the access point, when set
        # The network's name server (names the rig registered) and its faults:
        # how long a lookup and an NTP answer take, and whether DNS answers at all.
        self.dns_names: dict[str, str] = {"localhost": "127.0.0.1", "pool.ntp.org": "192.0.2.123"}
        self.dns_delay_ms = 0
        self.dns_answers = True
        self.ntp_delay_ms = 0
        self.started_at = 0.0
        self.servers: list[asyncio.AbstractServer] = []
        self.life: asyncio.Task | None = None
        # A ROM and SPI flash of its own (rom/): a board that starts blank, or was flashed with esptool.
        self.blank, self.auto_reset = blank, auto_reset
        self.rom: RomChip | None = None
        self.mpy_version: str | None = None   # from the flash image's app description
        self.flash_erases = 0        # 4 KB blocks erased since the supervisor started
        self.flash_status = self.dir / "flash.status"   # the chip's operation in progress (flash_chip.py)
        self.flash_torn: str | None = None   # what the last power cut left part-done
        self.cut_at_erase: asyncio.Future | None = None
        self.flash_lock: int | None = None

    # --- start and stop ----------------------------------------------------
    def check(self) -> None:
        """Refuse what would not work, before anything is created."""
        if self.flash.is_dir():
            raise VBoardError(f"flash image {self.flash} is a directory: the flash is a LittleFS image file")
        try:
            self.flash.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise VBoardError(f"flash image {self.flash} cannot be created: {e.strerror}") from None
        if self.flash.exists():
            st = self.flash.stat()
            if not st.st_mode & stat.S_IWUSR or not os.access(self.flash, os.W_OK):
                raise VBoardError(f"flash image {self.flash} is not writable (mode {stat.S_IMODE(st.st_mode):04o})")
            if st.st_size > IMAGE_BYTES:
                raise VBoardError(f"flash image {self.flash} is {st.st_size} bytes, more than the 2 MB flash")
        try:
            self._erased_flash()
        except OSError as e:
            raise VBoardError(f"flash image {self.flash} cannot be created: {e.strerror}") from None
        # Held while the board is powered: the host writes the image only while
        # it is off (host_tools/vboard/flash.py), as a programmer would.
        self.flash_lock = os.open(self.flash, os.O_RDWR)
        try:
            fcntl.flock(self.flash_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.flash_lock)
            self.flash_lock = None
            raise VBoardError(f"flash image {self.flash} is in use by another vboard") from None
        if self.port.is_symlink() or self.port.exists():
            owner = port_owner(self.port)
            if owner:
                raise VBoardError(f"port path {self.port} is in use by vboard {owner}")
            if not self.port.is_symlink():
                raise VBoardError(f"port path {self.port} exists and is not a vboard link")

    async def start(self) -> None:
        self.check()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.outer_m, self.outer_s = os.openpty()
        self.inner_m, self.inner_s = os.openpty()
        tty.setraw(self.outer_s)
        for fd in (self.outer_m, self.inner_m):
            os.set_blocking(fd, False)
        tmp = self.port.with_name(self.port.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(self.outer_s))
        os.replace(tmp, self.port)
        loop = asyncio.get_running_loop()
        if self.blank:
            RomChip.make_blank(self.dir, self.flash)
        if RomChip.present(self.dir):
            self.rom = RomChip(self.dir, self.flash, self.uid, self._rom_print, self._line_baud, self.auto_reset)
            self.rom.set_throttle(115200 if self.baud else None)
        self.to_host = Line(self.outer_m, self.baud, lossy=True)
        self.to_board = Line(self.inner_m, self.baud, lossy=False)
        loop.add_reader(self.outer_m, self._from_host)
        loop.add_reader(self.inner_m, self._from_board)
        self.servers.append(await asyncio.start_unix_server(self._bus_client, path=self.bus_name))
        self.servers.append(await asyncio.start_unix_server(self._control_client, path=self.control_name))
        self._write_state()
        self.life = loop.create_task(self._live())
        self.power_on()

    def _erased_flash(self) -> None:
        """A missing or short image is (the rest of) a fresh chip: all 0xFF. The
        first boot then formats it, as the esp32 port's inisetup does."""
        size = self.flash.stat().st_size if self.flash.exists() else 0
        if size < IMAGE_BYTES:
            with open(self.flash, "ab") as f:
                f.write(b"\xff" * (IMAGE_BYTES - size))
        if self.romfs and not self.romfs.exists():
            self.romfs.write_bytes(b"\xff" * ROMFS_BYTES)

    @staticmethod
    def _configure_board_uart(fd: int) -> None:
        # What the interpreter's terminal is outside its REPL: no echo, no line
        # editing, and Ctrl-C raises SIGINT (KeyboardInterrupt) without
        # flushing the input.
        attrs = termios.tcgetattr(fd)
        attrs[0] &= ~(termios.ICRNL | termios.IXON | termios.INLCR | termios.IGNCR)
        attrs[1] &= ~termios.OPOST
        attrs[3] = termios.ISIG | termios.NOFLSH
        attrs[6][termios.VMIN] = 1
        attrs[6][termios.VTIME] = 0
        attrs[6][termios.VINTR] = 3
        termios.tcsetattr(fd, termios.TCSANOW, attrs)

    async def stop(self) -> None:
        if self.life:
            await self._kill(Exit("stop"))
            self.life.cancel()
        loop = asyncio.get_running_loop()
        for fd in (self.outer_m, self.inner_m):
            loop.remove_reader(fd)
        self.to_host.close()
        self.to_board.close()
        if self.rom:
            self.rom.close()
        for s in self.servers:
            s.close()
        for fd in (self.outer_m, self.outer_s, self.inner_m, self.inner_s):
            os.close(fd)
        if self.port.is_symlink():
            self.port.unlink()
        if self.flash_lock is not None:
            os.close(self.flash_lock)
        (self.dir / "board.json").unlink(missing_ok=True)

    def _write_state(self) -> None:
        state = {
            "name": self.name, "board_type": self.board["board_type"], "port": str(self.port),
            "tty": os.ttyname(self.outer_s), "control": self.control_name[1:], "flash": str(self.flash),
            "unique_id": self.uid, "supervisor_pid": os.getpid(), "heap": self.heap, "baud": self.baud,
            "rom": self.rom is not None, "auto_reset": self.auto_reset,
        }
        tmp = self.dir / "board.json.tmp"
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, self.dir / "board.json")

    # --- power and resets --------------------------------------------------
    def power_on(self) -> None:
        if self.powered.is_set():
            return
        # No backup battery: the clock restarts at 2000-01-01 00:00:00.
        self.clock_offset_ns = EPOCH_2000 * 10**9 - time.time_ns()
        self.rtc_memory = b""
        self.reset_cause = PWRON_RESET
        self.flash_torn = None
        self.powered.set()

    async def power_cut(self) -> None:
        await self._kill(Exit("off"))

    async def power_cut_during_erase(self, timeout: float = 10.0) -> None:
        """The supply fails while the flash chip erases a block, as it most often
        does on a board that writes (an erase takes a chip about 45 ms)."""
        self.cut_at_erase = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self.cut_at_erase, timeout)
        except asyncio.TimeoutError:
            running = self.proc is not None and self.proc.returncode is None
            raise VBoardError(f"the board erased no flash block within {timeout:g}s (its interpreter is "
                              f"{'running' if running else 'not running'}; {self.flash_erases} blocks erased "
                              f"since the supervisor started)") from None
        finally:
            self.cut_at_erase = None

    async def _kill(self, why: Exit) -> None:
        self.exit = why
        if self.rom:
            self.rom.interrupt.set()
        if why.kind in ("off", "stop"):
            self.powered.clear()
        proc = self.proc
        if proc and proc.returncode is None:
            proc.kill()
            await proc.wait()
        self._settle_flash(why)
        if why.kind == "off" and self.flash_lock is not None:
            fcntl.flock(self.flash_lock, fcntl.LOCK_UN)   # off: the image may be written from the host

    def _request_exit(self, why: Exit) -> None:
        asyncio.get_running_loop().create_task(self._kill(why))

    def _settle_flash(self, why: Exit) -> None:
        # before anyone reads the image: a reset lets the chip finish, a power cut does not
        torn = settle(self.flash, self.flash_status, powered=why.kind not in ("off", "stop"))
        if torn and why.kind == "off":
            self.flash_torn = torn

    def _cut_during_erase(self) -> None:
        # now, before the erase's reply lets the driver go on
        cut = self.cut_at_erase
        self.cut_at_erase = None
        self.exit = Exit("off")
        self.proc.kill()
        task = asyncio.get_running_loop().create_task(self._kill(Exit("off")))
        task.add_done_callback(lambda t: cut.done() or cut.set_result(None))

    async def _live(self) -> None:
        soft = False
        while True:
            await self.powered.wait()
            if not soft:
                self._stop_wdt()
                if self.rom:
                    outcome = await self._rom_boot()
                    if outcome == "stop":
                        return
                    if outcome == "again":
                        continue
                else:
                    self._print(self._rom_banner())
            mode = "raw" if soft and self.raw_repl else "full"
            self.raw_repl = False
            self.exit = None
            self._erased_flash()
            new_status(self.flash_status)
            # A killed interpreter leaves the terminal in its REPL's raw mode.
            self._configure_board_uart(self.inner_s)
            mpy = interpreter()
            self.proc = await asyncio.create_subprocess_exec(
                mpy.path, "-X", f"heapsize={heapsize_arg(self.heap, mpy.word_bytes)}", "-i", "-c", "import vboot",
                stdin=self.inner_s, stdout=self.inner_s, stderr=self.inner_s,
                env=self._env(mode), cwd=str(self.dir), preexec_fn=_take_terminal)
            if self.exit:
                self.proc.kill()        # a reset or power cut came while it was starting: it still happens
            self.started_at = time.monotonic()
            self.resets += 1
            self.booted.set()
            if mode == "raw":
                self.to_board.send(b"\x01")  # back into the raw REPL, as a board does
            code = await self.proc.wait()
            self.booted.clear()
            self._stop_timers()
            self.events = None
            why = self.exit or (Exit("soft") if code == 0 else Exit("hard", SOFT_RESET))
            self._settle_flash(why)
            soft = why.kind == "soft"
            if not soft:
                self.hw.chip_reset()  # outputs let go: the lamp is dark until the firmware drives it
            if why.kind == "stop":
                return
            if why.kind == "off":
                self._stop_wdt()
                await self.powered.wait()
                # a host tool may be writing the image: power comes on when it is done
                await asyncio.get_running_loop().run_in_executor(None, fcntl.flock, self.flash_lock, fcntl.LOCK_EX)
                continue
            if soft:
                self._print(b"MPY: soft reboot\r\n")
                continue
            if why.kind == "deepsleep":
                self._stop_wdt()
                await asyncio.sleep(why.sleep_ms / 1000)
            self.reset_cause = why.cause

    async def _rom_boot(self) -> str:
        """The chip's ROM and bootloader (rom/chip.py): "app" when MicroPython starts, "again"
        after a reset or power cut came first, "stop" when the supervisor stops."""
        self.exit = None
        try:
            start = await self.rom.run(ROM_RESET[self.reset_cause].encode())
            if self.rom.interrupt.is_set():
                raise Interrupted()     # EN or power went while the bootloader handed over to the app
        except Interrupted:
            why = self.exit or Exit("hard", HARD_RESET)
            self.hw.chip_reset()
            if why.kind == "stop":
                return "stop"
            if why.kind == "hard":
                self.reset_cause = why.cause
            return "again"
        finally:
            self._line_baud(self.baud)
        self.mpy_version = start.firmware.version
        return "app"

    def _rom_print(self, data: bytes) -> None:
        self.to_host.send(data)

    def _line_baud(self, baud: int | None) -> None:
        """A baud change on the chip's UART: a throttled line follows it."""
        if self.baud and baud:
            self.to_host.rate = baud / 10

    def _rom_banner(self) -> bytes:
        return (b"ets Jul 29 2019 12:21:46\r\n\r\nrst:" + ROM_RESET[self.reset_cause].encode()
                + b",boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n")

    def _env(self, mode: str) -> dict:
        return {
            "PATH": os.environ.get("PATH", ""), "TZ": "UTC", "HOME": str(self.dir),
            "MICROPYPATH": ".frozen/shims" if interpreter().esp32_shaped else str(SHIMS), "VBOARD_BUS": self.bus_name[1:], "VBOARD_FLASH": str(self.flash),
            "VBOARD_FLASH_STATUS": str(self.flash_status),
            **({"VBOARD_ROMFS": str(self.romfs)} if self.romfs else {}),
            "VBOARD_UID": self.uid, "VBOARD_RESET_CAUSE": str(self.reset_cause), "VBOARD_MODE": mode,
            "VBOARD_CLOCK_OFFSET_NS": str(self.clock_offset_ns), "VBOARD_NET": "1" if self.net_up else "0",
            **({"VBOARD_MPY_VERSION": self.mpy_version} if self.mpy_version else {}),
            **({"VBOARD_INISETUP": "1"} if self.rom else {}),
        }

    # --- watchdog ------------------------------------------------------------
    def _feed(self) -> None:
        self.wdt_deadline = time.monotonic() + self.wdt_timeout_ms / 1000

    def _arm_wdt(self) -> None:
        loop = asyncio.get_running_loop()
        if self.wdt_timer:
            self.wdt_timer.cancel()
        self.wdt_timer = loop.call_later(max(self.wdt_deadline - time.monotonic(), 0.001), self._wdt_check)

    def _wdt_check(self) -> None:
        if not self.wdt_timeout_ms:
            return
        if time.monotonic() >= self.wdt_deadline:
            self.wdt_timeout_ms = 0
            self._request_exit(Exit("hard", WDT_RESET))
        else:
            self._arm_wdt()

    def _stop_wdt(self) -> None:
        self.wdt_timeout_ms = 0
        if self.wdt_timer:
            self.wdt_timer.cancel()
            self.wdt_timer = None

    # --- machine.Timer ---------------------------------------------------------
    def _set_timer(self, tid: int, period_ms: int, periodic: bool) -> None:
        old = self.timers.pop(tid, None)
        if old:
            old.cancel()
        if period_ms <= 0:
            return

        def fire() -> None:
            self.timers.pop(tid, None)
            if periodic:
                self._set_timer(tid, period_ms, True)
            self.send_event(f"TIMER {tid}")

        self.timers[tid] = asyncio.get_running_loop().call_later(period_ms / 1000, fire)

    def _stop_timers(self) -> None:
        for handle in self.timers.values():
            handle.cancel()   # a reset stops the chip's timers
        self.timers.clear()

    # --- the serial console ----------------------------------------------------
    def _from_host(self) -> None:
        try:
            data = os.read(self.outer_m, 4096)
        except OSError:
            return
        if self.rom and self.rom.loader:
            self.rom.feed(data)           # the ROM's serial loader has the UART
            return
        if self.proc and self.proc.returncode is None:
            self.to_board.send(data)

    def _from_board(self) -> None:
        try:
            data = os.read(self.inner_m, 4096)
        except OSError:
            return
        window = self.tail + data
        raw_at, friendly_at = window.rfind(RAW_BANNER), window.rfind(b">>> ")
        if raw_at >= 0 or friendly_at >= 0:
            self.raw_repl = raw_at > friendly_at
        self.tail = window[-32:]
        self._print(data)
        if self.to_host.full:
            # a UART makes a fast printer wait: stop reading until the line has room
            loop = asyncio.get_running_loop()
            loop.remove_reader(self.inner_m)
            self.to_host.on_room = lambda: loop.add_reader(self.inner_m, self._from_board)

    def _print(self, data: bytes) -> None:
        """Out on the UART to the host, and into the log the rig can read."""
        self.console_log += data
        del self.console_log[:-CONSOLE_KEEP]
        self.console_total += len(data)
        self.to_host.send(data)

    # --- the firmware's requests to the hardware ------------------------------
    async def _bus_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        role = await reader.readline()
        if role == b"EVT\n":
            # what the rig changed while the interpreter was starting
            self.events = writer
            self.send_event(f"NET {int(self.net_up)}")
            self.send_event(f"CLOCK {self.clock_offset_ns}")
            return
        try:
            while line := await reader.readline():
                if line[:1] == b"!":   # a write the board does not wait on (_vbus.tell)
                    try:
                        self._bus_request(line[1:].decode().split())
                    except (OSError, ValueError, IndexError, KeyError):
                        pass
                    continue
                try:
                    reply = "OK " + self._bus_request(line.decode().split())
                except OSError as e:
                    reply = f"ERR {e.errno or 5}"
                except (ValueError, IndexError, KeyError):
                    reply = "ERR 22"
                writer.write(reply.encode() + b"\n")
        except (asyncio.CancelledError, ConnectionError):
            pass  # the board or the supervisor is going away
        finally:
            writer.close()

    def send_event(self, line: str) -> None:
        if self.events:
            self.events.write(line.encode() + b"\n")

    def _bus_request(self, req: list[str]) -> str:
        op, args = req[0], [a for a in req[1:]]
        hw = self.hw
        if op == "PWM":
            hw.set_pwm(int(args[0]), int(args[1]), int(args[2]))
        elif op == "FEED":
            self._feed()
        elif op == "GET":
            return str(hw.levels.get(int(args[0]), 0))
        elif op == "SET":
            hw.levels[int(args[0])] = int(args[1])
        elif op == "PULL":
            pin = int(args[0])
            hw.levels.setdefault(pin, 1 if int(args[1]) == 2 else 0)
        elif op == "IRQ":
            hw.irqs[int(args[0])] = int(args[1])
        elif op == "ADC":
            return str(hw.adc.get(int(args[0]), 0))
        elif op == "I2CSCAN":
            return ",".join(str(a) for a in hw.i2c_scan(args[0]))
        elif op == "I2C":
            data = b"" if args[2] == "-" else binascii.unhexlify(args[2])
            return binascii.hexlify(hw.i2c(args[0], int(args[1]), data, int(args[3]))).decode()
        elif op == "WDT":
            self.wdt_timeout_ms = int(args[0])
            self._feed()
            self._arm_wdt()
        elif op == "TIMER":
            self._set_timer(int(args[0]), int(args[1]), int(args[2]) == 1)
        elif op == "CLOCK":
            self.clock_offset_ns = int(args[0])
        elif op == "SKIPPED":
            if self.skip_done is not None and not self.skip_done.done():
                self.skip_done.set_result(None)
        elif op == "RTCMEM":
            if args:
                self.rtc_memory = b"" if args[0] == "-" else binascii.unhexlify(args[0])
            return binascii.hexlify(self.rtc_memory).decode()
        elif op == "RESET":
            self._request_exit(Exit("hard", SOFT_RESET))
        elif op == "SOFTRESET":
            self._request_exit(Exit("soft"))
        elif op == "DEEPSLEEP":
            self._request_exit(Exit("deepsleep", DEEPSLEEP_RESET, int(args[0])))
        elif op == "WIFI":
            ssid, _, key = binascii.unhexlify(args[0]).decode().partition("\0")
            ok = self.net_up and (self.wifi is None or self.wifi == (ssid, key))
            return "1" if ok else "0"
        elif op == "RSSI":
            return str(self.rssi)
        elif op == "DNS":
            # "<ms the resolver takes> <address or ->": the shim waits, blocking its caller as lwIP does
            ip = self.dns_names.get(args[0].lower()) if self.dns_answers else None
            return f"{self.dns_delay_ms} {ip or '-'}"
        elif op == "NTP":
            if not self.net_up:
                raise OSError(110, "ETIMEDOUT")
            # "<ms until the answer> <seconds since 2000>", the time as of the answer
            now = (time.time_ns() + self.world_offset_ns) // 10**9 - EPOCH_2000
            return f"{self.ntp_delay_ms} {now + self.ntp_delay_ms // 1000}"
        elif op == "LAN":
            return "1" if hw.phy_answers(*(int(a) for a in args[:5]), args[5], int(args[6])) else "0"
        elif op == "ERASE":
            self.flash_erases += 1
            if self.cut_at_erase and self.proc and self.proc.returncode is None:
                self._cut_during_erase()
        elif op == "TEMP":
            return str(round(hw.chip_temp_c + self.chip_temp_error_c))
        else:
            raise ValueError(op)
        return ""

    # --- the rig's control channel ---------------------------------------------
    async def _control_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from .control_ops import handle  # the rig's vocabulary, kept apart
        try:
            while line := await reader.readline():
                try:
                    reply = {"ok": True, **(await handle(self, json.loads(line)))}
                except (KeyError, ValueError, TypeError) as e:
                    reply = {"ok": False, "error": f"bad request: {e}"}
                except VBoardError as e:
                    reply = {"ok": False, "error": str(e)}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (asyncio.CancelledError, ConnectionError):
            pass  # the rig hung up, or the supervisor is stopping
        finally:
            writer.close()

    def board_unix_time(self) -> float:
        return (time.time_ns() + self.clock_offset_ns) / 1e9

    def set_clock(self, unix: float, rtc_only: bool = False) -> None:
        """Jump the board's RTC to `unix`; unless rtc_only, the world's time
        (NTP) too, so a board that syncs keeps the time the rig chose."""
        self.clock_offset_ns = int(unix * 1e9) - time.time_ns()
        if not rtc_only:
            self.world_offset_ns = self.clock_offset_ns
        self.send_event(f"CLOCK {self.clock_offset_ns}")

    def set_network(self, up: bool) -> None:
        self.net_up = up
        self.send_event(f"NET {int(up)}")

    def set_input(self, pin: int, value: int) -> None:
        if self.hw.edge(pin, value):
            self.send_event(f"EDGE {pin} {value}")


def _take_terminal() -> None:
    # In the child: a session of its own with the board's UART as its
    # controlling terminal, so Ctrl-C on the line reaches it as SIGINT.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def port_owner(port: Path) -> str | None:
    """Who holds the pty a port link points to (a running vboard), if anyone."""
    try:
        target = os.readlink(port)
    except OSError:
        return None
    if not target.startswith("/dev/pts/") or not os.path.exists(target):
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return f"pid {pid} ({target})"
            except OSError:
                continue
    return None


def pid_alive(pid: int) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
