"""The board's config.json as `pilotlight provision` renders it."""
import json

import pytest

from host_tools.boards import load_board_type
from host_tools.inventory.model import Board, Pole, Site
from host_tools.paths import firmware_module
from host_tools.provision.render import MASK, Network, RenderError, masked, render, to_bytes

SITE = Site("metz", "Metz", "CET-1CEST,M3.5.0,M10.5.0/3")
BOARD = Board("240ac4a1b2c3", "240ac4a1b2c3", "esp32-devkitc", None, "new", "P-1", "metz", "", "", "", "")
POLE = Pole("P-1", "metz", "Centre", "Rue A", 1, 49.12, 6.17, street_group="centre.rue-a", district_group="centre")
NET = Network("mqtt.metz.example", 8883, "METZ-LIGHTS", "wifi-key-1")
GROUPS = ["centre", "centre.rue-a"]


def rendered(board_type="esp32-devkitc", pole=POLE, net=NET):
    return render(load_board_type(board_type), BOARD, pole, SITE, GROUPS, "240ac4a1b2c3", "pw-secret", net)


def test_config_has_identity_place_broker_and_wifi_and_passes_the_boards_own_checks():
    cfg = rendered()
    assert cfg["device"] == {"id": "240ac4a1b2c3", "site": "metz", "pole": "P-1", "street": "centre.rue-a",
                             "position": 1, "groups": GROUPS}
    assert cfg["location"] == {"lat": 49.12, "lon": 6.17, "tz": SITE.tz}
    assert cfg["mqtt"] == {"host": "mqtt.metz.example", "port": 8883, "username": "240ac4a1b2c3",
                           "password": "pw-secret"}
    assert cfg["network"] == {"wifi_ssid": "METZ-LIGHTS", "wifi_key": "wifi-key-1"}
    firmware_module("config").validate(json.loads(to_bytes(cfg)))


def test_ethernet_boards_get_no_wifi_section():
    assert "network" not in rendered("olimex-esp32-poe")


def test_same_inputs_give_the_same_bytes_so_an_unchanged_board_copies_nothing():
    assert to_bytes(rendered()) == to_bytes(rendered())


def test_masked_view_hides_every_secret_and_leaves_the_config_intact():
    cfg = rendered()
    shown = masked(cfg)
    assert shown["mqtt"]["password"] == MASK and shown["network"]["wifi_key"] == MASK
    assert "pw-secret" not in json.dumps(shown) and "wifi-key-1" not in json.dumps(shown)
    assert shown["mqtt"]["username"] == "240ac4a1b2c3"
    assert cfg["mqtt"]["password"] == "pw-secret"


def test_wifi_board_without_ssid_is_refused_naming_the_option():
    with pytest.raises(RenderError, match="--wifi-ssid"):
        rendered(net=Network("mqtt.metz.example"))


def test_a_value_the_board_would_refuse_is_refused_here_naming_the_field():
    bad = Pole("P-9", "metz", "Centre", "Rue A", 9, 95.0, 6.17)
    with pytest.raises(RenderError, match="location.lat"):
        rendered(pole=bad)


def test_boards_provisioned_side_by_side_render_without_tripping_over_each_other():
    # Parallel provisioning renders and checks each board's config in its own thread,
    # with the firmware's own validation, which on a board unloads its modules after use.
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:
        configs = list(pool.map(lambda _: rendered(), range(400)))
    assert all(c == configs[0] for c in configs)
