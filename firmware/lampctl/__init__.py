# Pilotlight lamp controller firmware.
VERSION = "0.1.0"


class ConfigError(ValueError):
    """A config, board type or setting that is wrong, naming the field. Here,
    not in the validators, because those leave the heap after each check (drop)
    and a class loaded again would no longer match an `except` holding the old one."""


def drop(*names):
    """Forget modules of this package loaded for one job (a config's or a
    program's validation): nothing else holds them, so their code leaves the
    heap at the next collection (docs/vboard.md, footprint)."""
    import sys
    if sys.implementation.name != "micropython":
        return   # the host's tools share these modules between threads (parallel provisioning)
    for name in names:
        sys.modules.pop(__name__ + "." + name, None)
        globals().pop(name, None)
