"""The firmware's static check and its compiled bundle."""
import hashlib

import pytest

from host_tools.firmware_build import BuildError, build, typecheck


def test_the_shipped_firmware_passes_the_esp32_type_check():
    assert typecheck() == []


def test_an_api_the_esp32_lacks_is_flagged(tmp_path):
    (tmp_path / "dimmer.py").write_text(
        "from machine import PWM, Pin\n"
        "pwm = PWM(Pin(25))\n"
        "pwm.duty_u16(1000)\n"
        "pwm.duty_percent(50)\n")
    errors = typecheck(tmp_path)
    assert len(errors) == 1 and "dimmer.py:4" in errors[0] and "duty_percent" in errors[0]


def test_bundle_is_compiled_with_a_manifest_of_hashes(tmp_path):
    out = tmp_path / "bundle"
    manifest = build(out)
    assert "boot.py" in manifest and "main.py" in manifest  # run by name on the board
    assert "appslot.mpy" in manifest  # the loader, beside them, outside the update slots
    assert "app/a/lampctl/app.mpy" in manifest and not any(p.endswith(".py") and "/" in p for p in manifest)
    for path, digest in manifest.items():
        assert hashlib.sha256((out / path).read_bytes()).hexdigest() == digest
    assert (out / "app/a/lampctl/app.mpy").read_bytes()[:1] == b"M"  # an .mpy header


def test_slot_a_carries_the_manifest_of_what_it_holds(tmp_path):
    import json
    out = tmp_path / "bundle"
    manifest = build(out)
    m = json.loads((out / "app/a/manifest.json").read_bytes())
    assert m["release"] == 0  # built from source: any signed release replaces it
    listed = {p: (size, sha) for p, size, sha in m["files"]}
    slot = {p[len("app/a/"):]: h for p, h in manifest.items() if p.startswith("app/a/lampctl/")}
    assert set(listed) == set(slot)
    for p, (size, sha) in listed.items():
        assert (out / "app/a" / p).stat().st_size == size and slot[p] == sha


def test_a_syntax_error_names_the_file(tmp_path):
    (tmp_path / "broken.py").write_text("def f(:\n")
    with pytest.raises(BuildError, match="broken.py: mpy-cross failed"):
        build(tmp_path / "out", root=tmp_path)
