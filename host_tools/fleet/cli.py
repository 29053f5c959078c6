"""`pilotlight fleet ...`: the operator's side of the MQTT contract."""
from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import click

from ..inventory.db import default_path
from ..signals import stop_event
from . import status as status_mod
from .account import fleet_login
from ..cli_support import err, fail, open_db, out
from .render import status_table

EXIT_FAILED = 1       # the work ran, some boards failed (see the report)


site_option = click.option("--site", required=True, help="The site (its id, as in MQTT topics).")
broker_options = [
    click.option("--host", default="127.0.0.1", show_default=True, help="Broker host."),
    click.option("--port", default=1883, show_default=True, type=click.IntRange(1, 65535), help="Broker port."),
]


def with_broker(f):
    for opt in reversed(broker_options):
        f = opt(f)
    return f


@click.group()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), envvar="PILOTLIGHT_INVENTORY",
              default=None, help="Inventory file [$PILOTLIGHT_INVENTORY or ~/.pilotlight/inventory.sqlite].")
@click.pass_context
def fleet(ctx, db):
    """Fleet operations over MQTT: status, commands, drift, roll-outs, the simulator.

    \b
      pilotlight fleet collect --site metz --account monitor     keep every board's view (runs until stopped)
      pilotlight fleet status --site metz --district Centre      the lamps, street by street
      pilotlight fleet status --site metz --offline --json       what is offline, as data
      pilotlight fleet watch --site metz                         the same, live
      pilotlight fleet lamp-replaced --site metz --board 240ac4a1b2c3 --note "work order 4711"

    Exit codes: 0 done, 1 some boards failed, 2 bad command line, 3 refused.
    """
    ctx.ensure_object(dict)
    ctx.obj["db"] = db or default_path()


@fleet.command()
@site_option
@with_broker
@click.option("--account", default="monitor", show_default=True, help="Fleet account (a monitor is enough).")
@click.option("--queue", is_flag=True,
              help="Keep a persistent session (QoS 1): what the boards send while the collector is away, "
                   "their Wills above all, waits at the broker. For a RabbitMQ cluster, whose retained "
                   "messages never reach the collector; not for Mosquitto (its retained messages do that, "
                   "and its per-client queue is too short for a district).")
@click.pass_context
def collect(ctx, site, host, port, account, queue):
    """Keep every board's view in the inventory until stopped (Ctrl-C, SIGTERM, SIGHUP).

    \b
      pilotlight fleet collect --site metz --port 1883 --account monitor
      pilotlight fleet collect --site metz --port 1884 --queue          on a RabbitMQ cluster
    """
    from .collector import Collector
    with open_db(ctx) as inv:
        try:
            user, password = fleet_login(inv, account)
        except Exception as e:  # noqa: BLE001 - a clear line, not a traceback
            fail(str(e))
    collector = Collector(ctx.obj["db"], site, host, port, user, password, queue=queue)
    stop = stop_event()   # SIGTERM and SIGHUP stop it as Ctrl-C does: cleanly
    kept = f", session {collector.client_id} kept at the broker" if queue else ""
    err.print(f"collecting pl/{site}/+/+ from {host}:{port} as {user}{kept}; Ctrl-C stops")
    collector.run(stop)
    err.print(f"stopped after {collector.received} messages")


@fleet.command()
@site_option
@click.option("--district", help="Only this district (name or slug).")
@click.option("--street", help="Only this street (name, slug or street group).")
@click.option("--offline", is_flag=True, help="Only boards that are offline or never seen.")
@click.option("--faulty", is_flag=True, help="Only boards with a fault raised.")
@click.option("--drift", is_flag=True, help="Only boards whose program or settings differ from the desired ones.")
@click.option("--fw", help="Only boards running this firmware version.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx, site, district, street, offline, faulty, drift, fw, as_json):
    """The site's boards by district and street, in street order, as last heard.

    \b
      pilotlight fleet status --site metz
      pilotlight fleet status --site metz --street "Rue A" --faulty
      pilotlight fleet status --site metz --fw 0.1.0 --json
    """
    with open_db(ctx) as inv:
        board_rows = status_mod.rows(inv, site, district, street)
        drifted = None
        if drift:
            from .drift import drift_report
            drifted = {d for d, diffs in drift_report(inv, site, board_rows).items() if diffs}
    chosen = status_mod.select(board_rows, offline, faulty, fw, drifted)
    if as_json:
        click.echo(json.dumps({"summary": status_mod.summary(chosen), "boards": chosen}, default=str))
        return
    out.print(status_table(chosen, f"site {site}"))


@fleet.command()
@site_option
@click.option("--district", help="Only this district.")
@click.option("--street", help="Only this street.")
@click.option("--every", default=1.0, show_default=True, type=click.FloatRange(0.2, 60), help="Refresh period (s).")
@click.pass_context
def watch(ctx, site, district, street, every):
    """A live view of `fleet status` (needs `fleet collect` running). Ctrl-C stops.

    \b
      pilotlight fleet watch --site metz --street "Rue A"
    """
    from rich.live import Live
    stop = stop_event()   # SIGTERM and SIGHUP stop it as Ctrl-C does: cleanly
    with open_db(ctx) as inv, Live(console=out, auto_refresh=False) as live:
        def draw():
            live.update(status_table(status_mod.rows(inv, site, district, street), f"site {site} (live)"), refresh=True)
        draw()
        err.print(f"watching site {site} every {every:g} s; Ctrl-C stops", highlight=False)
        while not stop.wait(every):
            draw()


def register(cli_group) -> None:
    from .sim.cli import sim
    fleet.add_command(sim)
    cli_group.add_command(fleet)


def _target(inv, site, board, street, district, group, everything, offline, faulty, fw, drift):
    from . import targets
    scopes = [x for x in (board, street, district, group) if x] + (["all"] if everything else [])
    if len(scopes) != 1:
        fail("name exactly one target: --board, --street, --district, --group or --all")
    if board:
        t = targets.boards(site, board.split(","))
    elif street:
        t = targets.street(inv, site, street)
    elif district:
        t = targets.district(inv, site, district)
    elif group:
        t = targets.group(inv, site, group)
    else:
        t = targets.site(inv, site)
    if offline or faulty or fw or drift:
        board_rows = status_mod.rows(inv, site)
        drifted = None
        if drift:
            from .drift import drift_report
            drifted = {d for d, diffs in drift_report(inv, site, board_rows).items() if diffs}
        keep = {r["device_id"] for r in status_mod.select(board_rows, offline, faulty, fw, drifted)}
        t = targets.narrowed(t, site, keep, "filter")
    if not t.devices:
        fail(f"{t.label}: no board to send to")
    return t


def target_options(f):
    for opt in reversed([
        click.option("--board", help="One board (device id), or several separated by commas."),
        click.option("--street", help="A street (name, slug or street group): one publish on its group topic."),
        click.option("--district", help="A district (name or slug): one publish on its group topic."),
        click.option("--group", help="A group (custom, district or street group name)."),
        click.option("--all", "everything", is_flag=True, help="Every board of the site (one publish per district)."),
        click.option("--offline", is_flag=True, help="Narrow to boards offline now (one publish each)."),
        click.option("--faulty", is_flag=True, help="Narrow to boards with a fault."),
        click.option("--fw", help="Narrow to boards on this firmware version."),
        click.option("--drift", is_flag=True, help="Narrow to boards that drift from their desired state."),
    ]):
        f = opt(f)
    return f


def _fields(text: str | None) -> dict:
    if not text:
        return {}
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as e:
            fail(f"{text[1:]}: {e.strerror}")
    try:
        value = json.loads(text)
    except ValueError as e:
        fail(f"command fields: not valid JSON ({e})")
    if not isinstance(value, dict):
        fail("command fields: expected a JSON object, e.g. '{\"level\": 50}'")
    return value


@fleet.command()
@site_option
@target_options
@with_broker
@click.option("--account", default="fleet", show_default=True, help="Fleet operator account.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.5, 600),
              help="Seconds to wait for the answers (per attempt).")
@click.option("--retries", default=1, show_default=True, type=click.IntRange(0, 10),
              help="Send again to the silent boards this many times (same id: never applied twice).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: every board's outcome.")
@click.argument("name")
@click.argument("fields", required=False)
@click.pass_context
def command(ctx, site, board, street, district, group, everything, offline, faulty, fw, drift, host, port, account,
            timeout, retries, as_json, name, fields):
    """Send command NAME with FIELDS (JSON, or @file.json) and report every board:
    ok, refused (with its error) or silent.

    \b
      pilotlight fleet command --site metz --district Centre level '{"level": 30, "duration_s": 600}'
      pilotlight fleet command --site metz --street "Rue A" program '{"program": {...}}'
      pilotlight fleet command --site metz --all --offline ping
      pilotlight fleet command --site metz --board 240ac4a1b2c3 identify '{"duration_s": 60}'
      pilotlight fleet command --site metz --all ping '{"state": true}'   # every board sends its state again

    The last one gives a collector that started with no retained state to read
    (on a RabbitMQ cluster) the whole picture. The command is checked with the firmware's own rules before it is sent.
    Exit codes: 0 every board ok, 1 some refused or silent, 3 refused here.
    """
    from .commander import Commander, check
    from .dispatch import command as dispatch
    body = _fields(fields)
    try:
        check(name, "x", body)
    except ValueError as e:
        fail(str(e))
    with open_db(ctx) as inv:
        try:
            target = _target(inv, site, board, street, district, group, everything, offline, faulty, fw, drift)
            user, password = fleet_login(inv, account)
        except Exception as e:  # noqa: BLE001
            fail(str(e))
        try:
            with Commander(site, host, port, user, password) as cmd:
                with out.status(f"{name} to {target.label}: {len(target.devices)} boards"):
                    result = dispatch(inv, cmd, name, body, target, timeout, retries)
        except (OSError, ConnectionError) as e:
            fail(f"broker {host}:{port}: {e}")
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    else:
        out.print(f"{name} {result.cmd_id} to {target.label} ({len(target.devices)} boards, "
                  f"{result.seconds:.1f} s): {result.summary()}")
        for d, (o, e) in result.results.items():
            if o != "ok":
                out.print(f"  {d}: {o}" + (f" ({e})" if e else ""), highlight=False)
    sys.exit(0 if result.counts()["ok"] == len(target.devices) else EXIT_FAILED)


@fleet.command("lamp-replaced")
@site_option
@click.option("--board", required=True, help="The board (device id) whose lamp was replaced.")
@click.option("--burn-h", default=0, show_default=True, type=click.IntRange(0, 200000),
              help="Hours the fitted lamp has already burned (0: a new lamp).")
@click.option("--note", default="", help="For the record: which lamp, the work order, why.")
@with_broker
@click.option("--account", default="fleet", show_default=True, help="Fleet operator account.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.5, 600),
              help="Seconds to wait for the board's answer (per attempt).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the outcome and the old lamp's figures.")
@click.pass_context
def lamp_replaced_cmd(ctx, site, board, burn_h, note, host, port, account, timeout, as_json):
    """Tell a board its lamp was replaced: its burn hours and on/off cycles
    start again (and constant light output with them). The old lamp's hours go
    into the audit log (`pilotlight audit`) and the board's history
    (`pilotlight inventory show`).

    \b
      pilotlight fleet lamp-replaced --site metz --board 240ac4a1b2c3 --note "LED module, work order 4711"
      pilotlight fleet lamp-replaced --site metz --board 240ac4a1b2c3 --burn-h 1200 --json   (a used spare)

    Exit codes: 0 done, 1 the board refused or did not answer, 3 refused here.
    """
    from .commander import OK, Commander
    from .relamp import lamp_replaced
    with open_db(ctx) as inv:
        try:
            user, password = fleet_login(inv, account)
        except Exception as e:  # noqa: BLE001
            fail(str(e))
        try:
            with Commander(site, host, port, user, password) as cmd:
                with out.status(f"lamp_replaced to {board}"):
                    report = lamp_replaced(inv, cmd, board, burn_h, note, timeout)
        except (OSError, ConnectionError) as e:
            fail(f"broker {host}:{port}: {e}")
    if as_json:
        click.echo(json.dumps(report))
    elif report["outcome"] == OK:
        out.print(f"{board}: lamp replaced; the old lamp had {report['burn_h_was']} h and {report['cycles_was']} "
                  f"cycles (recorded)", highlight=False)
    else:
        out.print(f"{board}: {report['outcome']}" + (f" ({report['error']})" if report["error"] else ""),
                  highlight=False)
    sys.exit(0 if report["outcome"] == OK else EXIT_FAILED)


@fleet.command()
@site_option
@with_broker
@click.option("--district", help="Only this district.")
@click.option("--street", help="Only this street.")
@click.option("--account", default="fleet", show_default=True, help="Fleet operator account.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.5, 600))
@click.option("--dry-run", is_flag=True, help="Show what drifted and what would be sent; send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def sync(ctx, site, host, port, district, street, account, timeout, dry_run, as_json):
    """Re-send what drifted: each board's desired program and settings (from
    `fleet desired`), compared by the hashes the boards report.

    \b
      pilotlight fleet sync --site metz --dry-run
      pilotlight fleet sync --site metz --district Centre

    Exit codes: 0 nothing left drifting, 1 some boards refused, were silent or need OTA, 3 refused.
    """
    from . import sync as sync_mod
    from .commander import Commander
    with open_db(ctx) as inv:
        fixes = sync_mod.plan(inv, site, status_mod.rows(inv, site, district, street))
        if dry_run:
            plan = [{"fix": f.why, "command": f.name, "boards": f.devices} for f in fixes]
            if as_json:
                click.echo(json.dumps(plan))
            else:
                for p in plan:
                    out.print(f"{p['fix']}: {len(p['boards'])} boards ({p['command'] or 'not by a command'})")
                out.print(f"{sum(len(f.devices) for f in fixes)} fixes planned, nothing sent (--dry-run)")
            return
        try:
            user, password = fleet_login(inv, account)
            with Commander(site, host, port, user, password) as cmd:
                results = sync_mod.run(inv, cmd, site, fixes, timeout)
        except (OSError, ConnectionError) as e:
            fail(f"broker {host}:{port}: {e}")
    failed = any(not r["sent"] or r["command"]["counts"]["ok"] < len(r["command"]["boards"]) for r in results)
    if as_json:
        click.echo(json.dumps(results))
    else:
        for r in results:
            out.print(f"{r['fix']}: " + (r["command"]["target"] + " " + ", ".join(
                f"{k}: {v}" for k, v in r["command"]["counts"].items()) if r["sent"] else
                f"{len(r['boards'])} boards, not sent"))
        out.print("nothing drifted" if not results else f"{len(results)} fixes sent")
    sys.exit(EXIT_FAILED if failed else 0)


@fleet.group()
def desired():
    """What boards should run: program, settings, firmware; per site, district, street or board.

    \b
      pilotlight fleet desired set --site metz --district Centre program @night.json
      pilotlight fleet desired set --site metz --street "Rue A" default_level 60
      pilotlight fleet desired set --site metz firmware '"0.2.0"'
      pilotlight fleet desired show --site metz --json
    """


def _scope(district, street, board):
    given = [(s, n) for s, n in (("district", district), ("street", street), ("board", board)) if n]
    if len(given) > 1:
        fail("give at most one of --district, --street, --board (none: the whole site)")
    return given[0] if given else ("site", "")


@desired.command("set")
@site_option
@click.option("--district", help="For this district (slug).")
@click.option("--street", help="For this street (its group, district.street).")
@click.option("--board", help="For this board (device id).")
@click.argument("key")
@click.argument("value")
@click.pass_context
def desired_set(ctx, site, district, street, board, key, value):
    """Set KEY (program, firmware, or a setting) to VALUE (JSON, or @file.json)."""
    from ..audit import record
    from . import desired as desired_mod
    if value.startswith("@"):
        parsed = _fields(value)
    else:
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value   # a bare word: a string
    scope, name = _scope(district, street, board)
    with open_db(ctx) as inv:
        try:
            desired_mod.set_value(inv, site, scope, name, key, parsed)
        except ValueError as e:
            fail(str(e))
        shown = parsed.get("id") if key == "program" and isinstance(parsed, dict) else parsed
        record(inv, "fleet.desired.set", f"{scope}:{name or site}", "set", {"key": key, "value": shown})
    out.print(f"desired {key} for {scope} {name or site}: {shown}")


@desired.command("show")
@site_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def desired_show(ctx, site, as_json):
    """Everything set, by scope."""
    with open_db(ctx) as inv:
        found = [dict(r) for r in inv.query("SELECT scope, name, key, value, set_at, set_by FROM fleet_desired "
                                            "WHERE site_id = ? ORDER BY scope, name, key", (site,))]
    if as_json:
        click.echo(json.dumps(found))
        return
    for r in found:
        out.print(f"{r['scope']:9} {r['name'] or site:24} {r['key']:16} {r['value'][:60]}  ({r['set_by']}, {r['set_at']})",
                  highlight=False)


def _share(text: str, what: str) -> float:
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        fail(f"{what}: {text!r} is not a share such as 2% or 0.02")


@fleet.group()
def rollout():
    """Staged roll-outs of a program or settings: a canary, growing waves, soak, halt, resume, roll-back.

    \b
      pilotlight fleet rollout start --site metz --district Centre --program @winter.json --dry-run
      pilotlight fleet rollout start --site metz --district Centre --program @winter.json \\
          --canary 1% --soak 600 --threshold 2%
      pilotlight fleet rollout status 3
      pilotlight fleet rollout resume 3          after a fix (or after the tool was killed)
      pilotlight fleet rollout rollback 3        every board gets back what it had

    Exit codes: 0 done (or rolled back), 1 halted or some boards failed, 3 refused.
    """


def _engine_run(ctx, rid, host, port, account, action: str, as_json: bool):
    from . import rollout_store, view_store
    from .commander import Commander
    from .rollout import Engine, RolloutHalted
    with open_db(ctx) as inv:
        try:
            ro = rollout_store.get(inv, rid)
            user, password = fleet_login(inv, account)
        except Exception as e:  # noqa: BLE001
            fail(str(e))
        views = view_store.load(inv, ro.site)
        stop_on_signals_kill()
        try:
            with Commander(ro.site, host, port, user, password, views=views) as cmd:
                engine = Engine(inv, cmd, rid, progress=lambda text: err.print(text, highlight=False))
                final = {"run": engine.run, "resume": engine.resume, "rollback": engine.rollback}[action]()
        except RolloutHalted as e:
            fail(str(e))
        except (OSError, ConnectionError) as e:
            fail(f"broker {host}:{port}: {e}")
        report = _rollout_report(inv, rid)
    if as_json:
        click.echo(json.dumps(report))
    else:
        out.print(f"roll-out {rid}: {final} {report['counts']}" + (f" ({report['reason']})" if report["reason"] else ""))
    sys.exit(0 if final in ("done", "rolled_back") else EXIT_FAILED)


def stop_on_signals_kill():
    """A roll-out stops where it is on SIGTERM/SIGHUP (its progress is saved step by step)."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(128 + 15))


def _rollout_report(inv, rid) -> dict:
    from dataclasses import asdict

    from . import rollout_store
    ro = rollout_store.get(inv, rid)
    boards = rollout_store.boards(inv, rid)
    return {"id": rid, "status": ro.status, "reason": ro.reason, "target": ro.target, "plan": asdict(ro.plan),
            "change": ro.change.get("kind"), "counts": rollout_store.counts(inv, rid),
            "boards": {b["device_id"]: {"wave": b["wave"], "step": b["step"], "error": b["error"],
                                        "command_id": b["command_id"], "previous": b["previous"]} for b in boards}}


def _release_change(number, url, releases, probation_s):
    from ..release import build as builds
    from ..release.campaign import FirmwareChange
    if not url:
        raise ValueError("--release needs --release-url: the release server's address as the boards reach it")
    try:
        rel = builds.load(releases or builds.default_dir(), number)
    except builds.ReleaseError as e:
        raise ValueError(str(e)) from None
    return FirmwareChange.of(rel, url, probation_s)


@rollout.command("start")
@site_option
@target_options
@with_broker
@click.option("--program", "program_text", help="The program document (JSON or @file.json).")
@click.option("--config", "config_text", help="Settings to change (JSON object, or @file.json).")
@click.option("--release", "release_no", type=int, default=None,
              help="An OTA campaign: this signed release (pilotlight release build); give --release-url.")
@click.option("--release-url", default=None, help="The release server's base URL, as the boards reach it.")
@click.option("--releases", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="The release store [~/.pilotlight/releases].")
@click.option("--probation", "probation_s", default=300, show_default=True, type=click.IntRange(20, 3600),
              help="OTA: seconds the new app has to confirm (control loop alive, broker connected).")
@click.option("--canary", default="1%", show_default=True, help="First wave: a number of boards or a share.")
@click.option("--growth", default=2.0, show_default=True, type=click.FloatRange(1.0, 100), help="Wave size factor.")
@click.option("--soak", default=60.0, show_default=True, type=click.FloatRange(0), help="Seconds healthy per wave.")
@click.option("--threshold", default="2%", show_default=True, help="Halt when this share of boards failed.")
@click.option("--timeout", default=15.0, show_default=True, type=click.FloatRange(0.5, 600),
              help="Seconds to wait for a wave's answers.")
@click.option("--max-boots", default=1, show_default=True, type=click.IntRange(0), help="Boots in a soak beyond "
              "this are a reboot loop.")
@click.option("--account", default="fleet", show_default=True, help="Fleet operator account.")
@click.option("--dry-run", is_flag=True, help="Print the plan (waves, boards) and send nothing.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def rollout_start(ctx, site, board, street, district, group, everything, offline, faulty, fw, drift, host, port,
                  program_text, config_text, release_no, release_url, releases, probation_s, canary, growth, soak,
                  threshold, timeout, max_boots, account, dry_run, as_json):
    """Roll a program, settings or a release (OTA) out to the target in waves.

    \b
    An OTA campaign (docs/ota.md): each wave settles (confirmed, refused or rolled back)
    before its soak; two boots per board:
      pilotlight fleet rollout start --district Centre --release 7 \\
          --release-url http://10.0.0.5:8070 --soak 600 --max-boots 2
    """
    from . import changes
    from .rollout import start
    from .rollout_store import Plan, _spread
    if sum(map(bool, (program_text, config_text, release_no is not None))) != 1:
        fail("give exactly one change: --program, --config or --release")
    try:
        if release_no is not None:
            change = _release_change(release_no, release_url, releases, probation_s)
        else:
            change = changes.ProgramChange(_fields(program_text)) if program_text else \
                changes.ConfigChange(_fields(config_text))
    except ValueError as e:
        fail(str(e))
    with open_db(ctx) as inv:
        try:
            target = _target(inv, site, board, street, district, group, everything, offline, faulty, fw, drift)
        except Exception as e:  # noqa: BLE001
            fail(str(e))
        n = len(target.devices)
        first = max(1, round(n * _share(canary, "--canary"))) if canary.endswith("%") else int(canary)
        plan = Plan(first, growth, soak, _share(threshold, "--threshold"), timeout, max_boots)
        if dry_run:
            order, start_at, waves = _spread(list(target.devices), 0), 0, []
            for i, size in enumerate(plan.waves(n)):
                waves.append({"wave": i, "boards": size, "examples": order[start_at:start_at + 3]})
                start_at += size
            report = {"change": change.describe(), "target": target.label, "boards": n, "waves": waves,
                      "soak_s": soak, "threshold": plan.threshold, "timeout_s": timeout}
            if as_json:
                click.echo(json.dumps(report))
            else:
                out.print(f"{change.describe()} to {target.label}: {n} boards in {len(waves)} waves "
                          f"({', '.join(str(w['boards']) for w in waves)}), soak {soak:g} s each, "
                          f"halt above {plan.threshold:.1%} failed; nothing sent (--dry-run)")
            return
        rid = start(inv, site, change, target, plan)
    err.print(f"roll-out {rid} created: {change.describe()} to {target.label}, {n} boards")
    _engine_run(ctx, rid, host, port, account, "run", as_json)


@rollout.command("resume")
@click.argument("rid", type=int)
@with_broker
@click.option("--account", default="fleet", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def rollout_resume(ctx, rid, host, port, account, as_json):
    """Go on with roll-out RID: after a halt (its failed boards are tried again) or a kill."""
    _engine_run(ctx, rid, host, port, account, "resume", as_json)


@rollout.command("rollback")
@click.argument("rid", type=int)
@with_broker
@click.option("--account", default="fleet", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def rollout_rollback(ctx, rid, host, port, account, as_json):
    """Give every board of roll-out RID that took the change what it had before."""
    _engine_run(ctx, rid, host, port, account, "rollback", as_json)


@rollout.command("status")
@click.argument("rid", type=int, required=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def rollout_status(ctx, rid, as_json):
    """One roll-out's progress, or the list of roll-outs."""
    from . import rollout_store
    with open_db(ctx) as inv:
        if rid is None:
            found = [{"id": r.id, "status": r.status, "target": r.target, "change": r.change.get("kind"),
                      "created_at": r.created_at, "created_by": r.created_by, "counts": rollout_store.counts(inv, r.id)}
                     for r in rollout_store.list_rollouts(inv)]
            if as_json:
                click.echo(json.dumps(found))
            else:
                for r in found:
                    out.print(f"{r['id']:4} {r['status']:12} {r['change']:8} {r['target']:30} {r['counts']}")
            return
        try:
            report = _rollout_report(inv, rid)
        except LookupError as e:
            fail(str(e))
    if as_json:
        click.echo(json.dumps(report))
    else:
        out.print(f"roll-out {rid} ({report['change']} to {report['target']}): {report['status']} {report['counts']}"
                  + (f" — {report['reason']}" if report["reason"] else ""))
