"""The district simulator: protocol-level lamps, thousands per process, that
answer like boards because they run the firmware's own pure modules."""
