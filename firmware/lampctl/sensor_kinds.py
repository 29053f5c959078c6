# The one registry of I2C sensor kinds. Adding a driver touches its file in
# drivers/ and one line here: board validation, the sensor poller and the
# control task's ambient-light failsafe (any LIGHT sensor fitted) all read it.
# Pure: nothing here imports a driver until a board builds one.
POWER, LIGHT = "power", "light"
# kind: (role, driver module in lampctl.drivers, class)
KINDS = {
    "ina219": (POWER, "ina219", "INA219"),
    "ina226": (POWER, "ina226", "INA226"),
    "bh1750": (LIGHT, "bh1750", "BH1750"),
    "veml7700": (LIGHT, "veml7700", "VEML7700"),
}
# what a power monitor's config entry gives beside kind and address: (field, lo, hi)
POWER_FIELDS = (("shunt_ohms", 0.0001, 10.0), ("max_current_a", 0.01, 50.0))


def light_fitted(specs):
    """Whether a board's `sensors` list has a light sensor (the failsafe follows it)."""
    for s in specs or ():
        k = KINDS.get(s["kind"])
        if k and k[0] == LIGHT:
            return True
    return False


def presence_dark(board):
    """The board's rule for 'dark enough for presence' (board_config.PRESENCE_DARK):
    its own, else the light sensor wherever one is fitted."""
    rule = board.get("presence_dark")
    if rule is None:
        rule = "light_sensor" if light_fitted(board.get("sensors")) else "program"
    return rule


def make(i2c, spec):
    """The driver for one `sensors` entry of the board config (its kind registered)."""
    role, module, name = KINDS[spec["kind"]]
    cls = getattr(__import__("lampctl.drivers." + module, None, None, [name]), name)
    if role == POWER:
        return cls(i2c, spec["address"], spec["shunt_ohms"], spec["max_current_a"])
    return cls(i2c, spec["address"])
