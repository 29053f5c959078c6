"""The provisioning self-test proves the lamp and the broker login (issue 12,
defect 8): with a power monitor fitted, the lamp must draw power at 100 % and
stop at 0 (the duty read back proves only the pin); the broker must accept the
board's own account (CONNACK 0), not just a TCP connection."""
import json

import pytest

from hil_tests.support.firmware import deploy_firmware, mpremote
from hil_tests.support.lamp import render_config
from host_tools.broker.credentials import hash_password
from host_tools.broker.mosquitto import Mosquitto

SELFTEST = "import json\nfrom lampctl import selftest\nprint(json.dumps(selftest.run()))"
USER, PASSWORD = "lamp-0001", "the-right-password-0001"


@pytest.fixture
def auth_broker(tmp_path):
    """A broker that knows one board account, and nobody else."""
    passwd = tmp_path / "passwd"
    passwd.write_text(f"{USER}:{hash_password(PASSWORD)}\n")
    passwd.chmod(0o600)
    b = Mosquitto(tmp_path / "auth-broker", anonymous=False, extra=[f"password_file {passwd}"]).start()
    yield b
    b.stop()


def _deploy(board, tmp_path, broker, password):
    cfg = render_config(device={"id": USER, "site": "test"}, failsafe_level=70,
                        mqtt={"host": "127.0.0.1", "port": broker.port, "username": USER, "password": password})
    deploy_firmware(board.port, tmp_path / password, cfg)
    mpremote(board.port, "exec", "open('maintenance', 'w').close()")   # as the provisioning tool has it for its self-test


def _selftest(board):
    # a fresh interpreter, as the provisioning tool gives it: the new config, not a cached one
    return json.loads(mpremote(board.port, "soft-reset", "exec", SELFTEST).stdout)


@pytest.mark.needs_sensor_faults
@pytest.mark.needs_clock_jump
def test_self_test_sees_the_lamp_draw_power_and_logs_in_with_the_boards_account(rig, tmp_path, auth_broker):
    (board,) = rig.start("selftest")
    c = board.control()
    c.set_clock(1795818600)  # the provisioning tool sets the board's clock first
    _deploy(board, tmp_path, auth_broker, PASSWORD)
    out = _selftest(board)
    assert out["ok"], out
    assert out["broker"] == {"ok": True, "broker": f"127.0.0.1:{auth_broker.port}", "user": USER}
    assert out["lamp"]["power_w"]["100"] > 50 and out["lamp"]["power_w"]["0"] < 1  # a 60 W lamp, 0.6 W standby

    c.fault("lamp_failed")  # the LED module is dead: the pin still takes its duty
    out = _selftest(board)
    assert not out["ok"] and not out["lamp"]["ok"], out["lamp"]
    assert out["lamp"]["errors"] == ["100%: the lamp draws 0.6 W of its 60 W: lamp, driver or wiring"]
    c.fault("lamp_failed", on=False)

    c.fault("driver_fault")  # the driver runs the lamp at full power whatever its input
    lamp = _selftest(board)["lamp"]
    assert lamp["errors"] == ["0%: the lamp still draws 60.0 W: the driver ignores its input"]
    c.fault("driver_fault", on=False)

    _deploy(board, tmp_path, auth_broker, "a-stale-password")  # an account the broker does not have
    out = _selftest(board)
    assert out["broker"]["ok"] is False and out["broker"]["error"] == "login refused: not authorised", out
    assert out["lamp"]["ok"] and not out["ok"]
    c.close()
