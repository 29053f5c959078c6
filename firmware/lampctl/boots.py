# The board's boot number: one more at every start of the app, kept on flash
# (one small atomic write per boot). Every uplink carries it beside `seq`, which
# restarts at 1 each boot, so (boot, seq) names one record for good: a record
# sent again after a reboot (the outbox's head, docs/protocol.md) is known as
# the same one, and one of a new boot is not mistaken for an old one.
from lampctl import store

PATH = "boot"


def next_boot():
    """This boot's number (1 on a fresh flash). A counter that cannot be read
    starts again at 1; one that cannot be written repeats, both reported by
    the fleet as a new boot anyway (the `boot` event)."""
    try:
        n = int(store.read_text(PATH) or 0) + 1
    except ValueError:
        n = 1
    try:
        store.write_atomic(PATH, str(n))
    except OSError:
        pass
    return n
