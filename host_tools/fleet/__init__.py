"""Fleet operations from the host: watching and commanding lamps over MQTT."""
