# ESP32 `esp` for the vboard.
LOG_NONE = 0


def osdebug(uart, level=None):
    pass


def flash_size():
    return 4 * 1024 * 1024
