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
PHY_LAN8720 = 0
PHY_IP101 = 1
PHY_RTL8201 = 2
PHY_DP83848 = 3
PHY_KSZ8041 = 4
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


class _Interface:
    _iface = 0

    def __init__(self):
        self._active = False
        self._joined = False

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
        super().__init__()
        self._iface = interface_id
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


class LAN(_Interface):
    def __init__(self, *args, **kwargs):
        super().__init__()
        self._iface = 3

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        self._active = bool(is_active)
        self._joined = self._active  # the cable is in; the link follows the rig

    def status(self):
        return ETH_GOT_IP if self.isconnected() else ETH_DISCONNECTED
