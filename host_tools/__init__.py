"""Pilotlight host tools: the `pilotlight` command."""
