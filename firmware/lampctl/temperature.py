# The board's temperature, for telemetry and the over-temperature fault. The
# ESP32's internal sensor (esp32.raw_temperature(), in degrees F) reads tens
# of degrees off, by an amount that differs from chip to chip, and the S2, S3
# and C3 do not have the call at all. So it is read only on a board calibrated
# against a thermometer (config `chip_temp_offset_c`, docs/configuration.md);
# without that there is no temperature, and no fault can be raised from it.


def chip_reader(offset_c):
    """A function returning the calibrated chip temperature in degrees C (or
    None when a read fails), or None when this board has no usable sensor."""
    if offset_c is None:
        return None
    try:
        import esp32
        raw = esp32.raw_temperature
    except (ImportError, AttributeError):  # not an original ESP32
        return None

    def read():
        try:
            return (raw() - 32) * 5 / 9 + offset_c
        except OSError:
            return None
    return read
