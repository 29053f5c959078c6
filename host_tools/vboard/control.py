"""A small client for a vboard's control channel, for the rig and the CLI."""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from ..paths import state_home


class ControlError(Exception):
    pass


def board_state(name: str, home: Path | None = None) -> dict:
    path = (home or state_home()) / "vboards" / name / "board.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ControlError(f"no running vboard named {name!r} (looked for {path})") from None


class VBoardClient:
    def __init__(self, name: str, home: Path | None = None, state: dict | None = None):
        self.state = state or board_state(name, home)
        self.name = self.state["name"]
        self.port = self.state["port"]
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect("\0" + self.state["control"])
        except OSError as e:
            raise ControlError(f"vboard {self.name} does not answer on its control channel: {e}") from None
        self.file = self.sock.makefile("rwb")

    def call(self, op: str, **args) -> dict:
        self.file.write(json.dumps({"op": op, **args}).encode() + b"\n")
        self.file.flush()
        line = self.file.readline()
        if not line:
            raise ControlError(f"vboard {self.name} closed its control channel")
        reply = json.loads(line)
        if not reply.pop("ok"):
            raise ControlError(reply["error"])
        return reply

    # the rig's everyday verbs
    def status(self) -> dict:
        return self.call("status")

    def duty(self, pin: int | None = None) -> int | None:
        return self.call("pwm", **({} if pin is None else {"pin": pin}))["duty_u16"]

    def lamp_level(self) -> float:
        return self.status()["lamp_level"]

    def pir(self, value: bool) -> None:
        self.call("pir", value=value)

    def set_pin(self, pin: int, value: bool) -> None:
        self.call("set_pin", pin=pin, value=value)

    def set_lux(self, lux: float) -> None:
        self.call("set_lux", lux=lux)

    def set_clock(self, unix: float, rtc_only: bool = False) -> None:
        """Set the board's RTC, and the world's time its NTP sees unless rtc_only."""
        self.call("set_clock", unix=unix, rtc_only=rtc_only)

    def clock(self) -> float:
        return self.call("clock")["clock"]

    def skip(self, seconds: float) -> dict:
        """Compressed time: the board's time (ticks, RTC, NTP) jumps `seconds` ahead as
        if it had idled through them. Once the board is idle again: its `clock`, and
        its lamp's `lamp_power_w` and `lamp_energy_wh`."""
        return self.call("skip", seconds=seconds)

    def fault(self, kind: str, on: bool = True, **where) -> None:
        self.call("fault", kind=kind, on=on, **where)

    def power_cut(self, during: str | None = None) -> str | None:
        """Cut the supply now, or `during="erase"`: while the flash chip next
        erases a block. Returns what the cut left part-done on the flash."""
        return self.call("power_cut", **({"during": during} if during else {}))["flash_torn"]

    def power_on(self) -> None:
        self.call("power_on")

    def reset(self) -> None:
        self.call("reset")

    def console(self, since: int = 0) -> tuple[str, int]:
        """What the board printed on its console from byte `since` on, and the next offset."""
        reply = self.call("console", since=since)
        return reply["text"], reply["next"]

    def wait_console(self, text: str, since: int = 0, timeout: float = 20.0, interval: float = 0.002) -> None:
        """Until the board prints `text` (on its console from byte `since` on)."""
        deadline = time.monotonic() + timeout
        while text not in self.console(since)[0]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"vboard {self.name}: never printed {text!r} in {timeout}s")
            time.sleep(interval)

    def wait_for(self, predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
        """Poll the board's status until predicate(status) is truthy."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            value = predicate(st)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"vboard {self.name}: {what} not reached in {timeout}s (last status {st})")
            time.sleep(interval)

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
