"""`pilotlight vboard ...`: run virtual boards and drive them from the rig side."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..boards import BoardTypeError, board_types, load_board_file, load_board_type
from ..paths import state_home
from .board import DEFAULT_HEAP, VirtualBoard
from .control import ControlError, VBoardClient
from .host import list_boards, names, run


def _heap(value: str) -> int:
    v = value.strip().lower()
    mult = 1024 if v.endswith("k") else 1024 * 1024 if v.endswith("m") else 1
    try:
        n = int(v.rstrip("km")) * mult
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a size like 160k") from None
    if n < 8 * 1024:
        raise click.BadParameter("the heap must be at least 8k")
    return n


@click.group()
def vboard():
    """Virtual ESP32 boards that run the firmware unchanged.

    Each board is the real MicroPython interpreter behind a pseudo-terminal
    that mpremote and every serial tool treat as a board on USB:

    \b
      pilotlight vboard run --name vb --count 2 --baud 115200
      mpremote connect ~/.pilotlight/vboards/vb00/tty fs ls
      pilotlight vboard ctl vb00 pir 1
    """


@vboard.command("run")
@click.option("--name", default="vb", show_default=True, help="Board name, or prefix when --count > 1.")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, 500), help="How many boards.")
@click.option("--board-type", default="esp32-devkitc", show_default=True, help="A file in board_configs/.")
@click.option("--board-config", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A board type file of your own, instead of --board-type.")
@click.option("--heap", default=f"{DEFAULT_HEAP // 1024}k", show_default=True, help="GC heap, as gc.mem_free() + gc.mem_alloc() report it.")
@click.option("--baud", type=click.IntRange(300, 4000000), default=None, help="Throttle the console to this rate.")
@click.option("--port", type=click.Path(path_type=Path), default=None, help="Stable port path (one board only).")
@click.option("--flash", type=click.Path(path_type=Path), default=None, help="Flash image file, LittleFS (one board only).")
@click.option("--home", type=click.Path(path_type=Path), default=None, help="State folder [$PILOTLIGHT_HOME or ~/.pilotlight].")
@click.option("--blank", is_flag=True, help="Start as a chip from the reel: erased SPI flash, the ROM's loader "
              "for esptool (the flash persists: flashed boards keep their ROM).")
@click.option("--no-auto-reset", "no_auto_reset", is_flag=True,
              help="DTR/RTS not wired to EN/GPIO0: download mode only by the BOOT button (ctl boot_button 1, reset).")
@click.option("--romfs", is_flag=True, help="The firmware the app is made for: a partition table with a 128 KB `romfs` "
              "partition (the esp32 port's partitions-4MiB-romfs.csv). The app's loader copies the app into it and "
              "its code runs in place from /rom, off the heap: the whole app then fits the 96 KB default heap. "
              "Without it, a stock image: the app runs from LittleFS and needs some 144 KB.")
@click.option("--json", "as_json", is_flag=True, help="Announce the boards as one JSON line.")
def run_cmd(name, count, board_type, board_config, heap, baud, port, flash, home, blank, no_auto_reset, romfs, as_json):
    """Run boards in the foreground until Ctrl-C or SIGTERM.

    The flash image persists between runs: it is the board's filesystem.
    """
    try:
        board = load_board_file(board_config) if board_config else load_board_type(board_type)
    except BoardTypeError as e:
        raise click.ClickException(str(e)) from None
    if count > 1 and (port or flash):
        raise click.UsageError("--port and --flash name one board; drop them with --count > 1")
    heap_bytes = _heap(heap)
    home = home or state_home()
    boards = [VirtualBoard(n, board, home=home, heap=heap_bytes, baud=baud, port=port, flash=flash,
                           blank=blank, auto_reset=not no_auto_reset, romfs=romfs)
              for n in names(name, count)]
    sys.exit(run(boards, as_json))


@vboard.command("list")
@click.option("--home", type=click.Path(path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(home, as_json):
    """List the vboards known under the state folder."""
    boards = list_boards(home or state_home())
    if as_json:
        click.echo(json.dumps(boards, indent=2))
        return
    if not boards:
        click.echo("no vboards")
    for b in boards:
        click.echo(f"{b['name']:12} {'running' if b['alive'] else 'stale':8} {b['board_type']:18} {b['port']}")


@vboard.command("types")
def types_cmd():
    """List the board types in board_configs/."""
    for t in board_types():
        click.echo(f"{t:20} {load_board_type(t).get('description', '')}")


@vboard.command("ctl")
@click.argument("name")
@click.argument("op")
@click.argument("args", nargs=-1)
@click.option("--home", type=click.Path(path_type=Path), default=None)
def ctl_cmd(name, op, args, home):
    """Drive a running board from the rig side; prints JSON.

    \b
    OP and ARGS:
      status                      power, reset cause, lamp level, clock ...
      pwm [PIN]                   PWM duty written by the firmware (lamp pin by default)
      pir 0|1                     the PIR input
      set_pin PIN 0|1             any input pin (fires the firmware's irq)
      set_lux LUX                 ambient light seen by the light sensor
      set_clock UNIX              jump the board's RTC
      fault KIND [0|1]            lamp_failed, network_down, sensor_gone ADDR ...
      power_cut | power_on | reset
      boot_button 0|1             hold the BOOT button (GPIO0 low): reset then enters download mode
      download_reset              the DTR/RTS auto-reset into download mode (boards wired for it)
    """
    try:
        with VBoardClient(name, home) as c:
            click.echo(json.dumps(c.call(op, **_ctl_args(op, args))))
    except ControlError as e:
        raise click.ClickException(str(e)) from None


def _ctl_args(op: str, args: tuple[str, ...]) -> dict:
    shapes = {
        "pwm": ["pin"], "pir": ["value"], "set_pin": ["pin", "value"], "set_lux": ["lux"],
        "set_clock": ["unix"], "fault": ["kind", "on", "address"], "set_temp": ["celsius"],
        "set_adc": ["pin", "value"], "rssi": ["dbm"],
        "boot_button": ["held"],
    }
    keys = shapes.get(op, [])
    if len(args) > len(keys):
        raise click.UsageError(f"{op} takes {len(keys)} argument(s): {' '.join(keys) or 'none'}")
    out = {}
    for k, v in zip(keys, args):
        out[k] = float(v) if k in ("lux", "unix", "celsius") else int(v) if v.lstrip("-").isdigit() else v
    if op == "fault" and "on" not in out:
        out["on"] = 1
    return out
