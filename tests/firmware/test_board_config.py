# Board types are validated by the same code on the host and on the board.
import json

from lampctl import ConfigError
from lampctl.board_config import validate_board


def _devkit():
    return json.loads(open(_repo() + "/board_configs/esp32-devkitc.json").read())


def _repo():
    return "."  # both runners start in the repository root


def _error(cfg):
    try:
        validate_board(cfg)
    except ConfigError as e:
        return str(e)
    raise AssertionError("no error for a bad config")


def test_shipped_board_types_are_valid():
    for name in ("esp32-devkitc", "olimex-esp32-poe"):
        cfg = json.loads(open(_repo() + "/board_configs/%s.json" % name).read())
        assert validate_board(cfg) is cfg


def test_lamp_on_an_input_only_pin_is_refused():
    cfg = _devkit()
    cfg["lamp"]["pin"] = 36
    assert _error(cfg) == "lamp.pin: GPIO 36 is not an output pin on an ESP32"


def test_missing_field_is_named():
    cfg = _devkit()
    del cfg["lamp"]["rated_power_w"]
    assert _error(cfg) == "lamp.rated_power_w: missing"


def test_wrong_type_is_named():
    cfg = _devkit()
    cfg["lamp"]["invert"] = "no"
    assert "lamp.invert: expected bool" in _error(cfg)


def test_pin_used_twice_is_refused():
    cfg = _devkit()
    cfg["pir_pin"] = cfg["lamp"]["pin"]
    assert _error(cfg) == "pir_pin: GPIO 25 is already used by lamp.pin"


def test_unknown_sensor_is_refused():
    cfg = _devkit()
    cfg["sensors"][0]["kind"] = "ina999"
    assert _error(cfg).startswith("sensors[0].kind: unknown sensor 'ina999'")


def test_duplicate_i2c_address_is_refused():
    cfg = _devkit()
    cfg["sensors"][1]["address"] = cfg["sensors"][0]["address"]
    assert "sensors[1].address: 0x40 is already used by sensors[0]" == _error(cfg)


def test_out_of_range_rating_is_refused():
    cfg = _devkit()
    cfg["lamp"]["standby_power_w"] = 100.0
    assert _error(cfg).startswith("lamp.standby_power_w: 100.0 is out of range")


def _poe():
    return json.loads(open(_repo() + "/board_configs/olimex-esp32-poe.json").read())


def test_a_pull_up_on_an_input_only_pin_is_refused():
    # GPIO 34-39 have no internal pulls: a safe-mode button there floats
    cfg = _devkit()
    cfg["safe_mode_pin"] = 34
    assert _error(cfg).startswith("safe_mode_pull: GPIO 34 is input-only and has no internal pull-up")
    cfg["safe_mode_pull"] = "external"
    assert validate_board(cfg) is cfg
    cfg["safe_mode_pull"] = "weak"
    assert _error(cfg) == "safe_mode_pull: must be 'internal' or 'external', got 'weak'"


def test_the_poe_board_declares_its_external_pull_up_and_phy_wiring():
    cfg = _poe()
    assert cfg["safe_mode_pin"] == 34 and cfg["safe_mode_pull"] == "external"
    eth = cfg["ethernet"]
    assert (eth["power_pin"], eth["ref_clk_pin"], eth["ref_clk_mode"]) == (12, 17, "out")


def test_ethernet_wiring_is_checked():
    for key, value, error in (
            ("power_pin", 36, "ethernet.power_pin: GPIO 36 is not an output pin on an ESP32"),
            ("power_pin", 4, "lamp.pin: GPIO 4 is already used by ethernet.power_pin"),
            ("ref_clk_pin", 5, "ethernet.ref_clk_pin: the RMII clock output is on GPIO 0 or 16 or 17 only, not 5"),
            ("ref_clk_mode", "both", "ethernet.ref_clk_mode: must be 'in' or 'out', got 'both'"),
            ("phy_addr", 32, "ethernet.phy_addr: 32 is out of range [0, 31]"),
            ("phy", "W5500", "ethernet.phy: unknown PHY 'W5500' (known: LAN8710, LAN8720, IP101, RTL8201, "
                             "DP83848, KSZ8041, KSZ8081)")):
        cfg = _poe()
        cfg["ethernet"][key] = value
        assert _error(cfg) == error, key
    cfg = _poe()
    del cfg["ethernet"]["ref_clk_mode"]
    assert _error(cfg) == "ethernet.ref_clk_pin and ethernet.ref_clk_mode: give both or neither"
    cfg = _poe()
    cfg["ethernet"]["ref_clk_mode"] = "in"
    assert _error(cfg) == "ethernet.ref_clk_pin: the RMII clock input is on GPIO 0 only, not 17"


def test_the_board_says_when_motion_may_raise_the_lamp():
    from lampctl.board_config import presence_dark
    for name in ("esp32-devkitc", "olimex-esp32-poe"):
        cfg = json.loads(open(_repo() + "/board_configs/%s.json" % name).read())
        assert cfg["presence_dark"] == "light_sensor" and presence_dark(cfg) == "light_sensor"
    cfg = _devkit()
    del cfg["presence_dark"]
    assert presence_dark(cfg) == "light_sensor"           # a light sensor is fitted: its word counts
    cfg["sensors"] = [s for s in cfg["sensors"] if s["kind"] != "bh1750"]
    assert presence_dark(cfg) == "program"
    cfg["presence_dark"] = "light_sensor"
    assert _error(cfg) == "presence_dark: 'light_sensor' needs a light sensor in sensors"
    cfg["presence_dark"] = "dusk"
    assert _error(cfg) == "presence_dark: must be light_sensor or program, got 'dusk'"
