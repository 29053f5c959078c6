# ESP32 `network` for the vboard: a Wi-Fi station and an Ethernet MAC whose
# link the rig can drop. While the link is down no socket can connect and the
# open ones are closed (see socket.py).
import _vbus
import ubinascii
import uos

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_BEACON_TIMEOUT = 200
STAT_ASSOC_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204
# as in the esp32 port's modnetwork.h
PHY_LAN8710 = 0
PHY_LAN8720 = 1
PHY_IP101 = 2
PHY_RTL8201 = 3
PHY_DP83848 = 4
PHY_KSZ8041 = 5
PHY_KSZ8081 = 6
_PHYS = (0, 1, 2, 3, 4, 5, 6)
ETH_INITIALIZED = 0
ETH_STARTED = 1
ETH_STOPPED = 2
ETH_CONNECTED = 3
ETH_DISCONNECTED = 4
ETH_GOT_IP = 5

_link = [uos.getenv("VBOARD_NET") != "0"]
_hostname = ["esp32"]


def _net(args):
    # event thread: only set the flag; the socket side runs on the main thread
    _link[0] = args[0] == "1"
    _vbus.schedule(_tell_sockets, _link[0])


def _tell_sockets(up):
    import socket
    socket._link_changed(up)


_vbus.on("NET", _net)


def hostname(name=None):
    if name is None:
        return _hostname[0]
    _hostname[0] = name


def _mac(iface):
    mac = bytearray(ubinascii.unhexlify(uos.getenv("VBOARD_UID")))
    mac[5] = (mac[5] + iface) & 0xFF
    return bytes(mac)


_nics = {}  # interface id -> its latest object (one per interface on the chip)


def _online():
    # lwIP routes nothing without an interface that is up and has an address
    for nic in _nics.values():
        if nic.isconnected():
            return True
    return False


class _Interface:
    _iface = 0

    def __init__(self, iface):
        self._iface = iface
        self._active = False
        self._joined = False
        _nics[iface] = self

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        self._active = bool(is_active)
        if not self._active:
            self._joined = False

    def isconnected(self):
        return self._active and self._joined and _link[0]

    def ifconfig(self, config=None):
        if self.isconnected():
            return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")
        return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")

    def ipconfig(self, key):
        return {"addr4": self.ifconfig()[:2], "gw4": self.ifconfig()[2]}.get(key)

    def config(self, *args, **kwargs):
        if args and args[0] == "mac":
            return _mac(self._iface)
        if args and args[0] in ("hostname", "dhcp_hostname"):
            return _hostname[0]
        if args:
            raise ValueError("unknown config param")


class WLAN(_Interface):
    def __init__(self, interface_id=STA_IF):
        super().__init__(interface_id)
        self._ssid = None

    def connect(self, ssid=None, key=None, *, bssid=None):
        if not self._active:
            raise OSError("Wifi Not Started")
        self._ssid = ssid
        self._joined = _vbus.call("WIFI %s" % ubinascii.hexlify(
            ("%s\0%s" % (ssid or "", key or "")).encode()).decode()) == "1"

    def disconnect(self):
        self._joined = False

    def status(self, param=None):
        if param == "rssi":
            if not self.isconnected():
                raise OSError("STA is not connected")
            return int(_vbus.call("RSSI"))
        if param is not None:
            raise ValueError("unknown status param")
        if not self._active:
            return STAT_IDLE
        if self.isconnected():
            return STAT_GOT_IP
        return STAT_NO_AP_FOUND if self._ssid is not None else STAT_IDLE

    def scan(self):
        return [(b"vboard-ap", b"\x02\x00\x00\x00\x00\x01", 6, -55, 3, False)] if _link[0] else []


_REQUIRED = object()
_lan = []  # the one LAN object: the esp32 port builds it once and hands it out after


def _pin_id(pin, name):
    # machine_pin_get_id: a Pin or a GPIO number, else ValueError
    import machine
    if isinstance(pin, machine.Pin):
        return pin._id
    if isinstance(pin, int) and pin in machine._GPIOS:
        return pin
    raise ValueError("invalid pin")


def LAN(id=None, *, mdc=None, mdio=None, reset=None, power=None, phy_addr=_REQUIRED, phy_type=_REQUIRED,
        spi=None, cs=None, int=None, ref_clk_mode=-1, ref_clk=None):
    # The checks of the esp32 port's network_lan.c get_lan(), in its order; then
    # the carrier's wiring decides whether the PHY answers (esp_eth_driver_install).
    if _lan:
        return _lan[0]
    for name, v in (("phy_addr", phy_addr), ("phy_type", phy_type)):
        if v is _REQUIRED:
            raise TypeError("'%s' argument required" % name)
        if not isinstance(v, type(0)):
            raise TypeError("can't convert %s to int" % type(v).__name__)
    if not isinstance(ref_clk_mode, type(0)):
        raise TypeError("can't convert %s to int" % type(ref_clk_mode).__name__)
    if id is not None and id != 0:
        raise ValueError("invalid LAN interface identifier")
    pins = [-1 if p is None else _pin_id(p, n) for n, p in
            (("mdc", mdc), ("mdio", mdio), ("reset", reset), ("power", power), ("cs", cs), ("int", int))]
    if not 0 <= phy_addr <= 0x1F:
        raise ValueError("invalid phy address")
    if phy_type not in _PHYS:
        raise ValueError("invalid phy type")
    clk = -1 if ref_clk is None else _pin_id(ref_clk, "ref_clk")
    if pins[0] == -1 or pins[1] == -1:
        raise ValueError("mdc and mdio must be specified")
    if pins[3] >= 0:
        _vbus.call("SET %d 1" % pins[3])  # the PHY's power switch, as the port drives it
    # EMAC clock: the IDF default is an input on GPIO 0; any mode but Pin.IN is an output
    mode = "in" if ref_clk_mode in (-1, 1) else "out"
    ok = _vbus.call("LAN %d %d %d %d %d %s %d" % (phy_type, phy_addr, pins[0], pins[1], pins[3], mode,
                                                   0 if clk == -1 else clk))
    if ok != "1":
        raise OSError("esp_eth_driver_install failed")
    _lan.append(_LAN())
    return _lan[0]


class _LAN(_Interface):
    def __init__(self):
        super().__init__(3)

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        self._active = bool(is_active)
        self._joined = self._active  # the cable is in; the link follows the rig

    def status(self):
        return ETH_GOT_IP if self.isconnected() else ETH_DISCONNECTED
