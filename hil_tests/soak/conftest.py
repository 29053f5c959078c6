"""The soak runs only when asked (`make hil-soak`): it takes minutes."""
import pytest


def pytest_addoption(parser):
    parser.addoption("--soak", action="store_true", default=False, help="run the compressed-time soak")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--soak"):
        return
    skip = pytest.mark.skip(reason="a soak: run it with `make hil-soak` (--soak)")
    for item in items:
        if "soak" in str(item.fspath):
            item.add_marker(skip)
