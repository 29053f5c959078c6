"""The fleet's MQTT broker: a real Mosquitto, configured and started by us."""
