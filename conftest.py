"""For every test: fleet accounts' passwords go to a private secrets file, never the user's own."""
import os
import tempfile
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_secrets_file(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("PILOTLIGHT_SECRETS", str(tmp_path_factory.mktemp("secrets") / "secrets.json"))
    mp.delenv("PILOTLIGHT_MQTT_PASSWORD", raising=False)
    yield
    mp.undo()


def pytest_sessionfinish(session):
    """The session's shared RabbitMQ cluster goes down with it (beam, epmd, auth service): in the
    session's own process, after every xdist worker is done (workers leave it running)."""
    state = Path(tempfile.gettempdir()) / f"pilotlight-rabbit-{os.getpid()}.json"   # see fleet_bed.py
    if not os.environ.get("PYTEST_XDIST_WORKER") and state.exists():
        from hil_tests.fleet_bed import RabbitClusterBed
        RabbitClusterBed.stop_shared()
