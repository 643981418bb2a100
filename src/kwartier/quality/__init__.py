"""Quality indicators the regulator follows (seed 000 §4.1.2 and §6.2.4)."""
