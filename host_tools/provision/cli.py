"""`pilotlight provision`: one command for one board or a whole hub of them."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click
from rich.console import Console

from ..inventory import default_path
from ..micropython import cache, pins
from ..paths import state_home
from . import labels, render
from .flow import Job, load_firmware
from .micropython_step import Plan
from .broker_load import BrokerLoad
from .parallel import provision_all, summary_table
from .ports import PortError, explicit_port, usb_ports, vboard_ports

WIFI_KEY_ENV = "PILOTLIGHT_WIFI_KEY"


def _ports(port_args, vboards, home):
    try:
        found = [explicit_port(p, home) for p in port_args]
    except PortError as e:
        raise click.UsageError(str(e)) from None
    if not port_args:
        found = usb_ports() + (vboard_ports(home) if vboards else [])
    return found


def _micropython_plan(ports, board_type, flash: bool, home, max_baud, console) -> Plan:
    """The pinned release of every board type on the hub; with `flash`, each image loaded and
    checked now, so a missing or corrupted image stops the run before any board is touched."""
    types = {board_type or p.board_type for p in ports} - {None}
    found = {}
    for t in sorted(types):
        try:
            found[t] = pins.load(t)
        except pins.PinError:
            continue                     # nothing pinned: the board's MicroPython is not checked
    images = {}
    if flash:
        for t, pin in found.items():
            try:
                images[t] = cache.load(pin)
            except cache.ImageRefused as e:
                raise click.ClickException(f"not flashing anything: {e}") from None
    return Plan(found, images, flash, home, max_baud, say=lambda msg: console.print(f"[bold yellow]{msg}[/]"))


def _streets(db: Path, poles: list[str]) -> dict[str, str]:
    """The street of each pole, for its label."""
    from ..inventory import open_inventory, places
    with open_inventory(db) as inv:
        return {p: places.get_pole(inv, p).street for p in poles}


def _firmware(release_no, releases, key_path, console):
    """The files to write: a signed release or the source build, with the release key."""
    from ..release import build as builds, keys
    folder = None
    try:
        if release_no is not None:
            folder = builds.load(releases or builds.default_dir(), release_no).path
        path = key_path or keys.default_dir() / keys.PUBLIC
        key = keys.load_public_hex(path) if key_path or path.exists() else None
    except (builds.ReleaseError, keys.ReleaseKeyError) as e:
        raise click.ClickException(str(e)) from None
    if key is None:
        console.print("note: no release key (pilotlight release keygen): these boards cannot take updates "
                      "over the air until provisioned with one")
    return load_firmware(folder, key)


def _wifi_key(key_file: Path | None) -> str | None:
    if key_file:
        return key_file.read_text().strip()
    return os.environ.get(WIFI_KEY_ENV)


@click.command("provision")
@click.option("--port", "port_args", multiple=True, metavar="PATH",
              help="A board's serial port (repeat for several). Default: every board found on USB.")
@click.option("--vboards", is_flag=True, help="Also provision the running virtual boards under --home.")
@click.option("--home", type=click.Path(path_type=Path), default=None, help="vboard state folder [$PILOTLIGHT_HOME].")
@click.option("--list", "list_only", is_flag=True, help="Only show which boards are found, then stop.")
@click.option("--db", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Inventory file [$PILOTLIGHT_INVENTORY or ~/.pilotlight/inventory.sqlite].")
@click.option("--board-type", default=None, help="The carrier board (board_configs/), e.g. esp32-devkitc.")
@click.option("--pole", default=None, help="Put the board on this pole (one board only).")
@click.option("--pole-label", default=None, metavar="TEXT", help="A scanned pole label (pilotlight:SITE/POLE).")
@click.option("--street", default=None, help="Put each board on the next free pole of this street.")
@click.option("--district", default=None, help="The street's district, when its name is not unique.")
@click.option("--broker-host", envvar="PILOTLIGHT_BROKER_HOST", default=None,
              help="The broker the boards connect to [$PILOTLIGHT_BROKER_HOST].")
@click.option("--broker-port", type=click.IntRange(1, 65535), default=1883, show_default=True,
              help="The broker's port (its TLS port with --tls-dir).")
@click.option("--tls-dir", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              envvar="PILOTLIGHT_BROKER_TLS_DIR",
              help="The broker's TLS folder (<broker dir>/tls from `broker config --tls-port`): each board gets "
                   "the fleet CA, its own client certificate and key on flash and connects with TLS.")
@click.option("--broker-dir", type=click.Path(path_type=Path, file_okay=False), envvar="PILOTLIGHT_BROKER_DIR",
              default=None, help="The broker's files (`pilotlight broker config`): each board's new account goes "
                                 "there before its self-test logs in [$PILOTLIGHT_BROKER_DIR].")
@click.option("--broker-reload", envvar="PILOTLIGHT_BROKER_RELOAD", default=None, metavar="COMMAND",
              help="Makes the running broker reread its files, e.g. 'systemctl reload mosquitto'; alone, a "
                   "command that loads the inventory ($PILOTLIGHT_INVENTORY) into the broker "
                   "[$PILOTLIGHT_BROKER_RELOAD].")
@click.option("--wifi-ssid", envvar="PILOTLIGHT_WIFI_SSID", default=None, help="The site's Wi-Fi (Wi-Fi boards).")
@click.option("--wifi-key-file", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help=f"File holding the Wi-Fi key [or ${WIFI_KEY_ENV}]; never on the command line.")
@click.option("--baud", type=click.IntRange(9600, 3000000), default=115200, show_default=True)
@click.option("--dry-run", is_flag=True, help="Show what would be written (secrets masked); change nothing.")
@click.option("--labels", "labels_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Write a printable label for each provisioned board into this folder.")
@click.option("--label-format", type=click.Choice(["svg", "png"]), default="svg", show_default=True)
@click.option("--flash", "flash", is_flag=True,
              help="Write the pinned MicroPython (pilotlight firmware fetch) onto boards that are blank, run a "
                   "vendor image or another MicroPython release. Asked interactively when left out.")
@click.option("--flash-baud", type=click.IntRange(115200, 3000000), default=None,
              help="Cap the flashing baud rate (default: the fastest the USB-UART bridge holds).")
@click.option("--release", "release_no", type=int, default=None,
              help="Install this signed release (pilotlight release build) instead of the app built from source.")
@click.option("--releases", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="The release store [~/.pilotlight/releases].")
@click.option("--release-key", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The fleet's release public key for over-the-air updates "
                   "[~/.pilotlight/release-key/release.pub when it exists].")
@click.option("--json", "as_json", is_flag=True, help="A machine-readable report on stdout (bars on stderr).")
def provision(port_args, vboards, home, list_only, db, board_type, pole, pole_label, street, district,
              broker_host, broker_port, tls_dir, broker_dir, broker_reload, wifi_ssid, wifi_key_file, baud, dry_run,
              labels_dir, label_format, flash, flash_baud, release_no, releases, release_key, as_json):
    """Provision boards: identify, bind to a pole, write firmware + config, self-test.

    \b
    Plug the boards into the hub, then one command does them all in parallel:
      pilotlight provision --street "Rue Serpenoise" --broker-host mqtt.metz.example \\
          --broker-dir /etc/mosquitto/pilotlight --broker-reload "systemctl reload mosquitto" \\
          --wifi-ssid METZ-LIGHTS --board-type esp32-devkitc --labels labels/
    \b
    Boards that talk to the broker over TLS (certificates from the fleet's CA):
      pilotlight provision --street "Rue Serpenoise" --broker-host mqtt.metz.example \\
          --broker-port 8883 --tls-dir ~/.pilotlight/broker/tls ...
    \b
    The self-test logs in to the broker with the board's new account, so the
    broker must know it first: --broker-dir and --broker-reload load it there.
    \b
    One board onto a known pole (or scan the pole's label):
      pilotlight provision --port /dev/serial/by-path/...-port0 --pole MZ-00012 ...
      pilotlight provision --pole-label "pilotlight:metz/MZ-00012" ...
    \b
    Blank boards, or boards with a vendor image: MicroPython goes on first (esptool,
    through the chip's ROM; boards without auto-reset wiring ask you to hold BOOT):
      pilotlight firmware fetch          # once, where there is internet
      pilotlight provision --flash --street "Rue Serpenoise" ...
    \b
    Run it again at any time: a provisioned board is checked, nothing is copied
    unless it differs, and a board that failed half-way is completed.
    Passwords are never shown; --dry-run shows the config with secrets masked.

    Exit code: 0 every board passed, 1 some board failed (see the table),
    2 bad command line, 3 no board found. Field guide: docs/field-guide.md.
    """
    home = home or state_home()
    ports = _ports(port_args, vboards, home)
    console = Console(stderr=as_json)
    if list_only:
        for p in ports:
            click.echo(f"{p.path}  ({p.kind}{', ' + p.board_type if p.board_type else ''})")
    if not ports:
        console.print("no board found: plug a board in with a data cable (add --vboards for virtual boards), "
                      "or name its port with --port")
        sys.exit(3)
    if list_only:
        sys.exit(0)
    if pole_label:
        if pole:
            raise click.UsageError("give --pole or --pole-label, not both")
        try:
            _, pole, _ = labels.parse_label(pole_label)
        except labels.LabelError as e:
            raise click.UsageError(str(e)) from None
    if pole and len(ports) > 1:
        raise click.UsageError(f"--pole names one pole but {len(ports)} boards are plugged in: use --port, or --street")
    if pole and street:
        raise click.UsageError("give --pole or --street, not both")
    if not broker_host:
        raise click.UsageError("--broker-host is needed: the address the boards will reach the broker at")
    if broker_dir is not None and broker_reload is None:
        raise click.UsageError("--broker-dir needs --broker-reload: the broker must reread what is written there")
    db = db or default_path()
    if not db.exists():
        raise click.ClickException(f"{db}: no inventory here: create it with `pilotlight inventory init` and import "
                                   f"the poles first (or give --db)")
    t0 = time.monotonic()
    firmware, version = _firmware(release_no, releases, release_key, console)
    plan = _micropython_plan(ports, board_type, flash, home, flash_baud, console)
    job = Job(db=db, firmware=firmware, firmware_version=version, board_type=board_type,
              pole=pole, street=street, district=district, baud=baud, dry_run=dry_run,
              broker=BrokerLoad(broker_dir, broker_reload) if broker_reload else None,
              net=render.Network(broker_host, broker_port, wifi_ssid, _wifi_key(wifi_key_file), tls_dir),
              micropython=plan)
    results = provision_all(ports, job, console)
    waiting = [r for r in results if r.needs_flash]
    if waiting and not flash and not dry_run and not as_json and sys.stdin.isatty() and click.confirm(
            f"{len(waiting)} board(s) need MicroPython flashed first ({', '.join(r.port for r in waiting)}). "
            f"Flash them now?", default=True, err=True):
        job.micropython = _micropython_plan(ports, board_type, True, home, flash_baud, console)
        again = {r.port: r for r in provision_all([p for p in ports if p.path in {w.port for w in waiting}],
                                                    job, console)}
        results = [again.get(r.port, r) for r in results]
    wall = time.monotonic() - t0
    written = []
    if labels_dir and not dry_run:
        streets = _streets(db, [r.pole for r in results if r.ok and r.pole])
        written = [str(labels.write_label(labels_dir, r.site, r.pole, r.chip_id, label_format, streets.get(r.pole)))
                   for r in results if r.ok and r.site and r.pole]
    ok = all(r.ok for r in results)
    if not dry_run:
        _audit(db, results, version)
    if as_json:
        click.echo(json.dumps({"ok": ok, "wall_seconds": round(wall, 3), "firmware_version": version,
                               "dry_run": dry_run, "labels": written, "boards": [r.to_dict() for r in results]},
                              indent=2))
    else:
        if dry_run:
            for r in results:
                if r.config:
                    console.print(f"[bold]{r.port}[/bold] {r.chip_id} -> pole {r.pole}: would copy "
                                  f"{len(r.copied)} file(s), remove {len(r.removed)}; config.json:")
                    # the board type is board_configs/ verbatim: named, not repeated (--json has it all)
                    console.print_json(json.dumps({**r.config, "board": r.config["board"]["board_type"]}))
        console.print(summary_table(results))
        good = sum(r.ok for r in results)
        console.print(f"{good} of {len(results)} board(s) {'checked' if dry_run else 'provisioned'}, "
                      f"wall time {wall:.1f} s" + (f"; labels in {labels_dir}" if written else ""))
    sys.exit(0 if ok else 1)


def _audit(db, results, version: str) -> None:
    """One audit entry per board provisioned or attempted (who, which pole, outcome)."""
    from ..audit import record
    from ..inventory import open_inventory
    with open_inventory(db) as inv:
        for r in results:
            record(inv, "provision", f"board:{r.chip_id}", "ok" if r.ok else f"failed at {r.step}: {r.error}",
                   {"pole": r.pole, "site": r.site, "port": r.port, "firmware": version})
