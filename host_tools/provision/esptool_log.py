"""esptool's log, routed per thread: every board flashes in a thread of its own, and
esptool has one global logger. Its progress goes to that board's bar; its chatter
is dropped (our table and bars say what happened)."""
from __future__ import annotations

import threading
from typing import Callable

from esptool.logger import TemplateLogger, log

_routes: dict[int, Callable[[str, float], None]] = {}
_lock = threading.Lock()


class _Router(TemplateLogger):
    def print(self, *args, **kwargs):
        pass

    def note(self, message):
        pass

    def warning(self, message):
        pass

    def error(self, message):
        pass

    def stage(self, finish=False):
        pass

    def set_verbosity(self, verbosity):
        pass

    def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30):
        route = _routes.get(threading.get_ident())
        if route and total_iters:
            route(prefix.strip(), cur_iter / total_iters)


_installed = False


def route(callback: Callable[[str, float], None]):
    """Send this thread's esptool progress (what, fraction) to `callback` while the context lasts."""
    global _installed
    with _lock:
        if not _installed:
            log.set_logger(_Router())
            _installed = True

    class _Ctx:
        def __enter__(self):
            _routes[threading.get_ident()] = callback

        def __exit__(self, *exc):
            _routes.pop(threading.get_ident(), None)
    return _Ctx()
