"""`pilotlight release`: the release key, signed releases, the release server."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..firmware_build import BuildError
from ..paths import FIRMWARE
from . import build as builds
from . import keys
from .server import raise_open_files_limit, serve_forever

KEY_DIR = click.option("--key-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
                       help="Where the release key pair lives [~/.pilotlight/release-key].")
RELEASES = click.option("--releases", type=click.Path(path_type=Path, file_okay=False), default=None,
                        help="The release store [~/.pilotlight/releases].")


def _fail(e: Exception) -> None:
    raise click.ClickException(str(e))


@click.group("release")
def release():
    """Signed app releases for over-the-air updates (docs/ota.md).

    \b
    Once per fleet, on the release officer's machine:
      pilotlight release keygen                       key pair; the private half never leaves here
    Each release:
      pilotlight release build                        compile, manifest, sign -> releases/<n>
      pilotlight release serve --host 0.0.0.0 --port 8070 &
      pilotlight release command 7 --url http://10.0.0.5:8070   the `ota` command for a roll-out
    """


@release.command("keygen")
@KEY_DIR
@click.option("--force", is_flag=True, help="Replace an existing key pair (boards trusting it must be re-provisioned).")
@click.option("--json", "as_json", is_flag=True)
def keygen_cmd(key_dir, force, as_json):
    """Make the fleet's Ed25519 release key pair.

    \b
    Example:
      pilotlight release keygen --key-dir /secure/pilotlight-key
    release.key (private, mode 0600) signs releases; release.pub goes onto
    every board at provisioning (`pilotlight provision` picks it up).
    """
    try:
        priv, pub = keys.keygen(key_dir or keys.default_dir(), force)
    except keys.ReleaseKeyError as e:
        _fail(e)
    out = {"private": str(priv), "public": str(pub), "public_hex": pub.read_text().strip()}
    click.echo(json.dumps(out) if as_json else f"private key: {priv}\npublic key:  {pub} ({out['public_hex']})")


@release.command("build")
@KEY_DIR
@RELEASES
@click.option("--number", type=int, default=None, help="Release number [latest + 1].")
@click.option("--downgrade-from", type=int, default=None,
              help="Sign permission for boards running this (higher) release to go back to this one.")
@click.option("--source", type=click.Path(path_type=Path, file_okay=False, exists=True), default=FIRMWARE,
              help="Firmware source folder [the checkout's firmware/].")
@click.option("--json", "as_json", is_flag=True)
def build_cmd(key_dir, releases, number, downgrade_from, source, as_json):
    """Compile the app, write its manifest and sign it.

    \b
    Examples:
      pilotlight release build
      pilotlight release build --number 12 --downgrade-from 14   a signed way back
    """
    try:
        key = keys.load_private((key_dir or keys.default_dir()) / keys.PRIVATE)
        rel = builds.build_release(releases or builds.default_dir(), key, number, source, downgrade_from)
    except (keys.ReleaseKeyError, builds.ReleaseError, BuildError) as e:
        _fail(e)
    if as_json:
        click.echo(json.dumps(rel.to_dict()))
    else:
        click.echo(f"release {rel.number} (version {rel.version}): {rel.files} files, {rel.bytes} bytes, "
                   f"manifest sha256 {rel.sha256}\n  in {rel.path}")


@release.command("list")
@RELEASES
@click.option("--json", "as_json", is_flag=True)
def list_cmd(releases, as_json):
    """The releases in the store, oldest first."""
    root = releases or builds.default_dir()
    try:
        found = [builds.load(root, n) for n in builds.numbers(root)]
    except builds.ReleaseError as e:
        _fail(e)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in found]))
        return
    for r in found:
        click.echo(f"{r.number:>5}  {r.version:<16} {r.files:>3} files {r.bytes:>8} bytes  {r.sha256[:16]}")


@release.command("command")
@RELEASES
@click.argument("number", type=int)
@click.option("--url", required=True, help="The release server's base URL, as the boards reach it.")
@click.option("--probation-s", type=click.IntRange(20, 3600), default=None,
              help="How long the new app has to confirm (control loop + broker) [300 on the board].")
def command_cmd(releases, number, url, probation_s):
    """Print the `ota` command (JSON, without id) that installs release NUMBER.

    \b
    Example:
      pilotlight release command 7 --url http://10.0.0.5:8070
    """
    try:
        rel = builds.load(releases or builds.default_dir(), number)
    except builds.ReleaseError as e:
        _fail(e)
    click.echo(json.dumps(rel.command(url, probation_s)))


@release.command("serve")
@RELEASES
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every one).")
@click.option("--port", type=click.IntRange(0, 65535), default=8070, show_default=True, help="0: any free port.")
@click.option("--rate", type=click.IntRange(100, None), default=None,
              help="Bytes per second per connection, to play a slow link (tests, bench).")
@click.option("--log", "log_requests", is_flag=True, help="One line per request on stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print {url} as one JSON line once listening.")
def serve_cmd(releases, host, port, rate, log_requests, as_json):
    """Serve the release store over HTTP (with Range, for resumed downloads).

    \b
    Example:
      pilotlight release serve --host 0.0.0.0 --port 8070
    The server holds no secret: boards check every byte against the signed manifest.
    """
    raise_open_files_limit()

    def ready(server):
        click.echo(json.dumps({"url": server.url}) if as_json else f"serving {server.root} at {server.url}")

    try:
        serve_forever(releases or builds.default_dir(), host, port, ready, rate,
                      (lambda line: click.echo(line, err=True)) if log_requests else None)
    except OSError as e:
        _fail(OSError(f"cannot listen on {host}:{port}: {e.strerror}"))
