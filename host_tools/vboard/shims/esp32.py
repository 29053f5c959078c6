# ESP32 `esp32` for the vboard: the chip's internal sensors and NVS.
import _vbus


def raw_temperature():
    # the original ESP32's internal sensor, in degrees Fahrenheit, reading
    # high by a per-chip error (the status' chip_temp_error_c) as real ones do
    return int(_vbus.call("TEMP")) * 9 // 5 + 32


def wake_on_ext0(pin, level):
    pass


def idf_heap_info(capabilities):
    return []


HEAP_DATA = 4
HEAP_EXEC = 1
