"""Run one or many vboards in one process (one asyncio loop, one interpreter
process per board), until SIGTERM, SIGHUP or SIGINT; then stop every board cleanly."""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from ..signals import add_stop_handlers
from .board import VBoardError, VirtualBoard


async def serve(boards: list[VirtualBoard], announce) -> None:
    started: list[VirtualBoard] = []
    stop = asyncio.Event()
    add_stop_handlers(asyncio.get_running_loop(), stop.set)
    try:
        for b in boards:
            await b.start()
            started.append(b)
        announce(started)
        await stop.wait()
    finally:
        await asyncio.gather(*(b.stop() for b in started), return_exceptions=True)


def run(boards: list[VirtualBoard], as_json: bool, out=sys.stdout) -> int:
    def announce(started):
        if as_json:
            out.write(json.dumps({"ready": [
                {"name": b.name, "port": str(b.port), "flash": str(b.flash), "unique_id": b.uid}
                for b in started]}) + "\n")
        else:
            for b in started:
                out.write(f"{b.name}: port {b.port}  flash {b.flash}  id {b.uid}\n")
            out.write(f"{len(started)} vboard(s) running; Ctrl-C stops them\n")
        out.flush()

    try:
        asyncio.run(serve(boards, announce))
    except VBoardError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def names(prefix: str, count: int) -> list[str]:
    return [prefix] if count == 1 else [f"{prefix}{i:02d}" for i in range(count)]


def list_boards(home: Path) -> list[dict]:
    from .board import pid_alive
    found = []
    for state_file in sorted((home / "vboards").glob("*/board.json")):
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            continue
        state["alive"] = pid_alive(state.get("supervisor_pid", 0))
        found.append(state)
    return found
