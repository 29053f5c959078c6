"""Many vboards on one machine, and a clean stop."""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hil_tests.support.firmware import mpremote

pytestmark = pytest.mark.needs_board_spawn


def _interpreters_under(home) -> list[int]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            env = open(f"/proc/{pid}/environ", "rb").read()
        except OSError:
            continue
        if f"VBOARD_FLASH={home}".encode() in env:
            pids.append(int(pid))
    return pids


def test_fifty_boards_answer_and_stop_cleanly(rig):
    boards = rig.start("fleet", count=50, timeout=120)
    assert len({b.port for b in boards}) == 50
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(
            lambda b: mpremote(b.port, "exec", "import machine; print(machine.unique_id().hex())").stdout.strip(),
            boards))
    assert len(set(answers)) == 50
    assert len(_interpreters_under(rig.home)) == 50
    ptys = {os.readlink(b.port) for b in boards}
    holders = _holding(ptys)
    assert holders, "no process holds the boards' ptys"

    rig.stop()
    assert _interpreters_under(rig.home) == []
    assert not any(os.path.lexists(b.port) for b in boards)
    # Whoever held them let go (a pty freed here may be reused at once by another test's board).
    assert _holding(ptys) & (holders | {os.getpid()}) == set()


def _holding(paths: set[str]) -> set[int]:
    """The processes with one of `paths` open."""
    pids = set()
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd) in paths:
                pids.add(int(fd.parent.parent.name))
        except OSError:
            continue
    return pids


def test_vboard_list_shows_running_boards(rig):
    rig.start("listed", count=2)
    out = subprocess.run([sys.executable, "-m", "host_tools", "vboard", "list", "--home", str(rig.home), "--json"],
                         capture_output=True, text=True, check=True).stdout
    import json
    listed = json.loads(out)
    assert sorted(b["name"] for b in listed) == ["listed00", "listed01"]
    assert all(b["alive"] for b in listed)
