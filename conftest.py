"""For every test: fleet accounts' passwords go to a private secrets file, never the user's own."""
import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_secrets_file(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("PILOTLIGHT_SECRETS", str(tmp_path_factory.mktemp("secrets") / "secrets.json"))
    mp.delenv("PILOTLIGHT_MQTT_PASSWORD", raising=False)
    yield
    mp.undo()


def pytest_sessionfinish(session):
    """The fleet tests' shared RabbitMQ cluster goes down with the session (beam, epmd, auth service)."""
    import sys
    bed = sys.modules.get("hil_tests.fleet_bed")
    if bed is not None:
        bed.RabbitClusterBed.stop_shared()
