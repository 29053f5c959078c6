"""Signed app releases for over-the-air updates (docs/ota.md)."""
