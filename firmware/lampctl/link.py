# The board's network link: Wi-Fi station or Ethernet, brought up and kept up
# with backoff, and the clock synced by NTP while online. The lamp never waits
# on any of this: it runs in its own task.
import asyncio
import random
import time

import machine
import network

from lampctl import clock, worker

JOIN_TIMEOUT_MS = 15000
BACKOFF_MAX_MS = 60000
NTP_EVERY_S = 6 * 3600
NTP_TIMEOUT_MS = 5000   # the lookup and the answer (ntptime itself gives up after 1 s)
NTP_RETRY_MS = 30000    # after a failed sync


def lan(eth):
    """network.LAN for the board's RMII PHY (board_config checked the wiring):
    its power switch and its 50 MHz clock, without which it never answers."""
    kw = {"mdc": machine.Pin(eth["mdc"]), "mdio": machine.Pin(eth["mdio"]),
          "phy_type": getattr(network, "PHY_" + eth["phy"]), "phy_addr": eth["phy_addr"]}
    if eth.get("power_pin") is not None:
        kw["power"] = machine.Pin(eth["power_pin"])
    if eth.get("ref_clk_pin") is not None:
        kw["ref_clk"] = machine.Pin(eth["ref_clk_pin"])
        kw["ref_clk_mode"] = machine.Pin.OUT if eth["ref_clk_mode"] == "out" else machine.Pin.IN
    return network.LAN(0, **kw)


def _ntp_answer(ntptime):
    """In the worker thread: the server's time, and the tick it came at."""
    return ntptime.time(), time.ticks_ms()


class Link:
    def __init__(self, cfg, ctl, events):
        self.cfg = cfg
        self.ctl = ctl
        self.events = events
        self.ethernet = cfg["board"]["network"] == "ethernet"
        self.nic = None
        self.synced_at = None
        self.ntp_retry_at = time.ticks_ms()

    @property
    def online(self):
        return self.nic is not None and self.nic.isconnected()

    def rssi(self):
        nic = self.nic
        if self.ethernet or nic is None or not nic.isconnected():
            return None
        try:
            return nic.status("rssi")
        except OSError:
            return None

    def start(self):
        if self.ethernet:
            self.nic = lan(self.cfg["board"]["ethernet"])
            self.nic.active(True)
        else:
            net = self.cfg.get("network") or {}
            self.nic = network.WLAN(network.STA_IF)
            self.nic.active(True)
            self.nic.connect(net.get("wifi_ssid", ""), net.get("wifi_key", ""))

    async def _sync_clock(self):
        # ntptime looks the server up and waits for its answer, each blocking:
        # in the worker thread, so the lamp's loop runs on meanwhile
        import ntptime
        try:
            secs, at = await worker.call(_ntp_answer, (ntptime,), NTP_TIMEOUT_MS)
        except OSError:
            self.ntp_retry_at = time.ticks_add(time.ticks_ms(), NTP_RETRY_MS)
            return
        # the loop picks the answer up a while after it came (a busy loop, a long
        # GC, or a vboard's compressed time): the clock is the answer plus that while
        now = secs + clock.EPOCH_OFFSET + time.ticks_diff(time.ticks_ms(), at) // 1000
        if not self.ctl.clock_set(now, "ntp"):   # a server that lost its own time: ask again soon, RTC untouched
            self.ntp_retry_at = time.ticks_add(time.ticks_ms(), NTP_RETRY_MS)
            return
        self.synced_at = now

    async def run(self):
        delay = 1000
        while True:
            try:
                delay = await self._round(delay)
            except MemoryError:
                # No room for a join or a clock sync this time (ntptime's import, the
                # worker's job): the task lives on, or the board would never rejoin.
                await asyncio.sleep_ms(2000)

    async def _round(self, delay):
        """Join when offline (with backoff), else sync the clock when due; the next backoff."""
        if not self.online:
            try:
                self.start()
            except OSError as e:
                self.events.emit("link_error", None, detail=str(e))
            waited = 0
            while not self.online and waited < JOIN_TIMEOUT_MS:
                await asyncio.sleep_ms(250)
                waited += 250
            if not self.online:
                await asyncio.sleep_ms(delay // 2 + random.getrandbits(16) % (delay // 2 + 1))
                return min(delay * 2, BACKOFF_MAX_MS)
            delay = 1000
        if (self.synced_at is None or clock.utc() - self.synced_at > NTP_EVERY_S) and \
                time.ticks_diff(time.ticks_ms(), self.ntp_retry_at) >= 0:
            await self._sync_clock()
        await asyncio.sleep_ms(2000)
        return delay
