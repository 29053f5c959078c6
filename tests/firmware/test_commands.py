# Every command a fleet operator (or a broken tool) can send gets either a
# normalised command or the exact error that goes into its ack.
from lampctl.commands import CommandError, RecentIds, parse

# (command name, payload, expected error, expected id in the ack)
MALFORMED = [
    ("level", b"{not json", "payload: not valid JSON", None),
    ("level", b"", "payload: not valid JSON", None),
    ("level", b"\xff\xfe{}", "payload: not UTF-8", None),
    ("level", b"[1, 2]", "payload: expected a JSON object, got a list", None),
    ("level", b"42", "payload: expected a JSON object, got a number", None),
    ("level", b'"level"', "payload: expected a JSON object, got a string", None),
    ("level", b"null", "payload: expected a JSON object, got null", None),
    ("level", b'{"level": 50}', "id: missing", None),
    ("level", b'{"id": "", "level": 50}', "id: length 0 is out of range [1, 40]", None),
    ("level", b'{"id": "' + b"x" * 41 + b'", "level": 50}', "id: length 41 is out of range [1, 40]", None),
    ("level", b'{"id": true, "level": 50}', "id: expected a string or an integer, got true", None),
    ("level", b'{"id": 1.5, "level": 50}', "id: expected a string or an integer, got a number", None),
    ("level", b'{"id": ["a"], "level": 50}', "id: expected a string or an integer, got a list", None),
    ("dance", b'{"id": "c1"}',
     "unknown command 'dance' (known: config, identify, lamp_replaced, level, ota, ping, program, reboot, time)", "c1"),
    ("level", b'{"id": "c1"}', "level: missing", "c1"),
    ("level", b'{"id": "c1", "level": "high"}', "level: expected a number, got a string", "c1"),
    ("level", b'{"id": "c1", "level": true}', "level: expected a number, got true", "c1"),
    ("level", b'{"id": "c1", "level": 101}', "level: 101 is out of range [0, 100]", "c1"),
    ("level", b'{"id": "c1", "level": -1}', "level: -1 is out of range [0, 100]", "c1"),
    ("level", b'{"id": "c1", "level": 1e400}', "level: inf is out of range [0, 100]", "c1"),
    ("level", b'{"id": "c1", "level": 50, "duration_s": 0}', "duration_s: 0 is out of range [1, 86400]", "c1"),
    ("level", b'{"id": "c1", "level": 50, "duration_s": 1.5}', "duration_s: expected an integer, got a number", "c1"),
    ("level", b'{"id": "c1", "level": 50, "duraton_s": 60}', "duraton_s: unexpected field", "c1"),
    ("program", b'{"id": 7}', "program: missing", 7),
    ("program", b'{"id": 7, "program": []}', "program: expected an object, got a list", 7),
    ("program", b'{"id": 7, "program": {"id": "p", "steps": []}}',
     "program.steps: expected a non-empty list of steps", 7),
    ("program", b'{"id": 7, "program": {"steps": [{"at": "18:00", "level": 80}]}}',
     "program.id: expected a name of 1 to 32 characters, got None", 7),
    ("program", b'{"id": 7, "program": {"id": "p", "steps": [{"at": "25:00", "level": 80}]}}',
     "program.steps[0].at: '25:00' is not a time of day", 7),
    ("program", b'{"id": 7, "program": {"id": "p", "steps": [{"at": "sunset+x", "level": 80}]}}',
     "program.steps[0].at: offset '+x' needs a number and a unit (h, m, s)", 7),
    ("program", b'{"id": 7, "program": {"id": "p", "steps": [{"at": "sunset", "level": 80}, {"at": "23:00"}]}}',
     "program.steps[1].level: missing", 7),
    ("program", b'{"id": 7, "program": {"id": "p", "steps": [{"at": "sunset", "level": 180}]}}',
     "program.steps[0].level: 180 is out of range [0, 100]", 7),
    ("program", b'{"id": 7, "program": {"id": "p", "steps": [{"at": "noon", "level": 80}]}}',
     "program.steps[0].at: unknown event 'noon' (known: sunrise, sunset, dawn, dusk, nautical_dawn, "
     "nautical_dusk, or a time HH:MM)", 7),
    ("config", b'{"id": "c2"}', "set: missing", "c2"),
    ("config", b'{"id": "c2", "set": {}}', "set: no settings given", "c2"),
    ("config", b'{"id": "c2", "set": {"wdt_ms": 100}}', "set.wdt_ms: not a remotely settable key", "c2"),
    ("config", b'{"id": "c2", "set": {"presence_level": 150}}', "set.presence_level: 150 is out of range [0, 100]", "c2"),
    ("config", b'{"id": "c2", "set": {"tz": 5}}', "set.tz: expected a string, got a number", "c2"),
    ("config", b'{"id": "c2", "set": {"tele_interval_s": "60"}}',
     "set.tele_interval_s: expected an integer, got a string", "c2"),
    ("identify", b'{"id": "c3", "duration_s": 601}', "duration_s: 601 is out of range [1, 600]", "c3"),
    ("reboot", b'{"id": "c4", "delay_s": -5}', "delay_s: -5 is out of range [0, 300]", "c4"),
    ("time", b'{"id": "c5"}', "utc: missing", "c5"),
    ("time", b'{"id": "c5", "utc": 1000}', "utc: 1000 is out of range [1704067200, 4102444800]", "c5"),
    ("time", b'{"id": "c5", "utc": "2026-01-01"}', "utc: expected an integer, got a string", "c5"),
    ("ping", b'{"id": "c6", "echo": 1}', "echo: unexpected field", "c6"),
    ("ping", b'{"id": "c6", "state": 1}', "state: expected true or false, got a number", "c6"),
    ("ota", b'{"id": "c7", "url": "http://x"}', "url: unexpected field", "c7"),
    ("ota", b'{"id": "c7", "version": "1.2", "sha256": "abababababababababababababababababababababababababababababababab"}', "manifest: missing", "c7"),
    ("ota", b'{"id": "c7", "version": "1.2", "manifest": "ftp://rel.example/7/manifest.json", "sha256": "abababababababababababababababababababababababababababababababab"}',
     "manifest: expected the http(s) URL of a release's manifest.json", "c7"),
    ("ota", b'{"id": "c7", "version": "1.2", "manifest": "http://rel.example/7/manifest.json", "sha256": "AB12"}',
     "sha256: length 4 is out of range [64, 64]", "c7"),
    ("ota", b'{"id": "c7", "version": "1.2", "manifest": "http://rel.example/7/manifest.json", "sha256": "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB"}',
     "sha256: expected 64 lowercase hex digits", "c7"),
    ("ota", b'{"id": "c7", "version": "1.2", "manifest": "http://rel.example/7/manifest.json", "sha256": "abababababababababababababababababababababababababababababababab",'
     b' "probation_s": 5}', "probation_s: 5 is out of range [20, 3600]", "c7"),
    ("level", b'{"id": "c8", "level": 5' + b" " * 1100 + b"}", "payload: 1124 bytes exceeds the 1024-byte limit", None),
]


def test_every_malformed_command_gets_its_clear_error():
    assert len(MALFORMED) >= 30
    for name, payload, error, cmd_id in MALFORMED:
        try:
            parse(name, payload)
        except CommandError as e:
            assert str(e) == error, "%s %r: got %r, expected %r" % (name, payload[:60], str(e), error)
            assert e.id == cmd_id, "%s %r: ack id %r, expected %r" % (name, payload[:60], e.id, cmd_id)
            continue
        raise AssertionError("%s %r was accepted" % (name, payload[:60]))


def test_valid_commands_are_normalised_with_defaults():
    assert parse("level", b'{"id": "a", "level": 30}') == {"cmd": "level", "id": "a", "level": 30, "duration_s": 3600}
    assert parse("level", '{"id": 9, "level": null}')["level"] is None  # ends an override
    assert parse("identify", b'{"id": "b"}') == {"cmd": "identify", "id": "b", "duration_s": 30}
    assert parse("reboot", b'{"id": "c"}')["delay_s"] == 0
    assert parse("time", b'{"id": "d", "utc": 1790000000}')["utc"] == 1790000000
    assert parse("ping", b'{"id": "e"}') == {"cmd": "ping", "id": "e", "state": False}
    assert parse("ping", b'{"id": "e", "state": true}')["state"] is True
    cfg = parse("config", b'{"id": "f", "set": {"presence_level": 90, "tz": "CET-1CEST,M3.5.0,M10.5.0/3"}}')
    assert cfg["set"] == {"presence_level": 90, "tz": "CET-1CEST,M3.5.0,M10.5.0/3"}
    prog = parse("program", b'{"id": "g", "program": {"id": "night-dim", "steps": [{"at": "sunset", "level": 100}, '
                            b'{"at": "23:30", "level": 50}, {"at": "sunrise-15m", "level": 0}]}}')
    assert prog["program"]["steps"][2] == {"at": "sunrise-15m", "level": 0}


def test_a_redelivered_id_is_recognised_until_it_ages_out():
    recent = RecentIds(4)
    for cmd_id in ("a", "b", 3):
        recent.add(cmd_id)
    assert "a" in recent and 3 in recent and "z" not in recent
    for cmd_id in ("c", "d"):
        recent.add(cmd_id)
    assert "a" not in recent  # the ring holds the last 4 only
    assert "b" in recent and "d" in recent


def test_lamp_replaced_takes_the_new_lamps_burn_hours():
    assert parse("lamp_replaced", b'{"id": "r1"}') == {"cmd": "lamp_replaced", "id": "r1", "burn_h": 0}
    assert parse("lamp_replaced", b'{"id": "r2", "burn_h": 1200}')["burn_h"] == 1200
    for payload, error in ((b'{"id": "r3", "burn_h": -1}', "burn_h: -1 is out of range [0, 200000]"),
                           (b'{"id": "r4", "burn_h": 1.5}', "burn_h: expected an integer, got a number"),
                           (b'{"id": "r5", "hours": 3}', "hours: unexpected field")):
        try:
            parse("lamp_replaced", payload)
            raise AssertionError("accepted %r" % payload)
        except CommandError as e:
            assert str(e) == error and e.id == payload[8:10].decode(), (str(e), e.id)


def test_an_ota_command_names_a_release_and_a_probation():
    cmd = parse("ota", b'{"id": "u1", "version": "0.2.0", "manifest": "http://10.0.0.5:8070/7/manifest.json",'
                       b' "sha256": "%s"}' % (b"0f" * 32))
    assert cmd == {"cmd": "ota", "id": "u1", "version": "0.2.0", "manifest": "http://10.0.0.5:8070/7/manifest.json",
                   "sha256": "0f" * 32, "probation_s": 300}
