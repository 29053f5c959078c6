"""`pilotlight demo --keep` stopped by a service manager (SIGTERM) or a closed terminal
(SIGHUP) takes its broker, vboard supervisor and interpreters down with it."""
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_board_spawn  # the demo starts vboards of its own


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (children that start their own session included)."""
    parent_of = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent_of[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parent_of.items() if pp in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_to_demo_keep_leaves_no_process_behind(tmp_path):
    log = tmp_path / "demo.log"
    with log.open("w") as out:       # a file, not a pipe: a process left behind cannot block the test
        demo = subprocess.Popen([sys.executable, "-m", "host_tools", "demo", "--lamps", "2", "--days", "1", "--keep"],
                                stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ, COLUMNS="160"),
                                start_new_session=True)
    helpers: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        while "running;" not in log.read_text():
            assert demo.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        helpers = descendants(demo.pid)
        names = {Path(f"/proc/{p}/comm").read_text().strip() for p in helpers if alive(p)}
        assert {"mosquitto", "micropython"} <= names, names     # what must go down with it
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(60) == 128 + signal.SIGTERM, log.read_text()[-3000:]
        assert "boards and broker are down" in log.read_text()
        deadline = time.monotonic() + 10
        while any(alive(p) for p in helpers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = {p: Path(f"/proc/{p}/cmdline").read_text().replace("\0", " ") for p in helpers if alive(p)}
        assert not left, f"left running after SIGTERM: {left}"
    finally:
        for pid in helpers | {demo.pid}:         # whatever the test found left over
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        demo.wait()
