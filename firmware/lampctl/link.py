# The board's network link: Wi-Fi station or Ethernet, brought up and kept up
# with backoff, and the clock synced by NTP while online. The lamp never waits
# on any of this: it runs in its own task.
import asyncio
import random

import network

from lampctl import clock

JOIN_TIMEOUT_MS = 15000
BACKOFF_MAX_MS = 60000
NTP_EVERY_S = 6 * 3600


class Link:
    def __init__(self, cfg, ctl, events):
        self.cfg = cfg
        self.ctl = ctl
        self.events = events
        self.ethernet = cfg["board"]["network"] == "ethernet"
        self.nic = None
        self.synced_at = None

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
            eth = self.cfg["board"]["ethernet"]
            import machine
            # the esp32 port takes mdc/mdio (the generic stubs do not list them)
            self.nic = network.LAN(0, mdc=machine.Pin(eth["mdc"]), mdio=machine.Pin(eth["mdio"]),  # type: ignore[call-arg]
                                   phy_type=network.PHY_LAN8720, phy_addr=eth.get("phy_addr", 0))
            self.nic.active(True)
        else:
            net = self.cfg.get("network") or {}
            self.nic = network.WLAN(network.STA_IF)
            self.nic.active(True)
            self.nic.connect(net.get("wifi_ssid", ""), net.get("wifi_key", ""))

    def _sync_clock(self):
        import ntptime
        try:
            ntptime.settime()
        except OSError:
            return
        now = clock.utc()
        self.ctl.clock_set(now, "ntp")
        self.synced_at = now

    async def run(self):
        delay = 1000
        while True:
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
                    delay = min(delay * 2, BACKOFF_MAX_MS)
                    continue
                delay = 1000
            if self.synced_at is None or clock.utc() - self.synced_at > NTP_EVERY_S:
                self._sync_clock()
            await asyncio.sleep_ms(2000)
