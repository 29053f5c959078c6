"""The virtual board: the firmware in the real MicroPython interpreter, on a
pty serial console, with ESP32 shims and simulated peripherals."""
