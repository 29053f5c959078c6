"""The rig's vocabulary on a vboard's control channel (JSON lines).

Each op takes a dict and returns a dict merged into `{"ok": true, ...}`.
"""
from __future__ import annotations

import time

from .board import VBoardError, VirtualBoard


def _sensor(board: VirtualBoard, req: dict):
    addr = req.get("address")
    devices = board.hw.devices
    if addr is None:
        kind = req["kind"]
        found = [d for d in devices.values() if type(d).__name__.lower() == kind]
        if not found:
            raise VBoardError(f"no {kind} fitted on this board type")
        return found[0]
    if int(addr) not in devices:
        raise VBoardError(f"no I2C device at address {addr}")
    return devices[int(addr)]


async def handle(board: VirtualBoard, req: dict) -> dict:
    op = req["op"]
    hw = board.hw
    if op == "status":
        proc = board.proc
        return {
            "name": board.name, "board_type": board.board["board_type"], "port": str(board.port),
            "powered": board.powered.is_set(), "running": bool(proc and proc.returncode is None),
            "pid": proc.pid if proc and proc.returncode is None else None,
            "reset_cause": board.reset_cause, "boots": board.resets, "raw_repl": board.raw_repl,
            "uptime_s": round(time.monotonic() - board.started_at, 3) if board.started_at else 0,
            "clock": board.board_unix_time(), "network": board.net_up, "unique_id": board.uid,
            "wdt_ms": board.wdt_timeout_ms, "chip_temp_c": hw.chip_temp_c,
            "chip_temp_error_c": board.chip_temp_error_c, "lamp_level": hw.lamp_level(),
            "lamp_power_w": hw.physics.lamp_power_w, "lamp_energy_wh": hw.lamp_energy_wh(),
            **_rom_status(board),
            "flash_erases": board.flash_erases,
        }
    if op == "pwm":
        pin = int(req.get("pin", board.board["lamp"]["pin"]))
        out = hw.pwm.get(pin)
        return {"pin": pin, "freq": out.freq if out else None, "duty_u16": out.duty_u16 if out else None}
    if op == "pins":
        return {"levels": {str(k): v for k, v in hw.levels.items()},
                "pwm": {str(k): [v.freq, v.duty_u16] for k, v in hw.pwm.items()}}
    if op == "set_pin":
        board.set_input(int(req["pin"]), 1 if req["value"] else 0)
        return {}
    if op == "pir":
        pin = board.board.get("pir_pin")
        if pin is None:
            raise VBoardError("this board type has no PIR input")
        board.set_input(pin, 1 if req["value"] else 0)
        return {"pin": pin}
    if op == "set_adc":
        hw.adc[int(req["pin"])] = int(req["value"]) & 0xFFFF
        return {}
    if op == "set_lux":
        hw.physics.ambient_lux = float(req["lux"])
        return {}
    if op == "set_temp":
        hw.chip_temp_c = float(req["celsius"])
        return {}
    if op == "set_clock":
        board.set_clock(float(req["unix"]), bool(req.get("rtc_only", False)))
        return {"clock": board.board_unix_time()}
    if op == "clock":
        return {"clock": board.board_unix_time()}
    if op == "skip":  # compressed time: returns once the board is idle at the new time
        from .time_skip import skip
        await skip(board, float(req["seconds"]))
        return {"clock": board.board_unix_time(), "lamp_power_w": hw.physics.lamp_power_w,
                "lamp_energy_wh": hw.lamp_energy_wh()}
    if op == "i2c_read":  # what the firmware would read, for rig-side checks
        dev = _sensor(board, req)
        dev.write(bytes([int(req["register"])]))
        return {"hex": dev.read(int(req.get("n", 2))).hex()}
    if op == "fault":
        return _fault(board, req["kind"], bool(req.get("on", True)), req)
    if op == "power_cut":  # during "erase": when the flash chip next erases a block
        if req.get("during") == "erase":
            await board.power_cut_during_erase(float(req.get("timeout", 10)))
        else:
            await board.power_cut()
        hw.set_supply(False)
        return {"flash_torn": board.flash_torn}   # "program", "erase" or None: what the cut left part-done
    if op == "power_on":
        hw.set_supply(True)
        board.power_on()
        return {}
    if op == "reset":  # the EN button: a hard reset
        from .board import HARD_RESET, Exit
        await board._kill(Exit("hard", HARD_RESET))
        return {}
    if op in ROM_OPS:
        return await ROM_OPS[op](board, req)
    if op == "console":  # what the board printed since byte `since`, as a tap on the UART would see it
        since = max(int(req.get("since", 0)), board.console_total - len(board.console_log))
        start = len(board.console_log) - (board.console_total - since)
        return {"text": bytes(board.console_log[start:]).decode("utf-8", "replace"), "next": board.console_total}
    if op == "wifi":
        board.wifi = (req["ssid"], req["key"]) if req.get("ssid") is not None else None
        return {}
    if op == "dns":  # a name the network's DNS server answers
        board.dns_names[req["name"].lower()] = req["ip"]
        return {}
    if op == "rssi":
        board.rssi = int(req["dbm"])
        return {}
    raise ValueError(f"unknown op {op!r}")


def _rom_status(board: VirtualBoard) -> dict:
    rom = board.rom
    if rom is None:
        return {"rom": None}
    return {"rom": {"mode": rom.mode, "boot_held": rom.boot_held, "auto_reset": rom.auto_reset,
                    "bytes_in": rom.bytes_in, "written": rom.loader.bytes_written if rom.loader else 0},
            "micropython": board.mpy_version}


def _needs_rom(board: VirtualBoard):
    if board.rom is None:
        raise VBoardError(f"vboard {board.name} has no ROM (start it with --blank)")
    return board.rom


async def _boot_button(board: VirtualBoard, req: dict) -> dict:
    """The BOOT button (GPIO0 to ground): held through a reset, the chip starts its serial loader."""
    _needs_rom(board).boot_held = bool(req["held"])
    return {}


async def _download_reset(board: VirtualBoard, req: dict) -> dict:
    """What a USB-UART's DTR/RTS do through the two-transistor circuit of dev boards:
    GPIO0 low while EN pulses. Refused on a board without that wiring."""
    from .board import HARD_RESET, Exit
    rom = _needs_rom(board)
    if not rom.auto_reset:
        raise VBoardError(f"vboard {board.name}: DTR/RTS are not wired to EN/GPIO0 on this board")
    rom.strap_once = True
    await board._kill(Exit("hard", HARD_RESET))
    return {}


ROM_OPS = {"boot_button": _boot_button, "download_reset": _download_reset}


def _fault(board: VirtualBoard, kind: str, on: bool, req: dict) -> dict:
    hw = board.hw
    if kind == "lamp_failed":
        hw.lamp_failed = on
        hw.update_lamp()
    elif kind == "driver_fault":
        hw.driver_fault = on
        hw.update_lamp()
    elif kind == "sensor_gone":
        _sensor(board, req).gone = on
    elif kind == "sensor_garbage":
        _sensor(board, req).garbled = on
    elif kind == "network_down":
        board.set_network(not on)
    elif kind == "dns_slow":  # every lookup takes delay_ms, then answers
        board.dns_delay_ms = int(req.get("delay_ms", 5000)) if on else 0
    elif kind == "dns_down":  # the name server is unreachable: lwIP retries for delay_ms, then gives up
        board.dns_answers = not on
        board.dns_delay_ms = int(req.get("delay_ms", 10000)) if on else 0
    elif kind == "ntp_slow":  # the NTP server answers after delay_ms (ntptime gives up after its timeout)
        board.ntp_delay_ms = int(req.get("delay_ms", 3000)) if on else 0
    else:
        raise ValueError(f"unknown fault {kind!r} (lamp_failed, driver_fault, sensor_gone, sensor_garbage, "
                         f"network_down, dns_slow, dns_down, ntp_slow)")
    return {}
