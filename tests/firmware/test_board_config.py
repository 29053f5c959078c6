# Board types are validated by the same code on the host and on the board.
import json

from lampctl.board_config import ConfigError, validate_board


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
