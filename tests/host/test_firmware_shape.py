"""The firmware's shape, read from its source: the controller is reached only
through its API (nothing outside control.py touches its arbiter or its
persisted state), firmware/ has no import circle, and every sensor driver is
in the one registry of sensor kinds."""
import ast
from pathlib import Path

from host_tools.paths import FIRMWARE, firmware_module

PACKAGE = FIRMWARE / "lampctl"
CONTROLLER_PARTS = ("arbiter", "state")


def _modules() -> dict[str, Path]:
    """Module name -> file, for every firmware module (boot.py and main.py included)."""
    out = {}
    for path in sorted(FIRMWARE.rglob("*.py")):
        rel = path.relative_to(FIRMWARE).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: dict) -> set[str]:
    """The firmware modules `name` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m in known and m != name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of the graph, or None."""
    done: set[str] = set()

    def visit(node, path):
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        for nxt in sorted(graph[node]):
            found = visit(nxt, path + [node])
            if found:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [])
        if found:
            return found
    return None


def test_firmware_has_no_import_circle():
    known = _modules()
    graph = {name: _imports(name, path, known) for name, path in known.items()}
    assert graph["lampctl.early"], "the import graph is empty: the check reads nothing"
    circle = _cycle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle)


def test_the_cycle_check_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _controller_access(tree) -> list[str]:
    """`x.arbiter` / `x.state` where x is a controller (ctl, self.ctl, controller)."""
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in CONTROLLER_PARTS:
            base = ast.unparse(node.value)
            if node.attr == "arbiter" or base.split(".")[-1] in ("ctl", "controller"):
                hits.append(f"line {node.lineno}: {base}.{node.attr}")
    return hits


def test_no_module_outside_the_controller_touches_its_arbiter_or_state():
    offenders = {}
    for name, path in _modules().items():
        if name in ("lampctl.control", "lampctl.arbiter"):
            continue
        hits = _controller_access(ast.parse(path.read_text()))
        if hits:
            offenders[name] = hits
    assert not offenders, f"reaching into the controller: {offenders}"


def test_the_access_check_sees_a_reach_into_the_controller():
    src = "ctl.arbiter.clear_override()\nself.ctl.state.program = 'x'\nuplink.state()\n"
    assert sorted(_controller_access(ast.parse(src))) == ["line 1: ctl.arbiter", "line 2: self.ctl.state"]


def test_every_driver_is_in_the_sensor_registry_and_every_light_sensor_gets_the_failsafe():
    kinds = firmware_module("sensor_kinds")
    drivers = {p.stem for p in (PACKAGE / "drivers").glob("*.py") if p.stem != "__init__"}
    registered = {module for _role, module, _cls in kinds.KINDS.values()}
    assert drivers == registered, f"drivers without a registry entry: {drivers - registered}, " \
                                  f"entries without a driver: {registered - drivers}"
    for kind, (role, module, cls) in kinds.KINDS.items():
        driver = getattr(firmware_module(f"drivers.{module}"), cls)
        assert driver.KIND == kind
        assert kinds.light_fitted([{"kind": kind}]) is (role == kinds.LIGHT)
    light = [k for k, v in kinds.KINDS.items() if v[0] == kinds.LIGHT]
    assert light, "no light sensor kind: the failsafe could never follow the daylight"
