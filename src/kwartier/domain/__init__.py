"""Domain rules: pure functions with no I/O (EAN, the time grid, channels and tariff periods, energy)."""
