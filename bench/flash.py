"""Issue 15 figures: MicroPython written onto a blank vboard by the provisioning flasher
(esptool as a library, through the vboard's ROM), the line throttled as a real UART
and raised to 460800 baud by the ROM's baud change, against the line's lower bound
for the image. The image is MicroPython-sized (1.76 MB, as ESP32_GENERIC v1.28.0)
and incompressible (random code bytes), so compression does not flatter the ratio."""
import statistics
import tempfile
from pathlib import Path

from hil_tests.rig.virtual import VirtualRig
from host_tools.esp_image import firmware
from host_tools.provision.flasher import Flasher
from host_tools.provision.ports import vboard_ports

BAUD = 460800
IMAGE_BYTES = 1_760_192
RUNS = 3


def measure():
    image = firmware.build(app_bytes=IMAGE_BYTES - 0x10000 + 0x1000 - 592)
    with tempfile.TemporaryDirectory() as tmp:
        rig = VirtualRig(Path(tmp) / "home")
        try:
            [vb] = rig.start("fb", baud=115200, extra=("--blank",))
            [port] = vboard_ports(rig.home)
            times, line_bytes = [], []
            for _ in range(RUNS):
                flasher = Flasher(port, rig.home, say=lambda msg: None, progress=lambda *a: None, max_baud=BAUD)
                flasher.connect()
                with vb.control() as c:
                    before = c.status()["rom"]["bytes_in"]
                done = flasher.write(image, firmware.WRITE_OFFSET)
                with vb.control() as c:
                    line_bytes.append(c.status()["rom"]["bytes_in"] - before)
                if done.baud != BAUD:
                    raise RuntimeError(f"flashed at {done.baud} baud, not {BAUD}")
                times.append(done.seconds)
            seconds = statistics.median(times)
            bound = len(image) * 10 / BAUD
            yield "flash micropython image at 460800 baud", seconds, "s"
            yield "flash micropython image vs line lower bound", seconds / bound, "ratio"
            yield "flash micropython image bytes sent per image byte", statistics.median(line_bytes) / len(image), \
                "ratio"
        finally:
            rig.stop()
