"""Region simulator: a deterministic region of meters, their data and their faults."""
