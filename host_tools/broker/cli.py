"""`pilotlight broker ...`: the fleet's Mosquitto: its files, a local broker, and the ACL proof."""
from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
from rich.table import Table

from ..cli_support import err, fail, open_db, out
from ..inventory.db import default_path
from ..inventory.errors import InventoryError
from ..paths import state_home
from ..signals import stop_signals
from . import credentials, secret_store
from .check import CheckError, identities_from_inventory, run_check
from .config import DEFAULT_PORT, BrokerSettings, write_broker_files
from .mosquitto import BrokerError, mosquitto_binary

EXIT_CHECK_FAILED = 1


def _audit(ctx, action: str, target: str, outcome: str, detail: dict | None = None) -> None:
    from ..audit import record
    with open_db(ctx) as inv:
        record(inv, action, target, outcome, detail)


def _directory(path: Path | None) -> Path:
    return path or state_home() / "broker"


_dir_option = click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
                           help="Where the files go [~/.pilotlight/broker].")
_host_option = click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
_port_option = click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535),
                            help="Port of the password listener.")
_tls_option = click.option("--tls-port", type=click.IntRange(1, 65535),
                           help="Add a TLS listener with per-device client certificates from a private CA "
                                "(made once, in <dir>/tls; retired boards' certificates are revoked).")
_name_option = click.option("--server-name", "server_names", multiple=True, metavar="NAME",
                            help="A name or address boards use to reach the broker (TLS certificate; repeatable).")


@click.group()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), envvar="PILOTLIGHT_INVENTORY",
              default=None, help="Inventory file [$PILOTLIGHT_INVENTORY or ~/.pilotlight/inventory.sqlite].")
@click.pass_context
def broker(ctx, db):
    """The fleet's MQTT broker (Mosquitto): accounts, ACL, a local broker and its proof.

    \b
    Every board gets its own account (username = its device id; a random password
    made at provisioning, written to the board, only its hash kept). Fleet accounts'
    passwords go to your own secrets file (~/.pilotlight/secrets.json, 0600) or
    come from $PILOTLIGHT_MQTT_PASSWORD; never printed. Each board may publish only under
    pl/<site>/<device>/ and read only its own and its groups' commands.
      pilotlight broker config            write mosquitto.conf, passwd and acl (0600)
      pilotlight broker up                run a local Mosquitto with them (Ctrl-C stops)
      pilotlight broker check             prove the ACL against the running broker

    Exit codes: 0 done, 1 the check found a hole, 2 bad command line, 3 refused.
    """
    ctx.ensure_object(dict)
    ctx.obj["db"] = db or default_path()


def _write(ctx, directory, host, port, tls_port, server_names=(), run_as=None):
    settings = BrokerSettings(host=host, port=port, tls_port=tls_port, run_as=run_as,
                              server_names=tuple(server_names))
    with open_db(ctx) as inv:
        try:
            files = write_broker_files(inv, _directory(directory), settings)
            accounts = credentials.list_accounts(inv)
        except InventoryError as e:
            fail(str(e))
    boards = sum(a.kind == "board" for a in accounts)
    _audit(ctx, "broker.config", f"broker:{host}:{port}", f"{boards} board and {len(accounts) - boards} fleet accounts",
           {"directory": str(files.directory), "tls_port": tls_port})
    err.print(f"{files.conf}, {files.passwd.name}, {files.acl.name} written (owner-only): "
              f"{boards} board and {len(accounts) - boards} fleet account(s)"
              + (f"; TLS certificates in {files.tls}" if tls_port else ""), highlight=False)
    return files


@broker.command("config")
@_dir_option
@_host_option
@_port_option
@_tls_option
@_name_option
@click.pass_context
def config_cmd(ctx, directory, host, port, tls_port, server_names):
    """Write the broker's files from the inventory.

    Boards without an account get one; retired boards lose theirs. Re-run it after
    boards are added, moved or retired, then reload Mosquitto (kill -HUP).
    """
    _write(ctx, directory, host, port, tls_port, server_names)


@broker.command("up")
@_dir_option
@_host_option
@_port_option
@_tls_option
@_name_option
@click.pass_context
def up_cmd(ctx, directory, host, port, tls_port, server_names):
    """Write the files and run Mosquitto with them in the foreground (Ctrl-C, SIGTERM or SIGHUP stops it)."""
    # Started by root, Mosquitto would switch to its own account and fail to read 0600 files.
    run_as = getpass.getuser() if os.geteuid() == 0 else None
    for p in filter(None, (port, tls_port)):
        if not _port_free(host, p):
            fail(f"{host}:{p} is already in use (another broker?): choose another --port/--tls-port")
    files = _write(ctx, directory, host, port, tls_port, server_names, run_as)
    try:
        proc = subprocess.Popen([mosquitto_binary(), "-c", str(files.conf)])
    except BrokerError as e:
        fail(str(e))
    try:
        with stop_signals():
            if _wait_listening(proc, host, port):
                err.print(f"broker listening on {host}:{port}" + (f" and TLS {tls_port}" if tls_port else "")
                          + "; Ctrl-C stops it", highlight=False)
            code = proc.wait()
        if code:
            fail(f"mosquitto exited with {code} (its messages are above)")
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(10)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def _wait_listening(proc, host: str, port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


@broker.command("check")
@click.option("--host", default="127.0.0.1", show_default=True, help="The broker's address.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535),
              help="The broker's (password) listener port.")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait for each message.")
@click.option("--json", "as_json", is_flag=True, help="Print the probes as JSON.")
@click.pass_context
def check_cmd(ctx, host, port, timeout, as_json):
    """Prove the ACL against the running broker, with two probe accounts and the fleet's.

    The probes (probe-a, probe-b, made by `config`) have exactly a board's rights on
    the first bound board's site and groups; no real board's password is needed.
    A board tries to publish under another board's root, to send commands (to
    others, to itself, to its group), to read another board's commands and to take
    over another's client id; each must fail. Allowed paths are tried too, so a
    broker that drops everything does not pass.
    """
    with open_db(ctx) as inv:
        try:
            a, b, fleet = identities_from_inventory(inv)
        except InventoryError as e:
            fail(str(e))
    try:
        probes = run_check(host, port, a, b, fleet, timeout)
    except (CheckError, OSError) as e:
        fail(f"cannot run the check against {host}:{port}: {e}")
    failed = [p for p in probes if not p.passed]
    if as_json:
        click.echo(json.dumps({"passed": not failed, "board_a": a.login.username, "board_b": b.login.username,
                               "probes": [p.to_dict() for p in probes]}, indent=2))
    else:
        table = Table(title=f"ACL check on {host}:{port} (board {a.login.username} vs {b.login.username})")
        for col in ("probe", "expected", "result", "detail"):
            table.add_column(col)
        for p in probes:
            table.add_row(p.name, p.expect, "[green]pass[/green]" if p.passed else "[red]FAIL[/red]", p.detail)
        out.print(table)
        out.print(f"{len(probes) - len(failed)}/{len(probes)} probes passed", highlight=False)
    sys.exit(EXIT_CHECK_FAILED if failed else 0)


@broker.command("cluster")
@click.option("--nodes", default=2, show_default=True, type=click.IntRange(1, 9), help="RabbitMQ nodes.")
@click.option("--json", "as_json", is_flag=True, help="Print the nodes' ports as JSON once up.")
@click.pass_context
def cluster_cmd(ctx, nodes, as_json):
    """Run a private RabbitMQ cluster (MQTT plugin) with the inventory's accounts until Ctrl-C.

    Each node gets its own directory, node name, ports, Erlang cookie and epmd, so it
    never meets a system RabbitMQ; logins go through the fleet's auth service (a
    board only under its own client id). Ctrl-C, SIGTERM or SIGHUP stops every node.

    \b
      pilotlight broker cluster --nodes 2
      pilotlight broker cluster --json     # {"nodes": [{"name": ..., "mqtt_port": ...}, ...]}
    """
    from .rabbitmq import RabbitCluster
    cluster = RabbitCluster(nodes=nodes)
    try:
        with stop_signals():
            err.print(f"starting {nodes} RabbitMQ node(s) (about 10 s each)...", highlight=False)
            cluster.start()
            with open_db(ctx) as inv:
                cluster.load(inv)
            ports = [{"name": n.name, "mqtt_port": n.mqtt_port} for n in cluster.nodes]
            if as_json:
                click.echo(json.dumps({"nodes": ports, "epmd_port": cluster.epmd_port,
                                       "directory": str(cluster.directory)}))
            else:
                for p in ports:
                    out.print(f"{p['name']}: MQTT on 127.0.0.1:{p['mqtt_port']}", highlight=False)
            err.print("cluster up with the inventory's accounts; Ctrl-C stops it", highlight=False)
            sys.stdout.flush()
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except (BrokerError, InventoryError) as e:
        fail(str(e))
    finally:
        cluster.stop()


@broker.command("accounts")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def accounts_cmd(ctx, as_json):
    """List the MQTT accounts (never their passwords)."""
    with open_db(ctx) as inv:
        accounts = credentials.list_accounts(inv)
    rows = [{"username": a.username, "kind": a.kind, "role": a.role, "chip_id": a.chip_id} for a in accounts]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(rows)} accounts")
    for col in ("username", "kind", "role"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["username"], r["kind"], r["role"] or "")
    out.print(table)


@broker.command("fleet-account")
@click.argument("username")
@click.option("--role", type=click.Choice(credentials.ROLES), default="operator", show_default=True,
              help="operator: read all and send commands; monitor: read only.")
@click.pass_context
def fleet_account_cmd(ctx, username, role):
    """Create a fleet tool's account, then re-run `config`.

    Its password goes to your secrets file (~/.pilotlight/secrets.json, 0600), the
    inventory keeps only its hash. Another operator gets it from you, or sets
    $PILOTLIGHT_MQTT_PASSWORD.
    """
    with open_db(ctx) as inv:
        try:
            acc = credentials.ensure_fleet_account(inv, username, role)
        except InventoryError as e:
            fail(str(e))
    _audit(ctx, "broker.account", f"account:{username}", "ensured", {"role": role})
    out.print(f"fleet account {acc.username} ({acc.role}); run `pilotlight broker config` to apply", highlight=False)


@broker.command("rotate")
@click.argument("username")
@click.pass_context
def rotate_cmd(ctx, username):
    """Give an account a new password.

    A fleet account's goes to your secrets file. A board's is known to nobody: the
    board is locked out (after `config` and a reload) until it is re-provisioned,
    which gives it a fresh one.
    """
    with open_db(ctx) as inv:
        try:
            acc = credentials.rotate(inv, username)
        except InventoryError as e:
            fail(str(e))
    _audit(ctx, "broker.rotate", f"account:{username}", "rotated", {"kind": acc.kind})
    where = "nowhere: re-provision the board" if acc.kind == "board" else f"in {secret_store.path()}"
    out.print(f"new password for {acc.username}, kept {where}; run `pilotlight broker config` and reload",
              highlight=False)
