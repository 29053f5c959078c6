"""`pilotlight firmware ...`: the pinned MicroPython images, fetched and checked."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from . import cache, pins


def _pins(board_types: tuple[str, ...]) -> list[pins.Pin]:
    try:
        return [pins.load(t) for t in board_types] if board_types else pins.all_pins()
    except pins.PinError as e:
        raise click.ClickException(str(e)) from None


@click.group()
def firmware():
    """The MicroPython release each board type runs (pinned in board_configs/micropython/).

    \b
    At the depot (internet access), once per release:
      pilotlight firmware fetch
    Offline, from a file someone copied to the laptop:
      pilotlight firmware fetch --board-type esp32-devkitc --image ESP32_GENERIC-20260406-v1.28.0.bin
    What is pinned and what the cache holds:
      pilotlight firmware list
    """


@firmware.command("fetch")
@click.option("--board-type", "board_types", multiple=True, help="Only this board type (repeat). Default: all.")
@click.option("--image", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="Take the image from this file instead of downloading it (one board type).")
@click.option("--mirror", default=None, metavar="URL",
              help="Download from this folder (URL) instead of the pinned address, e.g. a depot's server.")
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help=f"Image cache [${cache.CACHE_ENV} or ~/.pilotlight/firmware].")
@click.option("--json", "as_json", is_flag=True, help="A machine-readable report.")
def fetch_cmd(board_types, image, mirror, cache_dir, as_json):
    """Put the pinned images into the cache, each checked against its sha256 and the chip's
    boot checks. An image whose hash does not match is refused and nothing is stored.

    Exit code: 0 every image cached, 1 some refused or not downloaded, 2 bad command line.
    """
    chosen = _pins(board_types)
    if image and len(chosen) != 1:
        raise click.UsageError("--image is one file for one board type: add --board-type")
    console = Console(stderr=True)
    report, ok = [], True
    for pin in chosen:
        entry = {"board_type": pin.board_type, "file": pin.file, "version": pin.version}
        try:
            if image:
                data, source = image.read_bytes(), str(image)
            elif _cached_ok(pin, cache_dir):
                entry.update(status="cached", path=str(cache.cached_path(pin, cache_dir)))
                report.append(entry)
                continue
            else:
                source = f"{mirror.rstrip('/')}/{pin.file}" if mirror else pin.url
                if pin.sha256 is None:
                    cache.check(pin, b"", source)   # refuses with what to do
                data = _download(pin, source, console, as_json)
            entry.update(status="stored", path=str(cache.store(pin, data, source, cache_dir)))
        except (cache.ImageRefused, OSError) as e:
            ok = False
            entry.update(status="refused" if isinstance(e, cache.ImageRefused) else "failed", error=str(e))
            if not as_json:
                click.echo(f"error: {e}", err=True)
        report.append(entry)
    if as_json:
        click.echo(json.dumps({"ok": ok, "images": report}, indent=2))
    else:
        for e in report:
            if "path" in e:
                click.echo(f"{e['board_type']:18} {e['version']:8} {e['status']:7} {e['path']}")
    sys.exit(0 if ok else 1)


def _cached_ok(pin: pins.Pin, cache_dir) -> bool:
    try:
        cache.load(pin, cache_dir)
        return True
    except cache.ImageRefused:
        return False


def _download(pin: pins.Pin, url: str, console: Console, quiet: bool) -> bytes:
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=console,
                  disable=quiet) as bar:
        task = bar.add_task(pin.file, total=None)
        return cache.download(pin, url, lambda done, total: bar.update(task, completed=done, total=total))


@firmware.command("list")
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path, file_okay=False), default=None)
@click.option("--json", "as_json", is_flag=True)
def list_cmd(cache_dir, as_json):
    """The pinned image of each board type, and whether the cache holds it (checked)."""
    rows = [{"board_type": p.board_type, "micropython_board": p.micropython_board, "version": p.version,
             "file": p.file, "sha256": p.sha256, "cached": _cached_ok(p, cache_dir)} for p in _pins(())]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        state = "cached" if r["cached"] else "not cached" if r["sha256"] else "no sha256 pinned"
        click.echo(f"{r['board_type']:18} {r['version']:8} {r['file']:42} {state}")


@firmware.command("pin")
@click.argument("board_type")
@click.argument("image", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def pin_cmd(board_type, image):
    """Record IMAGE's sha256 as the pinned one for BOARD_TYPE, after checking it boots
    (the file must be the release the pin names: same version). For the maintainer
    who vetted a new image; commit the changed pin file."""
    try:
        pin = pins.load(board_type)
        data = image.read_bytes()
        cache.inspect(pin, data, str(image))
    except (pins.PinError, cache.ImageRefused) as e:
        raise click.ClickException(str(e)) from None
    digest = hashlib.sha256(data).hexdigest()
    pins.record_sha256(pin, digest)
    click.echo(f"{board_type}: pinned {pin.file} sha256 {digest} in {pin.path}")
