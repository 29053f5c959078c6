# The hashes a board reports in `state` are the ones the fleet predicts: the
# same values give the same digest here (CPython) and on the board (MicroPython).
from lampctl.digest import config_hash, digest, managed_settings

PROGRAM = {"id": "main-street", "steps": [{"at": "sunset", "level": 100, "fade": 60},
                                          {"at": "23:00", "level": 37.5, "fade": 300}]}
# Computed once on CPython; the MicroPython run of this module must agree.
PROGRAM_DIGEST = "a8e418d39bbe"
CONFIG = {"mqtt": {"host": "b", "port": 1883, "username": "x", "password": "secret-1"},
          "network": {"wifi_key": "wifi"}, "location": {"lat": 48.8, "lon": 2.3, "tz": "CET-1CEST,M3.5.0,M10.5.0/3"},
          "default_level": 80, "failsafe_level": 80, "presence_level": 100, "presence_hold_s": 60,
          "tele_interval_s": 300, "neighbour_lamps": 3, "wdt_ms": 8000}
CONFIG_DIGEST = "5af929ca4c80"


def test_program_digest_is_the_same_on_every_interpreter():
    assert digest(PROGRAM) == PROGRAM_DIGEST


def test_key_order_and_integral_floats_do_not_matter():
    reordered = {"steps": [{"fade": 60, "level": 100.0, "at": "sunset"}, {"level": 37.5, "fade": 300, "at": "23:00"}],
                 "id": "main-street"}
    assert digest(reordered) == PROGRAM_DIGEST


def test_any_value_change_changes_the_digest():
    other = {"id": "main-street", "steps": [{"at": "sunset", "level": 100, "fade": 60},
                                            {"at": "23:00", "level": 37.6, "fade": 300}]}
    assert digest(other) != PROGRAM_DIGEST
    assert digest({"a": "1"}) != digest({"a": 1})
    assert digest(["ab", "c"]) != digest(["a", "bc"])


def test_config_hash_covers_managed_settings_only():
    assert config_hash(CONFIG) == CONFIG_DIGEST
    rotated = dict(CONFIG, mqtt=dict(CONFIG["mqtt"], password="secret-2"), wdt_ms=9000)
    assert config_hash(rotated) == CONFIG_DIGEST  # a new password or a board-local setting is not drift
    assert config_hash(dict(CONFIG, default_level=70)) != CONFIG_DIGEST
    assert managed_settings(CONFIG)["tz"] == "CET-1CEST,M3.5.0,M10.5.0/3"
    assert "wdt_ms" not in managed_settings(CONFIG)
