# What the vboard's interpreter has frozen in (FROZEN_MANIFEST), as the ESP32
# firmware freezes its own: asyncio and ssl as on the chip, and the ESP32 shims
# under .frozen/shims, a path only a vboard puts on sys.path, so the same
# interpreter outside a vboard (firmware unit tests) keeps the unix modules.
include("$(MPY_DIR)/extmod/asyncio")
require("ssl")
freeze(".", "shims")
