"""host_tools.signals: SIGTERM and SIGHUP take a tool's Ctrl-C path, so its cleanup runs."""
import signal
import subprocess
import sys

import pytest

BLOCKING = """
import sys, time
from host_tools.signals import Stopped, stop_signals
try:
    with stop_signals():
        try:
            print("ready", flush=True)
            time.sleep(30)
        finally:
            print("cleaned up", flush=True)
except Stopped as e:
    sys.exit(e.exit_code)
"""

LOOP = """
from host_tools.signals import stop_event
stop = stop_event()
print("ready", flush=True)
while not stop.wait(0.05):
    pass
print("cleaned up", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("program, code", [(BLOCKING, None), (LOOP, 0)])
def test_a_stop_signal_runs_the_tools_cleanup(program, code, sig):
    proc = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)       # generous: a loaded CI machine is slow, not wrong
    assert "cleaned up" in out
    assert proc.returncode == (128 + sig if code is None else code)
