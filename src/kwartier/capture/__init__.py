"""Capture: reading meter data from head-end exports, customer exports and P1 telegrams."""
