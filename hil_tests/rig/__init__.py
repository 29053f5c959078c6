"""Rig drivers: how the HIL suite reaches boards and their surroundings.

`virtual` runs vboards on this machine; `serial` talks to real boards on USB
serial ports (and, where the rig has one, an I2C bridge for its stimuli)."""
