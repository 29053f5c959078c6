"""Every board on the hub at once: one thread and one progress bar per board,
a summary table at the end. A board that fails never stops the others."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .flow import Job, Result, provision_board
from .ports import Port

# Where each step starts on a board's bar: the sync is most of the wall time.
_BAR_AT = {"connect": 0, "identify": 5, "bind": 8, "render": 10, "sync": 12, "self-test": 88, "restart": 96}
_SYNC_SPAN = _BAR_AT["self-test"] - _BAR_AT["sync"]
# A board that gets MicroPython first: the flash takes the first part of its bar, the usual steps the rest.
_FLASH_AT = {"download": (0, 2), "erase": (2, 4), "flash": (4, 36), "verify": (36, 40)}
_FLASH_PART = 40


def _slot_name(port: Port) -> str:
    """Short enough for a bar's label: the hub slot or the vboard's name."""
    path = Path(port.path)
    return path.parent.name if port.kind == "vboard" else path.name.replace("-port0", "")[-28:]


def provision_all(ports: list[Port], job: Job, console: Console | None = None, bars: bool = True) -> list[Result]:
    results: list[Result | None] = [None] * len(ports)
    progress = Progress(TextColumn("{task.description:<16}"), BarColumn(), TextColumn("{task.fields[step]:<10}"),
                        TimeElapsedColumn(), console=console, disable=not bars, transient=False)
    lock = threading.Lock()

    def one(i: int, port: Port) -> None:
        task = progress.add_task(_slot_name(port), total=100, step="connect")

        flashing = []

        def show(step: str, fraction: float) -> None:
            if step in _FLASH_AT:
                flashing.append(step)
                start, end = _FLASH_AT[step]
                done = start + (end - start) * fraction
            else:
                done = _BAR_AT.get(step, 0) + (_SYNC_SPAN * fraction if step == "sync" else 0)
                if flashing:
                    done = _FLASH_PART + done * (100 - _FLASH_PART) / 100
            with lock:
                progress.update(task, completed=done, step=step)

        try:
            result = provision_board(port, job, show)
        except Exception as e:   # a bug on one board must not take the others down with it
            result = Result(port=port.path, error=f"internal error: {type(e).__name__}: {e}")
        results[i] = result
        progress.update(task, completed=100 if result.ok else progress.tasks[task].completed,
                        step="done" if result.ok else "FAILED")

    with progress, ThreadPoolExecutor(max_workers=max(1, len(ports))) as pool:
        for future in [pool.submit(one, i, p) for i, p in enumerate(ports)]:
            future.result()
    return [r for r in results if r is not None]


def summary_table(results: list[Result]) -> Table:
    table = Table(title="provisioning summary")
    for col in ("port", "chip id", "pole", "state", "MicroPython", "copied", "seconds", "result"):
        table.add_column(col)
    for r in results:
        outcome = "[green]ok[/green]" if r.ok else f"[red]failed at {r.step}[/red]: {r.error}"
        flashed = f"flashed {r.flashed['version']} @{r.flashed['baud']}" if r.flashed else "-"
        table.add_row(r.port, r.chip_id or "?", r.pole or "-", r.state or "-", flashed, str(len(r.copied)),
                      f"{r.seconds:.1f}", outcome)
    return table

