"""The HIL suite: `--target virtual` (default, vboards on this machine) or
`--target serial --port PORT [--port ...] [--rig-i2c ADAPTER]` (boards on
serial ports, acted on through a rig). Tests mark the rig capabilities they
need (`needs_pir`, ...); where the rig lacks one they are skipped, with why.

A failed test's report carries each board's console log and the MQTT traffic
the test's brokers carried (sections "console of ..." and "MQTT traffic")."""
from __future__ import annotations

import re

import pytest

from hil_tests.rig.capabilities import CAPABILITIES, marker, reason, unmet
from hil_tests.support import traffic
from hil_tests.support.broker import running_broker


def pytest_addoption(parser):
    group = parser.getgroup("hil", "hardware-in-the-loop rig")
    group.addoption("--target", choices=["virtual", "serial"], default="virtual", help="where the boards are")
    group.addoption("--port", action="append", default=[],
                    help="a board's serial port (serial target; repeat for more boards)")
    group.addoption("--rig-i2c", default=None,
                    help="the rig's I2C adapter (serial target): 'ft232h', 'mcp2221', or 'vboard' to act on "
                         "vboards behind the ports through their control channels")
    group.addoption("--soak", action="store_true", default=False,
                    help="run the soaks (hil_tests/soak: minutes each; `make hil-soak`)")


def pytest_configure(config):
    config.addinivalue_line("markers", "soak: a long run, only with --soak")
    config.addinivalue_line("markers", "on_every_broker: a fleet test of the cluster's acceptance: it runs on the "
                                       "RabbitMQ cluster bed too (make test-cluster); the others on Mosquitto only")
    for cap, what in CAPABILITIES.items():
        config.addinivalue_line("markers", f"{marker(cap)}: the rig must {what}")


def _rig_class(config):
    if config.getoption("--target") == "serial":
        from hil_tests.rig.serial import SerialRig
        return SerialRig
    from hil_tests.rig.virtual import VirtualRig
    return VirtualRig


# First, so the groups are on the items before xdist names them (`--dist loadgroup`).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    _fleet_tests_on_their_brokers(config, items)
    if config.pluginmanager.hasplugin("xdist"):   # the serial bench runs without it (-p no:xdist)
        _one_worker_per_shared_fixture(items)
    rig = _rig_class(config)
    has = rig.capabilities_for(config.getoption("--rig-i2c")) if hasattr(rig, "capabilities_for") \
        else rig.capabilities
    soak = pytest.mark.skip(reason="a soak: run it with `make hil-soak` (--soak)")
    for item in items:
        if "soak" in item.keywords and not config.getoption("--soak"):
            item.add_marker(soak)
        needs = [m.name[len("needs_"):] for m in item.iter_markers() if m.name.startswith("needs_")]
        missing = unmet(needs, has)
        if missing:
            item.add_marker(pytest.mark.skip(reason=reason(rig.target, missing)))


def _fleet_tests_on_their_brokers(config, items):
    """The fleet bed's tests on Mosquitto; on the cluster bed, only those marked on_every_broker."""
    off = [i for i in items if getattr(i, "callspec", None) and i.callspec.params.get("bed") == "rabbitmq-cluster"
           and i.get_closest_marker("on_every_broker") is None]
    if off:
        config.hook.pytest_deselected(items=off)
        items[:] = [i for i in items if i not in off]


def _one_worker_per_shared_fixture(items):
    """Under pytest-xdist (`--dist loadgroup`), the tests that share a session-
    scoped fixture (the simulated district, say) run on one worker, whatever
    module they are in, and so do the tests of a module that share a module-
    scoped one: every worker would otherwise build its own copy."""
    for item in items:
        defs = getattr(item, "_fixtureinfo", None)
        if not defs:
            continue
        shared = [d[-1] for d in defs.name2fixturedefs.values() if d[-1].baseid]
        session = sorted(d.argname for d in shared if d.scope == "session")
        if session:   # one group per instance of a parametrised one (a bed per broker)
            params = getattr(item, "callspec", None)
            # no "]" in a group name: xdist takes what follows "@" for the group only after the id's last "]"
            instance = f":{params.params[session[0]]}" if params and session[0] in params.params else ""
            item.add_marker(pytest.mark.xdist_group("session:" + session[0] + instance))
        elif any(d.scope in ("module", "package") for d in shared):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.fixture
def rig(request, tmp_path):
    config = request.config
    if config.getoption("--target") == "serial":
        from hil_tests.rig.serial import SerialRig
        r = SerialRig(config.getoption("--port"), config.getoption("--rig-i2c"), tmp_path)
    else:
        from hil_tests.rig.virtual import VirtualRig
        r = VirtualRig(tmp_path / "home")
    yield r
    r.stop()


@pytest.fixture
def broker(tmp_path):
    """A Mosquitto of the test's own (anonymous, persistent), its traffic recorded."""
    with running_broker(tmp_path / "broker") as b:
        yield b


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call" or (rep.when == "setup" and rep.failed):
        mqtt = traffic.take()
        if rep.failed:
            bed = item.funcargs.get("bed")   # a fleet test: its bed's vboards are the boards to show
            rig = item.funcargs.get("rig") or (getattr(bed, "rig", None) if bed is not None else None)
            sections = [(f"Captured stdout: console of {name}", printable(text) or "(nothing printed)\n")
                        for name, text in (rig.console_logs() if rig else {}).items()]
            sections.append(("Captured stdout: MQTT traffic", (mqtt or "(no broker recorded)") + "\n"))
            rep.sections += sections
            item.stash[_FAILURE_SECTIONS] = sections
    elif rep.when == "teardown":
        # the JUnit XML takes a test's "Captured stdout" from its teardown report, as one text: titled here
        rep.sections += [(name, f"----- {name.split(': ', 1)[1]} -----\n{text}")
                         for name, text in item.stash.get(_FAILURE_SECTIONS, [])]
    return rep


_FAILURE_SECTIONS = pytest.StashKey[list]()


def printable(text: str) -> str:
    """A console log a person can read: the raw REPL's control bytes shown, not obeyed,
    and a run of one counted (a file transfer's hundreds of <01>), so every board's
    console still fits in a CI excerpt."""
    def shown(run: re.Match) -> str:
        ch, n = run.group(1), len(run.group(0))
        if ch.isprintable() or ch in "\n\t":
            return run.group(0)
        if ch == "\r":
            return ""
        return f"<{ord(ch):02x}>x{n}" if n > 3 else f"<{ord(ch):02x}>" * n
    return re.sub(r"(.)\1*", shown, text, flags=re.DOTALL)


# The fleet acceptance bed (2,000 simulated lamps and 5 vboards on one broker):
# defined once here so every test module shares the one session instance.
from hil_tests.fleet_bed import bed, collecting, running_collector  # noqa: E402,F401
