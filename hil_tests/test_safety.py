"""Safety on a vboard (issue 6, deliverable 4): a hung control task is reset by
the watchdog and the lamp relights; three crashes in a row, or the safe-mode
pin, bring the board up in safe mode with the lamp at its safe level and the
REPL answering."""
import time

import pytest

from hil_tests.support.firmware import deploy_firmware, mpremote
from hil_tests.support.lamp import NIGHT, PARIS, level_at, render_config

pytestmark = [pytest.mark.needs_clock_jump, pytest.mark.needs_reset, pytest.mark.needs_lamp_readback]
# Runs on the board over mpremote: the real app, except that its control task
# stops coming back after 6 s (and the hang left the lamp dark) while the
# other tasks go on. 6 s is twice the watchdog's timeout: a live loop feeds it.
HANG = """
import asyncio
from lampctl import app
from lampctl.control import Controller
asyncio.new_event_loop()  # drop the interrupted app's tasks
cfg, ctl, sensing, events = app.build()
async def hangs(wdt):
    try:
        await asyncio.wait_for(Controller.run(ctl, wdt), 6)
    except asyncio.TimeoutError:
        pass
    ctl.lamp.set_level(0)
    await asyncio.Event().wait()
ctl.run = hangs
asyncio.run(app.main(cfg, ctl, sensing, events, None))   # offline: no MQTT client
"""


def _at(percent):
    return lambda s: abs(s["lamp_level"] - level_at(percent)) < 1e-4


def _board(rig, tmp_path, name, **settings):
    (board,) = rig.start(name)
    cfg = render_config(location=PARIS, default_level=30, failsafe_level=70, **settings)
    deploy_firmware(board.port, tmp_path, cfg)
    c = board.control()
    c.set_clock(NIGHT)
    return board, c


def test_hung_control_task_is_reset_by_the_watchdog_and_the_lamp_relights(rig, tmp_path):
    board, c = _board(rig, tmp_path, "hang", wdt_ms=3000)
    c.reset()
    c.wait_for(_at(30), what="app running at 30 %")
    boots = c.status()["boots"]
    mpremote(board.port, "exec", "--no-follow", HANG)
    c.wait_for(lambda s: s["lamp_level"] == 0, timeout=15, what="control task hung (lamp dark)")
    hung_at = time.monotonic()
    assert c.status()["boots"] == boots, "reset while the control loop was alive and feeding"
    st = c.wait_for(lambda s: s["boots"] > boots and s["lamp_level"] > 0 and s, timeout=10, what="lamp relit")
    relit = time.monotonic() - hung_at
    assert st["reset_cause"] == 3  # WDT_RESET
    assert relit < 3 + 3, f"lamp dark for {relit:.1f} s after the hang (watchdog 3 s)"
    c.wait_for(_at(30), timeout=10, what="app back at 30 %")
    c.close()


@pytest.mark.needs_flash
@pytest.mark.needs_boot_button
def test_three_crashes_in_a_row_bring_up_safe_mode_and_a_technician_recovers(rig, tmp_path):
    board, c = _board(rig, tmp_path, "crashy")
    good, bad = tmp_path / "good.mpy", tmp_path / "bad.mpy"
    good.write_bytes(board.read_flash("app/a/lampctl/sensing.mpy"))
    bad.write_bytes(b"M\x06garbage")
    mpremote(board.port, "fs", "cp", str(bad), ":app/a/lampctl/sensing.mpy")  # a botched update: the app cannot import
    boots = c.status()["boots"]
    c.reset()
    c.wait_for(lambda s: s["boots"] >= boots + 4, timeout=30, what="three crash resets")
    time.sleep(2.0)
    st = c.status()
    assert st["boots"] == boots + 4, "still crashing: safe mode did not hold"
    assert _at(70)(st), f"lamp at {st['lamp_level']}, not the safe level 70 %"
    run = mpremote(board.port, "exec", "import sys\nfrom lampctl import early\n"
                   "print(early.crashes(), 'lampctl.app' in sys.modules, early.link.online)\n"
                   "print(open('crash.log').read().count('Traceback'))")
    assert run.stdout.split() == ["3", "False", "True", "3"], run.stdout

    mpremote(board.port, "fs", "cp", str(good), ":app/a/lampctl/sensing.mpy")  # the technician puts the right file back
    mpremote(board.port, "exec", "from lampctl import early\nearly.clear_crashes()")
    c.reset()
    c.wait_for(_at(30), timeout=15, what="app running again at 30 %")

    c.set_pin(0, False)  # the safe-mode button held through a reset
    c.reset()
    c.wait_for(lambda s: s["boots"] > st["boots"] + 1 and _at(70)(s), timeout=10, what="safe level")
    time.sleep(2.0)
    assert _at(70)(c.status()), "the app took over although the safe-mode pin was held"
    c.close()


def test_a_config_that_fails_validation_leaves_the_lamp_on_full_not_dark(rig, tmp_path):
    """A hand-edited config.json with a typo outside the lamp's own settings: the
    board cannot run its app, but it still knows its lamp, and a street lamp fails on."""
    (board,) = rig.start("badcfg")
    cfg = render_config(location=PARIS, default_level=30, failsafe_level=70,
                        device={"id": board.unique_id, "site": "test"}, mqtt={"host": "127.0.0.1", "port": 70000})
    deploy_firmware(board.port, tmp_path, cfg)
    c = board.control()
    c.set_clock(NIGHT)
    console = board.console()
    c.reset()
    c.wait_for(_at(100), timeout=10, what="the lamp on full despite the bad config")
    console.expect(r"mqtt\.port: 70000 is out of range")        # what a technician reads on the USB console
    console.expect(r"safe mode \(3 crashes in a row", timeout=60)  # the app cannot start: safe mode, REPL up
    c.wait_for(_at(100), timeout=10, what="the lamp on full through the crashes and in safe mode")
