# Commands from the fleet (device and group topics) and neighbour presence.
# Every command is answered on `ack`, bad ones included; a command that fails
# validation changes nothing; a repeated id is acknowledged, not applied twice.
import asyncio
import json
import time

import machine

from lampctl import commands, topics
from lampctl.presence import Neighbours
from lampctl.digest import config_hash

INBOX_MAX = 8
RETRY_PAUSES_MS = (0, 100, 400, 1500)  # a message short of heap: the pause before each next try


class Remote:
    def __init__(self, cfg, ctl, sensing, uplink, client, events, shutdown):
        """shutdown: the app's, called before a commanded reset."""
        dev = cfg.get("device") or {}
        self.cfg = cfg
        self.ctl = ctl
        self.sensing = sensing
        self.uplink = uplink
        self.client = client
        self.events = events
        self.shutdown = shutdown
        self.recent = commands.RecentIds(32)
        self.inbox = []
        self.wake = asyncio.Event()
        site = dev["site"]
        self.street = dev.get("street")
        self.presence_topic = topics.presence(site, self.street) if self.street else None
        self._presence_b = self.presence_topic.encode() if self.presence_topic else None  # as messages carry it
        self.neighbours = Neighbours(dev["id"], dev.get("position", 0), ahead=cfg.get("neighbour_lamps", 3)) \
            if self.street else None
        client.subscribe(topics.command(site, dev["id"]))
        for group in dev.get("groups") or ():
            client.subscribe(topics.group_command(site, group))
        if self.presence_topic:
            client.subscribe(self.presence_topic, 0)
        ctl.on_announce = self.announce

    # --- from the MQTT reader: queue, never work here -------------------------
    def on_message(self, topic, payload, retained):
        """Queue a message. A full inbox pauses the client's reader, so a
        burst waits in TCP and at the broker, not in RAM; True holds the
        PUBACK until run() is done with the message (a command lost to a power
        cut is delivered again). A retained command is stale by definition
        (it would replay after every reboot): it is ignored."""
        if retained:
            return False
        self.inbox.append((topic, payload, self.client.token))
        if len(self.inbox) >= INBOX_MAX:
            self.client.pause()
        self.wake.set()
        return True

    def on_oversize(self, topic, size):
        self.inbox.append((bytes(topic), None, None))
        self.wake.set()

    async def run(self):
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.inbox:
                topic, payload, token = self.inbox.pop(0)
                if not self.inbox:
                    self.client.resume()  # read a batch again (PUBACKs wait behind it)
                await self._handle_in_room(topic, payload, token)
                self.client.take_spare()  # if given up, here or by the client for this message
                if token is not None:
                    await self.client.puback(token)

    async def _handle_in_room(self, topic, payload, token):
        """One message, tried again while the heap has no room for it (a burst
        in the inbox, a fragmented heap): with the client's spare run given up,
        then after pauses in which the other tasks finish what holds the heap
        (an uplink's send, an outbox read) and their garbage is collected.
        Safe: an applied id is only acked again. A message that fails anyway
        is refused with why; none stops the command task."""
        for n in range(len(RETRY_PAUSES_MS) + 1):
            try:
                await self._handle(topic, payload, token)
                return
            except MemoryError as e:
                if n == len(RETRY_PAUSES_MS):
                    self._failed(topic, payload, e)
                    return
            except Exception as e:
                self._failed(topic, payload, e)
                return
            await asyncio.sleep_ms(RETRY_PAUSES_MS[n])
            self.client.give_up_spare()  # and a collection

    async def _handle(self, topic, payload, token):
        if topic == self._presence_b:
            await self._neighbour(payload)
        else:
            await self._command(topic, payload, token)

    def _failed(self, topic, payload, e):
        """A message that could not be handled: reported, and a command refused
        with why, so the fleet waiting for its answer hears one."""
        try:
            why = "%s: %s" % (type(e).__name__, e)
            self.events.emit("command_failed", None, detail=why)
            if topic == self._presence_b:
                return
            try:
                cmd_id = json.loads(payload).get("id")
            except Exception:  # no id to answer to: the event says it
                return
            self.uplink.ack(cmd_id, False, why)
        except MemoryError:
            pass  # no room even to say why: the fleet hears no answer and asks again

    # --- commands ---------------------------------------------------------------
    async def _command(self, topic, payload, token=None):
        name = topics.command_name(topic)
        if payload is None:
            self.uplink.ack(None, False, "payload: larger than this board accepts")
            return
        try:
            cmd = commands.parse(name, payload)
        except commands.CommandError as e:
            self.uplink.ack(e.id, False, str(e))
            return
        if cmd["id"] in self.recent:
            self.uplink.ack(cmd["id"], True, duplicate=True)
            return
        try:
            extra = self._apply(cmd) or {}
        except ValueError as e:  # valid in form, refused by the lamp's own rules
            self.uplink.ack(cmd["id"], False, str(e))
            return
        self.recent.add(cmd["id"])
        restart = extra.pop("restart", False)  # an update starts in a fresh heap (release.preload)
        self.uplink.ack(cmd["id"], True, **extra)
        if cmd["cmd"] == "reboot" or restart:
            await asyncio.sleep(cmd.get("delay_s", 0))
            if token is not None:
                await self.client.puback(token)  # else the broker delivers it again after the reset
            for _ in range(40):  # up to 2 s for the ack to reach the broker
                if not self.uplink.flying:
                    break
                await asyncio.sleep_ms(50)
            self.shutdown()  # a planned reboot loses no state and no energy
            machine.reset()

    def _apply(self, cmd):
        ctl = self.ctl
        name = cmd["cmd"]
        if name == "level":
            if cmd["level"] is None:
                ctl.clear_override()
            else:
                ctl.set_override(cmd["level"], cmd["duration_s"])
        elif name == "program":
            ctl.set_program(cmd["program"])
        elif name == "config":
            ctl.configure(cmd["set"])
            self.uplink.config_hash = config_hash(self.cfg)  # the state shows the change
            if self.neighbours is not None and "neighbour_lamps" in cmd["set"]:
                self.neighbours.ahead = cmd["set"]["neighbour_lamps"]
        elif name == "identify":
            ctl.identify(cmd["duration_s"] * 1000)
        elif name == "time":
            if not ctl.clock_set(cmd["utc"], "command"):
                raise ValueError("utc: %d is before 2026-01-01, earlier than this board believes" % cmd["utc"])
        elif name == "lamp_replaced":
            try:
                return self.sensing.lamp_replaced(cmd["burn_h"])
            except OSError as e:
                raise ValueError("lamp_replaced: counters not saved (%s)" % e)
        elif name == "ping":
            if cmd["state"]:
                self.uplink.last_state = None  # sent again next turn
            return {"pong": ctl.utc()}
        elif name == "ota":
            from lampctl import release
            return release.start(cmd)

    # --- neighbour presence -------------------------------------------------------
    def announce(self):
        if self.neighbours is not None and self.client.connected:
            event = self.neighbours.announce(time.ticks_ms())
            # compact (no spaces): every lamp of the street receives it, on metered links
            asyncio.create_task(self.client.publish(self.presence_topic, json.dumps(event, separators=(",", ":")), 0))

    async def _neighbour(self, payload):
        if self.neighbours is None:
            return
        try:
            event = json.loads(payload)
            light = self.neighbours.receive(event, time.ticks_ms())
        except ValueError:
            return  # a malformed neighbour event is ignored, as from a stranger
        if light:
            self.ctl.neighbour_motion()
