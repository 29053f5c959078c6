"""Reports for the people who decide: energy, operations and the scale-up case,
from the history the fleet collector keeps (history.py)."""
