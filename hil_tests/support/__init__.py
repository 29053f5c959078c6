"""What the HIL tests (and the benches) share: the broker, the fleet-side
observers, lamp configs and the lamp's duty curve, firmware deployment, and
the MQTT traffic each test records for its failure report. Test modules import
from here, never from each other."""
