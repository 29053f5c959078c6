"""What a rig can do to a board. A test declares what it needs with a
`needs_<capability>` marker; on a rig that lacks it the test is skipped with
the reason below, and runs wherever the rig has it."""
from __future__ import annotations

CAPABILITIES = {
    "pir": "drive the board's PIR input",
    "light": "set the ambient light the board's light sensor sees",
    "light_levels": "set the ambient light to any level (the bench's LEDs give three: dark, dusk, daylight)",
    "power_cut": "cut and restore the board's supply",
    "reset": "press the board's EN button",
    "lamp_readback": "read the lamp's output level",
    "clock_jump": "set the board's clock (and the time its NTP server tells)",
    "time_skip": "skip the board's time ahead, ticks and all (compressed time: a vboard's interpreter only)",
    "sensor_faults": "unplug a sensor, fail the lamp or its driver, or heat the chip",
    "network_faults": "take the board's network down",
    "name_server_faults": "slow down or silence the board's DNS server, slow down its NTP server",
    "power_meter": "measure the energy the lamp really drew",
    "boot_button": "hold the BOOT button (GPIO0, also the safe-mode pin) through a reset",
    "flash": "read and write the board's flash from the rig side",
    "board_spawn": "start boards of its own choosing (heap size, baud rate, fifty at once, vboard errors)",
}


def marker(capability: str) -> str:
    return f"needs_{capability}"


def unmet(needs: list[str], has: frozenset[str]) -> list[str]:
    return [n for n in needs if n not in has]


def reason(target: str, missing: list[str]) -> str:
    return f"the {target} rig cannot " + "; nor ".join(CAPABILITIES[m] for m in missing) + \
        f" (needs_{', needs_'.join(missing)})"
