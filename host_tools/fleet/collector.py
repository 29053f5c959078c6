"""The fleet collector: subscribes to a site's uplinks with the fleet's monitor
account and keeps each board's view in the inventory database.

Every decoded uplink passes through `Collector.handle` and nowhere else: that is
where a per-board history writer hooks in (`collector.hooks.append(fn)`, called
as fn(uplink, view) after the view took the message).

It survives its own restart (views are loaded from the database, and retained
`status`/`state` bring the picture up to date) and a broker restart: it
reconnects by itself, and when the broker's uptime says the broker restarted,
a retained `online` is no proof (the Will of a board that died meanwhile was
never published), so every board counts as offline until it proves it is back:
a live message, or a retained `state` other than the last one seen before the
restart (every board publishes its state anew on reconnecting).

A Will can also go missing where no uptime tells (a RabbitMQ node restart
publishes none, docs/scale.md): a board silent for SILENT_TELES of its own
telemetry intervals (its view learns it from the `ts` of its last two `tele`s)
counts as offline, as if its Will had come, until it speaks again.

Its MQTT client is host_tools.fleet.mqtt_async (the simulator's), not paho: on
the same burst of 30,000 messages from 10,000 lamps (bench/fleet.py) both took
in 11,000-17,000 msg/s, the asyncio client with about a fifth less CPU.

Subscriptions are QoS 0 by default: a QoS 1 subscriber's queue at Mosquitto is
bounded (max_queued_messages), and a district's burst after a broker restart
overflows it; QoS 0 to a connected subscriber is not queued that way. Messages
that do get lost between board and fleet show as seq gaps.

With `queue=True` the collector keeps a persistent session (clean session off,
QoS 1, a client id of its own per site) instead: what the boards send while it
is away waits at the broker, a Will above all. That is for brokers whose
retained messages never reach a wildcard subscriber (RabbitMQ, docs/scale.md),
where the retained picture cannot tell a restarted collector who died meanwhile.
A message is acknowledged once the collector has taken it in, before its next
flush to the database: a collector killed outright loses at most one flush
interval (`flush_s`) of what it had taken."""
from __future__ import annotations

import asyncio
import ssl
import threading
import time
from pathlib import Path
from typing import Callable

from ..inventory import open_inventory
from . import view_store
from .board_view import BoardView, apply
from .history import Recorder
from .mqtt_async import AsyncMQTT, ConnectRefused
from .uplink import Uplink, decode

UPTIME_TOPIC = "$SYS/broker/uptime"
UPTIME_WAIT_S = 2.0          # brokers without $SYS (RabbitMQ) get this long, then the data topics
RESTART_SLACK_S = 15.0       # $SYS is published every 10 s: start times this close are the same start
RESYNC_AFTER_S = (10.0, 30.0, 70.0)   # after a broker restart, read the retained picture again (a board's
                                      # reconnect may come in a burst the broker drops QoS 0 messages of)
SILENT_TELES = 2.5           # a board silent this many of its tele intervals (plus the slack) is offline
SILENT_SLACK_S = 20.0
SWEEP_EVERY_S = 5.0


def _tls_context(tls: dict) -> ssl.SSLContext:
    """paho's tls_set(ca_certs=, certfile=, keyfile=) arguments, as an SSL context."""
    ctx = ssl.create_default_context(cafile=tls.get("ca_certs"))
    if tls.get("certfile"):
        ctx.load_cert_chain(tls["certfile"], tls.get("keyfile"))
    return ctx


class Collector:
    def __init__(self, db: Path, site: str, host: str, port: int, username: str, password: str,
                 tls: dict | None = None, flush_s: float = 0.5, queue: bool = False,
                 clock: Callable[[], float] = time.time):
        self.db, self.site = Path(db), site
        self.clock = clock       # stamps what carries no time of its own (status, Wills): the world's time
        self.queue = queue
        self.client_id = f"{username}.collect.{site}" if queue else username   # the session's name at the broker
        self.host, self.port = host, port
        self.flush_s = flush_s
        with open_inventory(self.db) as inv:
            self.views: dict[str, BoardView] = view_store.load(inv, site)
            started = view_store.get_meta(inv, f"broker_started:{site}")
        self.broker_started = float(started) if started else None
        self.history = Recorder()                  # the time series the reports read
        self.hooks: list = [self.history]
        self.lock = threading.Lock()
        self.dirty: set[str] = set()
        self.received = 0
        self.connects = 0
        self.distrust_retained_online = False
        self.seq_at_restart: dict[str, int | None] = {}   # each board's state seq when the broker restart was seen
        self.listening_since: float | None = None  # since when subscribed: silence before is not the boards'
        self.subscribed = threading.Event()
        self._pending_meta: dict[str, str] = {}
        self.username, self.password = username, password
        self.ssl = _tls_context(tls) if tls else None
        self.client: AsyncMQTT | None = None
        self._uptime: asyncio.Future | None = None

    # --- the one place every uplink goes through ------------------------------------
    def handle(self, topic: str, payload: bytes, retained: bool) -> Uplink | None:
        up = decode(topic, payload, retained, self.clock())
        if up is None or up.site != self.site:
            return None
        distrust = retained and self.distrust_retained_online
        if distrust and up.kind == "status" and up.body == "online":
            return None
        with self.lock:
            self._take(up, republished=distrust and up.kind == "state"
                       and up.seq != self.seq_at_restart.get(up.device))
            self.received += 1
        return up

    def _take(self, up: Uplink, republished: bool = False) -> None:
        view = self.views.get(up.device)
        if view is None:
            view = self.views[up.device] = BoardView(up.device, self.site)
        if (republished or (not up.retained and up.kind != "status")) and not view.online:
            # alive: back online through the path a status takes (views, history)
            self._take(Uplink(self.site, up.device, "status", "online", False, up.at))
        apply(view, up)
        self.dirty.add(up.device)
        for hook in self.hooks:
            hook(up, view)

    def sweep_silent(self, now: float) -> list[str]:
        """Boards online but silent for SILENT_TELES of their telemetry intervals: offline
        now, through the same path as a Will (views, history). Returns them."""
        silent = []
        if self.listening_since is None:
            return silent                            # not subscribed: nobody is silent, we are deaf
        with self.lock:
            for view in self.views.values():
                heard = max(view.last_seen or 0, self.listening_since)
                if view.online and view.tele_every and now - heard > SILENT_TELES * view.tele_every + SILENT_SLACK_S:
                    self._take(Uplink(self.site, view.device_id, "status", "offline", False, now))
                    silent.append(view.device_id)
        return silent

    # --- MQTT -----------------------------------------------------------------------
    async def _session(self) -> None:
        """Connect, learn whether the broker restarted, subscribe, serve; again when lost."""
        backoff = 0.5
        while True:
            lost = asyncio.Event()
            client = AsyncMQTT(self.client_id, self.host, self.port, self.username, self.password, keepalive_s=30,
                               clean_session=not self.queue, ssl=self.ssl, on_message=self._on_message, on_lost=lost.set)
            self._uptime = asyncio.get_running_loop().create_future()
            try:
                await client.connect()
                await client.subscribe([(UPTIME_TOPIC, 0)])
            except (OSError, ConnectRefused, asyncio.TimeoutError):
                client.abort()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.5
            self.client = client
            self.connects += 1
            try:
                uptime = await asyncio.wait_for(asyncio.shield(self._uptime), UPTIME_WAIT_S)
            except asyncio.TimeoutError:
                uptime = None
            if self._on_uptime(uptime):
                for delay in RESYNC_AFTER_S:
                    asyncio.get_running_loop().call_later(delay, self._resync, client)
            try:
                await self._subscribe(client)
            except ConnectionError:
                continue
            self.subscribed.set()
            self.listening_since = self.clock()
            await lost.wait()
            self.subscribed.clear()
            self.listening_since = None
            self.client = None

    def _resync(self, client: AsyncMQTT) -> None:
        """Subscribe again: the broker sends every retained status and state anew."""
        if client.connected:
            asyncio.ensure_future(self._subscribe(client))

    def _subscribe(self, client: AsyncMQTT):
        return client.subscribe([(f"pl/{self.site}/+/+", 1 if self.queue else 0)])

    def _on_message(self, topic: str, payload: bytes, retained: bool) -> None:
        if topic == UPTIME_TOPIC:
            if self._uptime is not None and not self._uptime.done():
                self._uptime.set_result(bytes(payload))
        else:
            self.handle(topic, payload, retained)

    def _on_uptime(self, payload: bytes | None) -> bool:
        """True when the broker's uptime says it restarted since the last connection."""
        try:
            started = time.time() - int(payload.split()[0]) if payload else None
        except (ValueError, IndexError):
            started = None
        if started is None:
            return False   # a broker without $SYS: trust what it keeps
        restarted = self.broker_started is not None and started > self.broker_started + RESTART_SLACK_S
        self.distrust_retained_online = restarted
        if restarted:
            self._everyone_offline()
        if self.broker_started is None or restarted:
            self.broker_started = started
            self._pending_meta[f"broker_started:{self.site}"] = repr(started)
        return restarted

    def _everyone_offline(self) -> None:
        now = self.clock()
        with self.lock:
            self.seq_at_restart = {d: v.state_seq for d, v in self.views.items()}
            for v in self.views.values():
                if v.online:
                    v.online, v.status_at = False, now
                    self.dirty.add(v.device_id)

    # --- running ----------------------------------------------------------------------
    def flush(self, inv) -> int:
        with self.lock:
            batch = [view_store.row(self.views[d]) for d in self.dirty]
            self.dirty.clear()
            meta, self._pending_meta = self._pending_meta, {}
            uplinks = self.history.take()
        self.history.write(inv, uplinks)
        if batch:
            view_store.save_rows(inv, batch)
        for key, value in meta.items():
            view_store.set_meta(inv, key, value)
        return len(batch)

    def run(self, stop: threading.Event, ready: threading.Event | None = None) -> None:
        """Collect until `stop` is set; the views are written every flush_s and at the end."""
        asyncio.run(self._main(stop, ready))

    async def _main(self, stop: threading.Event, ready: threading.Event | None) -> None:
        session = asyncio.create_task(self._session())
        try:
            with open_inventory(self.db) as inv:
                swept = time.monotonic()
                while not stop.is_set():
                    await asyncio.sleep(self.flush_s)
                    if time.monotonic() - swept >= SWEEP_EVERY_S:
                        self.sweep_silent(self.clock())
                        swept = time.monotonic()
                    self.flush(inv)
                    if ready is not None and self.subscribed.is_set():
                        ready.set()
                self.flush(inv)
        finally:
            session.cancel()
            if self.client is not None:
                await self.client.close()

    def start(self) -> "RunningCollector":
        return RunningCollector(self)


class RunningCollector:
    """A collector on a thread of this process (tools and tests):
        with Collector(...).start() as running: ..."""

    def __init__(self, collector: Collector):
        self.collector = collector
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=collector.run, args=(self.stop_event, self.ready), daemon=True)
        self.thread.start()

    def wait_ready(self, timeout: float = 15.0) -> None:
        if not self.ready.wait(timeout):
            raise TimeoutError(f"collector not subscribed to {self.collector.host}:{self.collector.port} "
                               f"within {timeout}s")

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
