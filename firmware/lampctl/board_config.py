# Validation of a board type (board_configs/*.json): pins, lamp driver,
# sensors, electrical ratings. Pure logic: the host tools and the board both
# use it, so a config is judged the same way on the bench and on the pole.
# On the board it loads only while a config is checked (lampctl.config.validate).
from lampctl import ConfigError, sensor_kinds

GPIOS = tuple(range(0, 20)) + (21, 22, 23, 25, 26, 27) + tuple(range(32, 40))
OUTPUT_GPIOS = tuple(p for p in GPIOS if p < 34 and p not in (6, 7, 8, 9, 10, 11))
INPUT_ONLY_GPIOS = tuple(range(34, 40))  # no output driver, and no internal pull-up or pull-down
# Ethernet PHYs the esp32 port's network.LAN drives over the internal EMAC (RMII).
PHYS = ("LAN8710", "LAN8720", "IP101", "RTL8201", "DP83848", "KSZ8041", "KSZ8081")
# The EMAC's 50 MHz RMII reference clock: an input on GPIO 0 only, or an output
# the ESP32 drives on GPIO 0, 16 or 17 (a PHY without its own crystal).
REF_CLK_PINS = {"in": (0,), "out": (0, 16, 17)}

# When motion may raise the lamp: when the light sensor says it is dark (with
# hysteresis), or when the program has the lamp on. Default: the light sensor
# wherever one is fitted.
PRESENCE_DARK = ("light_sensor", "program")
presence_dark = sensor_kinds.presence_dark  # the rule as the app applies it (board_config is boot-time only)


def _get(d, key, kind, where, optional=False):
    if key not in d:
        if optional:
            return None
        raise ConfigError("%s%s: missing" % (where, key))
    v = d[key]
    if v is None and optional:
        return None
    if kind is float and isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        raise ConfigError("%s%s: expected %s, got %r" % (where, key, kind.__name__, v))
    return v


def _pin(d, key, where, output=False, optional=False):
    p = _get(d, key, int, where, optional)
    if p is None:
        return None
    allowed = OUTPUT_GPIOS if output else GPIOS
    if p not in allowed:
        raise ConfigError("%s%s: GPIO %d is not %s on an ESP32" % (
            where, key, p, "an output pin" if output else "a usable pin"))
    return p


def _range(v, lo, hi, name):
    if not lo <= v <= hi:
        raise ConfigError("%s: %r is out of range [%r, %r]" % (name, v, lo, hi))


def _claim(used, p, name):
    if p in used:
        raise ConfigError("%s: GPIO %d is already used by %s" % (name, p, used[p]))
    used[p] = name


def _ethernet(eth, used):
    """The RMII PHY's wiring, as network.LAN needs it (docs/wiring.md)."""
    phy = _get(eth, "phy", str, "ethernet.")
    if phy not in PHYS:
        raise ConfigError("ethernet.phy: unknown PHY %r (known: %s)" % (phy, ", ".join(PHYS)))
    _range(_get(eth, "phy_addr", int, "ethernet."), 0, 31, "ethernet.phy_addr")
    for k in ("mdc", "mdio", "power_pin"):
        p = _pin(eth, k, "ethernet.", output=True, optional=(k == "power_pin"))
        if p is not None:
            _claim(used, p, "ethernet." + k)
    clk = _pin(eth, "ref_clk_pin", "ethernet.", output=True, optional=True)
    mode = _get(eth, "ref_clk_mode", str, "ethernet.", optional=True)
    if (clk is None) != (mode is None):
        raise ConfigError("ethernet.ref_clk_pin and ethernet.ref_clk_mode: give both or neither")
    if clk is not None:
        if mode not in REF_CLK_PINS:
            raise ConfigError("ethernet.ref_clk_mode: must be 'in' or 'out', got %r" % mode)
        if clk not in REF_CLK_PINS[mode]:
            raise ConfigError("ethernet.ref_clk_pin: the RMII clock %s is on GPIO %s only, not %d" % (
                "input" if mode == "in" else "output", " or ".join(str(p) for p in REF_CLK_PINS[mode]), clk))
        _claim(used, clk, "ethernet.ref_clk_pin")


def _safe_mode_pull(cfg):
    # The safe-mode button pulls its pin to GND; something must hold it high.
    pull = cfg.get("safe_mode_pull", "internal")
    if pull not in ("internal", "external"):
        raise ConfigError("safe_mode_pull: must be 'internal' or 'external', got %r" % (pull,))
    pin = cfg.get("safe_mode_pin")
    if pull == "internal" and pin in INPUT_ONLY_GPIOS:
        raise ConfigError("safe_mode_pull: GPIO %d is input-only and has no internal pull-up: fit an external "
                          "pull-up (10 kOhm to 3V3) and set 'external'" % pin)


def validate_board(cfg):
    """Check a board type; return it unchanged or raise ConfigError naming the field."""
    if not isinstance(cfg, dict):
        raise ConfigError("board config must be a JSON object")
    _get(cfg, "board_type", str, "")
    net = _get(cfg, "network", str, "")
    if net not in ("wifi", "ethernet"):
        raise ConfigError("network: must be 'wifi' or 'ethernet', got %r" % net)
    used = {}  # type: dict
    if net == "ethernet":
        _ethernet(_get(cfg, "ethernet", dict, ""), used)
    lamp = _get(cfg, "lamp", dict, "")
    driver = _get(lamp, "driver", str, "lamp.")
    if driver not in ("pwm", "0-10v"):
        raise ConfigError("lamp.driver: must be 'pwm' or '0-10v', got %r" % driver)
    _pin(lamp, "pin", "lamp.", output=True)
    _range(_get(lamp, "pwm_freq_hz", int, "lamp."), 100, 40000, "lamp.pwm_freq_hz")
    _get(lamp, "invert", bool, "lamp.")
    _range(_get(lamp, "min_driver_level", float, "lamp."), 0.0, 0.5, "lamp.min_driver_level")
    _range(_get(lamp, "gamma", float, "lamp."), 1.0, 3.0, "lamp.gamma")
    rated = _get(lamp, "rated_power_w", float, "lamp.")
    _range(rated, 1.0, 1000.0, "lamp.rated_power_w")
    _range(_get(lamp, "standby_power_w", float, "lamp."), 0.0, rated, "lamp.standby_power_w")
    _range(_get(lamp, "supply_v", float, "lamp."), 3.0, 60.0, "lamp.supply_v")
    _claim(used, lamp["pin"], "lamp.pin")
    for key in ("safe_mode_pin", "status_led_pin", "pir_pin", "ambient_adc_pin"):
        p = _pin(cfg, key, "", output=(key == "status_led_pin"), optional=True)
        if p is not None:
            _claim(used, p, key)
    _safe_mode_pull(cfg)
    i2c = _get(cfg, "i2c", dict, "", optional=True)
    sensors = _get(cfg, "sensors", list, "", optional=True) or []
    if sensors and i2c is None:
        raise ConfigError("i2c: missing, but sensors are fitted")
    if i2c is not None:
        for k in ("sda", "scl"):
            _claim(used, _pin(i2c, k, "i2c.", output=True), "i2c." + k)
        _range(_get(i2c, "freq", int, "i2c."), 10000, 1000000, "i2c.freq")
    addresses = {}  # type: dict
    for i, s in enumerate(sensors):
        where = "sensors[%d]." % i
        if not isinstance(s, dict):
            raise ConfigError("sensors[%d]: expected an object" % i)
        kind = _get(s, "kind", str, where)
        if kind not in sensor_kinds.KINDS:
            raise ConfigError("%skind: unknown sensor %r (known: %s)" % (where, kind, ", ".join(sorted(sensor_kinds.KINDS))))
        addr = _get(s, "address", int, where)
        _range(addr, 0x08, 0x77, where + "address")
        if addr in addresses:
            raise ConfigError("%saddress: 0x%02x is already used by sensors[%d]" % (where, addr, addresses[addr]))
        addresses[addr] = i
        if sensor_kinds.KINDS[kind][0] == sensor_kinds.POWER:
            for name, lo, hi in sensor_kinds.POWER_FIELDS:
                _range(_get(s, name, float, where), lo, hi, where + name)
    rule = _get(cfg, "presence_dark", str, "", optional=True)
    if rule is not None:
        if rule not in PRESENCE_DARK:
            raise ConfigError("presence_dark: must be %s, got %r" % (" or ".join(PRESENCE_DARK), rule))
        if rule == "light_sensor" and not sensor_kinds.light_fitted(sensors):
            raise ConfigError("presence_dark: 'light_sensor' needs a light sensor in sensors")
    curve = _get(cfg, "lumen_depreciation", list, "", optional=True)
    if curve is not None:
        last = -1
        for i, point in enumerate(curve):
            if not (isinstance(point, list) and len(point) == 2):
                raise ConfigError("lumen_depreciation[%d]: expected [burn_hours, factor]" % i)
            if point[0] <= last:
                raise ConfigError("lumen_depreciation[%d]: burn hours must increase" % i)
            _range(point[1], 0.3, 1.0, "lumen_depreciation[%d]" % i)
            last = point[0]
    return cfg
