"""Issue 11 figures: the firmware's footprint on the vboard's ESP32-shaped
interpreter, with the compiled firmware on the board's flash as provisioning
puts it there."""
from bench.tls_cost import tls_session_cost
from hil_tests.support.footprint import (STOCK_IMAGE_HEAP, measure_app_code, measure_app_heap, measure_control_loop,
                                        measure_flash_day)


def measure():
    r = measure_control_loop()
    yield "control loop allocation per tick", r["per_tick"], "bytes"
    yield "utc big int per clock.utc() call", r["utc_call"], "bytes"
    code = measure_app_code()
    loaded = set(code["loaded"])
    # bytecode, strings, functions and classes of the modules a connected app holds, from LittleFS
    yield "app code heap, modules of the connected app", sum(n for m, n in code["modules"] if m in loaded), "bytes"
    # the app's code on LittleFS (a stock image), then copied by the loader into a ROMFS partition
    for heap, romfs in ((96 * 1024, False), (STOCK_IMAGE_HEAP, False), (96 * 1024, True)):
        name = f"at {heap // 1024}k" + (", app code in romfs" if romfs else "")
        app = measure_app_heap(heap, romfs=romfs)
        if app["oom"]:   # it never came up: its crash log says why
            yield f"app heap low-water {name}", 0, f"bytes (does not run: {app['oom']})"
            continue
        yield f"app heap live, mqtt connected, {name}", app["heap"] - app["free"], "bytes"
        yield f"app heap low-water {name}", app["low"], "bytes"
    # the app's own writes of a day (energy counters, state at program changes), on LittleFS
    yield "flash blocks erased per simulated day", measure_flash_day(), "blocks"
    tls = tls_session_cost()
    yield "tls session gc heap", tls["gc"], "bytes"
    yield "tls session c heap (mbedtls, resident)", tls["c"], "bytes"
