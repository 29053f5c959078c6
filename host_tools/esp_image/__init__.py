"""The ESP32's flash image formats: app images, the partition table, and a
MicroPython release image (bootloader + partition table + app, written at 0x1000)."""
