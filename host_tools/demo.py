"""`pilotlight demo`: the main job on the embedded default, end to end on this
machine: a local Mosquitto, a street of vboards, the firmware copied onto each
over its serial console with mpremote, and the lamps answering the street."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .boards import load_board_type
from .broker.mosquitto import Mosquitto
from .firmware_build import build
from .vboard.control import VBoardClient

console = Console()


def _deploy(port: str, bundle: Path) -> None:
    entries = sorted(p.name for p in bundle.iterdir())
    subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "resume", "fs", "cp", "-r", *entries, ":"],
                   cwd=bundle, check=True, capture_output=True, timeout=120)


def _table(clients: list[VBoardClient], title: str) -> Table:
    t = Table(title=title)
    for col in ("board", "boots", "driver output", "lamp power W"):
        t.add_column(col)
    for c in clients:
        s = c.status()
        t.add_row(s["name"], str(s["boots"]), f"{s['lamp_level']:.0%}", f"{s['lamp_power_w']:.1f}")
    return t


@click.command()
@click.option("--boards", default=3, show_default=True, type=click.IntRange(1, 50))
@click.option("--keep", is_flag=True, help="Leave the boards and broker running until Ctrl-C.")
def demo(boards: int, keep: bool):
    """Run a street of virtual lamps on this machine, end to end."""
    with tempfile.TemporaryDirectory(prefix="pilotlight-demo-") as tmp:
        home = Path(tmp)
        broker = Mosquitto(home / "broker").start()
        console.print(f"[bold]broker[/] Mosquitto on 127.0.0.1:{broker.port}")
        sup = subprocess.Popen([sys.executable, "-m", "host_tools", "vboard", "run", "--name", "lamp",
                                "--count", str(boards), "--home", str(home), "--json"],
                               stdout=subprocess.PIPE, text=True)
        try:
            ready = json.loads(sup.stdout.readline())["ready"]
            console.print(f"[bold]vboards[/] {len(ready)} started: {', '.join(b['port'] for b in ready)}")
            bundle = home / "bundle"
            build(bundle)
            config = {"board": load_board_type("esp32-devkitc"), "default_level": 40,
                      "presence_level": 100, "presence_hold_s": 3}
            (bundle / "config.json").write_text(json.dumps(config))
            with console.status("copying the firmware over each serial console (mpremote)"):
                for b in ready:
                    _deploy(b["port"], bundle)
            clients = [VBoardClient(b["name"], home) for b in ready]
            for c in clients:
                c.reset()
            time.sleep(1.5)
            console.print(_table(clients, "lamps running their program"))
            clients[0].pir(True)
            time.sleep(0.5)
            console.print(_table(clients, f"motion at {ready[0]['name']}: presence boost"))
            clients[0].pir(False)
            if keep:
                console.print("running; Ctrl-C stops the boards and the broker")
                sup.wait()
            for c in clients:
                c.close()
        finally:
            sup.terminate()
            sup.wait(30)
            broker.stop()
