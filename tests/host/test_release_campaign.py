"""An OTA release as a roll-out change kind: the command it sends, and how a
board's view tells it took the release, or refused it / rolled back."""
from host_tools.fleet import changes
from host_tools.fleet.board_view import BoardView
from host_tools.release.build import Release
from host_tools.release.campaign import FirmwareChange


def _view(fw, state_at=1.0):
    return BoardView("dev1", "metz", online=True, fw=fw, state_at=state_at)


def test_a_release_rolls_out_as_an_ota_command_and_survives_a_resume(tmp_path):
    rel = Release(7, "0.2.0", tmp_path, "ab" * 32, 40, 82000)
    change = FirmwareChange.of(rel, "http://10.0.0.5:8070", probation_s=120)
    assert change.command() == ("ota", {"version": "0.2.0", "manifest": "http://10.0.0.5:8070/7/manifest.json",
                                        "sha256": "ab" * 32, "probation_s": 120})
    again = changes.from_dict(change.to_dict())   # what a resumed roll-out rebuilds from the database
    assert isinstance(again, FirmwareChange) and again.command() == change.command()
    assert change.describe() == "release 7 (version 0.2.0)"


def test_the_board_must_report_the_new_version_after_the_soak():
    change = FirmwareChange(7, "0.2.0", "http://10.0.0.5:8070/7/manifest.json", "ab" * 32)
    assert change.taken(None) is None and change.taken(_view("0.2.0", state_at=None)) is None
    assert change.taken(_view("0.2.0")) is True and change.taken(_view("0.1.0")) is False
    assert change.health(_view("0.2.0")) is None
    assert change.health(_view("0.1.0")) == \
        "unhealthy: runs 0.1.0, not 0.2.0 (refused or rolled back: see its ota events)"
    assert "downgrade" in change.revert(None, {"fw": "0.1.0"})


def _ota_view(fw, release, pending, boots=1):
    return BoardView("dev1", "metz", online=True, fw=fw, state_at=1.0, release=release, release_pending=pending,
                     boots=boots)


def test_the_soak_waits_until_each_board_confirmed_refused_or_rolled_back():
    change = FirmwareChange(7, "0.2.0", "http://10.0.0.5:8070/7/manifest.json", "ab" * 32, probation_s=60)
    before = {"boots": 1}
    assert change.settle_s > 60                                                 # the probation, and the update
    assert not change.settled(None, before)
    assert not change.settled(_ota_view("0.1.0", 6, None), before)              # not restarted yet
    assert not change.settled(_ota_view("0.2.0", 7, "on probation", 2), before)
    assert change.settled(_ota_view("0.2.0", 7, None, 2), before)               # confirmed
    assert change.settled(_ota_view("0.1.0", 6, "0.2.0 rolled back", 3), before)
    assert change.settled(_ota_view("0.1.0", 6, "0.2.0 refused", 2), before)
    assert not change.settled(_ota_view("0.1.0", 6, "0.2.0 rolled back", 1), before)   # from an earlier try


def test_a_board_still_on_probation_after_the_soak_is_not_healthy():
    change = FirmwareChange(7, "0.2.0", "http://10.0.0.5:8070/7/manifest.json", "ab" * 32)
    assert change.health(_ota_view("0.2.0", 7, "on probation")) == \
        "unhealthy: 0.2.0 still on probation (not confirmed: control loop and broker)"
    assert change.health(_ota_view("0.1.0", 6, "0.2.0 rolled back")) == \
        "unhealthy: runs 0.1.0, not 0.2.0 (0.2.0 rolled back: see its ota events)"
