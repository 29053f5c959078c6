# The app: one asyncio loop. The control task decides the lamp's level and is
# the only one that feeds the watchdog, so a hung control loop resets the board.
# Sensing and connectivity run beside it; the lamp never waits on them.
import asyncio

import appslot
import machine

from lampctl import VERSION, config, store, topics
from lampctl.control import Controller
from lampctl.events import Events
from lampctl.lamp import Lamp
from lampctl.sensing import Sensing

GC_EVERY = 4096  # bytes allocated between two collections (gc.threshold)
_running = []  # type: list  # (controller, sensing) of the app, for shutdown()


def build(cfg=None):
    cfg = cfg or config.load()
    board = cfg["board"]
    events = Events()
    lamp = Lamp(board["lamp"], cfg["failsafe_level"])
    state, problem = store.load()
    if problem:
        events.emit("state_lost", None, detail=problem)
    ctl = Controller(cfg, lamp, state, events)
    ctl.restore()
    if board.get("pir_pin") is not None:
        pir = machine.Pin(board["pir_pin"], machine.Pin.IN)
        pir.irq(ctl.on_motion, machine.Pin.IRQ_RISING)
    events.emit("boot", ctl.utc(), reset_cause=appslot.reset_cause(), version=VERSION)
    sensing = Sensing(cfg, ctl, events)
    _running[:] = [(ctl, sensing)]
    return cfg, ctl, sensing, events


def shutdown():
    """Before a planned stop or reset: the lamp's state and the energy counters
    go to flash, so a planned reboot loses nothing."""
    for ctl, sensing in _running:
        ctl.persist()
        sensing.save_counters()


def _resolver(host):
    """The off-loop name lookup for a broker given by name; a numeric address
    needs none (and the heap is spared its modules)."""
    parts = host.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return None
    from lampctl.resolver import address
    return address


def network_first(cfg):
    """The MQTT client, made before the rest of the app, for a board with a
    broker configured: its buffers and spare run need long runs of heap (2 KB
    each), which the app's many small objects leave none of once it is built
    (in 96 KB: 16 KB free, in runs of at most half a KB)."""
    from lampctl.mqtt import MQTTClient, tls_context
    dev, m = cfg["device"], cfg["mqtt"]
    ssl = tls_context(m["ca_file"], m.get("cert_file"), m.get("key_file")) if m.get("tls") else None
    return MQTTClient(dev["id"], m["host"], m["port"], m.get("username"), m.get("password"),
                      keepalive_s=m.get("keepalive_s", config.KEEPALIVE_S), ssl=ssl,
                      server_hostname=m["host"] if ssl else None,
                      will_topic=topics.root(dev["site"], dev["id"]) + "/status",
                      max_msg=m.get("max_message", 2048), resolve=_resolver(m["host"]))


def connect(cfg, ctl, sensing, events, fed, client):
    """The network side around the client network_first made: link, uplink and commands."""
    import gc
    gc.collect()  # the boot's garbage goes first
    # A collection after every few KB allocated, not only when the heap is full:
    # garbage freed early leaves long free runs (a 96 KB heap left to fill was
    # found with 7.9 KB free in runs of at most 288 bytes, too short to open a file)
    gc.threshold(GC_EVERY)
    from lampctl.link import Link
    from lampctl.remote import Remote
    from lampctl import release
    from lampctl.uplink import Uplink
    dev = cfg["device"]
    root = topics.root(dev["site"], dev["id"])
    link = Link(cfg, ctl, events)
    uplink = Uplink(cfg, ctl, sensing, link, events, client, root)
    remote = Remote(cfg, ctl, sensing, uplink, client, events, shutdown)
    client.on_message = remote.on_message
    client.on_oversize = remote.on_oversize

    def on_connect(session_present):
        uplink.reconnected(session_present)
        asyncio.create_task(client.publish(root + "/status", b"online", qos=1, retain=True))

    client.on_connect = on_connect
    tasks = [link.run(), client.run(), uplink.run(), remote.run()]
    if release.boot_work():
        from lampctl import ota_boot
        tasks.append(ota_boot.run(fed, client, events))
    return tasks


async def main(cfg, ctl, sensing, events, client):
    wdt = machine.WDT(timeout=cfg["wdt_ms"])
    asyncio.create_task(sensing.run())
    if client is not None:
        from lampctl.release import Fed
        fed = Fed(wdt)  # its feeds show the control loop alive, for an update's confirmation
        for task in connect(cfg, ctl, sensing, events, fed, client):
            asyncio.create_task(task)
        await ctl.run(fed)
        return
    await ctl.run(wdt)


def run():
    from lampctl import release
    if release.update_boot():  # an update is pending: this boot runs it (lampctl.updater)
        from lampctl import updater
        updater.run(build, shutdown)
        return
    cfg = config.load()
    client = network_first(cfg) if cfg.get("mqtt") else None
    cfg, ctl, sensing, events = build(cfg)
    asyncio.run(main(cfg, ctl, sensing, events, client))
