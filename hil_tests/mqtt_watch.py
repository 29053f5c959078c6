"""The fleet-side MQTT observer the HIL tests use is the tools' own."""
from host_tools.fleet.watch import Watch

__all__ = ["Watch"]
